# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Inventory plugin: one declarative file describing a Fornax tree of clusters."""

from __future__ import annotations

DOCUMENTATION = r"""
name: hierarchy
short_description: A Fornax hierarchy (a tree of Kubernetes clusters) from one declarative file
version_added: "0.1.0"
author:
  - centaurus.fornax contributors (@centaurus-fornax)
description:
  - Reads one file describing a tree of clusters of any depth (the cloud cluster at the root,
    edge clusters below it) with their hosts, labels, Kubernetes distribution, API endpoints,
    pod and service CIDRs, gateways and VPCs. See C(docs/hierarchy.md) in the collection for
    the full file format.
  - Creates the groups C(control_plane), C(gateways), C(edge_nodes) (hosts by role),
    C(tier_0), C(tier_1), ... (the hosts of the clusters at each depth),
    C(cluster_<name>) (the hosts of one cluster) and C(subtree_<name>) (a cluster and every
    cluster below it). A C(-) in a cluster name becomes C(_) in group names.
  - Sets the variables of C(docs/hostvars-contract.md) (C(fornax_cluster), C(fornax_parent),
    C(fornax_path), C(fornax_tier), C(fornax_children), C(fornax_api_endpoint), ...). The
    per-cluster ones are group vars of C(cluster_<name>).
  - Pod/service CIDRs and VPC VNIs left out are allocated from pools, deterministically (the
    same file gives the same result; adding a cluster does not renumber the others, see
    C(docs/hierarchy.md) for the exact guarantee).
  - The file is checked before anything is added to the inventory. Cycles, two parents,
    duplicate or unknown names, names that are not DNS-1123 labels, overlapping CIDRs, VNI
    clashes, VPCs spanning clusters whose gateway has no WAN address and bad field values
    fail the parse with the file, the entry and the reason.
  - What site.yml needs beyond a valid file (one control-plane host per cluster, gateway hosts
    with interfaces, addresses, the dividers C(vpcs[].clusters[].divider) and the peers'
    C(gateway.wanMac)) is exported as C(fornax_rollout_problems); C(fornax_gateway) carries
    the gateway role's C(peer_macs) and C(dividers).
  - Clusters and C(defaults) may set C(missionPolicy), the rights a cluster grants Missions
    (C(resources), C(extraResources), C(namespaces), C(podSecurity)), inherited field by
    field; each cluster's resulting grant is the variable C(fornax_mission_policy), unset
    where it is the default grant (the roles read it as C(fornax_mission_policy | default(none))).
  - The tree is bounded; at most 16 tiers (exported as C(fornax_max_tiers), the tree's own
    depth as C(fornax_tiers)) and 100,000 clusters. A host C(address) must be an IP address or
    a DNS name.
  - The file is read with a fast, hardened YAML (libyaml) or JSON parser rather than
    Ansible's, so a tree of 10,000 clusters loads in seconds, not minutes. Size, nesting and
    YAML aliases are bounded (an alias bomb fails at once, naming the line). The YAML tags
    C(!vault) and C(!unsafe) are supported for values; other tags are not.
  - Constructed inventory options work as in the C(constructed) plugin, on top of the
    hierarchy's own groups and variables; C(compose) makes variables from Jinja2
    expressions, C(groups) adds hosts to groups by conditions, C(keyed_groups) makes groups
    from variable values (for example C(fornax_tier) or C(fornax_cluster_labels)).
  - A broken file stops C(ansible-inventory) and C(ansible-playbook) with one error naming
    the file and the line (YAML) or the entry (hierarchy rules) and a non-zero exit code,
    whatever C(any_unparsed_is_failed) says; a file that does not name this plugin is left
    to the other inventory plugins.
  - For large trees add C(centaurus.fornax.hierarchy) to C(enable_plugins) in the
    C([inventory]) section of C(ansible.cfg), before C(auto). The C(auto) plugin otherwise
    reads the whole file once more, with the slower Ansible YAML loader, just to find the
    C(plugin) key.
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: The name of this plugin; it makes the file a source for it.
    required: true
    type: str
    choices: [centaurus.fornax.hierarchy]
notes:
  - Accepted file names end in C(.yml), C(.yaml) or C(.json).
  - C(compose), C(groups) and C(keyed_groups) see every variable of a host, the hierarchy's
    group variables included (they are evaluated once the whole tree is in the inventory).
"""

EXAMPLES = r"""
# inventory/fornax.yml -- a cloud cluster with two edge clusters, one VPC across two of them
plugin: centaurus.fornax.hierarchy
defaults:
  kubeDistro: k8s
  hostVars:
    ansible_user: debian
  gateway:
    lanInterface: eth0
    wanInterface: eth1
clusters:
  - name: cloud
    hosts:
      - {name: cloud-cp-1, roles: [control_plane], address: 198.18.0.10}
      - {name: cloud-gw-1, roles: [gateway], address: 198.18.0.2}
    gateway: {wanAddress: 192.0.2.1, wanMac: "02:00:c0:00:02:01"}
    children:
      - name: edge-west
        kubeDistro: k3s
        labels: {region: west}
        hosts:
          - {name: west-cp-1, roles: [control_plane, edge_node], address: 198.18.1.10}
          - {name: west-gw-1, roles: [gateway], address: 198.18.1.2}
        gateway: {wanAddress: 192.0.2.2, wanMac: "02:00:c0:00:02:02"}
  - name: edge-east          # flat form: names its parent instead of being nested
    parent: cloud
    apiEndpoint: https://198.18.2.10:6443   # bring your own cluster: no hosts managed
vpcs:
  - name: vpc-blue
    vni: 1001
    clusters:
      - cluster: cloud
        subnets: [10.200.0.0/24]
        divider: {address: 198.18.0.3, mac: "02:00:c6:12:00:03"}
      - cluster: edge-west
        subnets: [10.200.1.0/24]
        vni: 2001
        divider: {address: 198.18.1.3, mac: "02:00:c6:12:01:03"}

# ansible-inventory -i inventory/fornax.yml --graph
# ansible-playbook -i inventory/fornax.yml site.yml --limit subtree_edge_west

---
# A cluster that lets Missions create RBAC objects, with pods at the restricted level, and
# groups made from the hierarchy's variables
plugin: centaurus.fornax.hierarchy
defaults:
  missionPolicy:
    podSecurity: restricted
clusters:
  - name: cloud
    missionPolicy:
      extraResources: [roles.rbac.authorization.k8s.io, rolebindings.rbac.authorization.k8s.io]
    hosts:
      - {name: cloud-cp-1, roles: [control_plane], address: cloud-cp-1.example.com}
keyed_groups:
  - key: fornax_kube_distro      # k8s_clusters, k3s_clusters, ...
    prefix: distro
compose:
  ansible_user: "'debian' if fornax_tier > 0 else 'admin'"
groups:
  leaves: fornax_children | length == 0
"""

import copy
import gc
import json
import re
from collections.abc import Callable
from typing import Any, Optional

import yaml
from ansible import context
from ansible.constants import LOCALHOST
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.group import Group
from ansible.inventory.helpers import get_group_vars
from ansible.inventory.host import Host
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.path import basedir
from ansible.utils.unsafe_proxy import wrap_var
from ansible.utils.vars import combine_vars

from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.errors import (
    HierarchyError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.layout import (
    ClusterLayout,
    InventoryLayout,
    inventory_layout,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.load import (
    load_hierarchy,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.parse import (
    CONSTRUCTED_FIELDS,
    PLUGIN_NAME,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import (
    HIERARCHY_LIMITS,
    STR_TAG,
    YamlLimitError,
    safe_load,
)

try:
    from ansible.parsing.vault import EncryptedString
except ImportError:  # pragma: no cover - ansible-core before 2.19
    EncryptedString = None
try:
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - ansible-core before 2.19: strings are trusted
    trust_as_template = None


FILE_SUFFIXES = (".yml", ".yaml", ".json")
# The file names this plugin: a top-level key in block style, or a key in a flow mapping or
# JSON (a mention in a comment is not a claim). Only then is a broken file ours to judge.
_CLAIM = r"""(?m)(?:^|[{,]\s*)["']?plugin["']?\s*:\s*["']?centaurus\.fornax\.hierarchy\b"""
_CLAIMS_TEXT = re.compile(_CLAIM)
_CLAIMS_BYTES = re.compile(_CLAIM.encode())


class _Unsafe(str):
    """A string the file marked ``!unsafe``: never templated by Ansible."""

    __slots__ = ()


# strings kept as they are when marking or trusting (vault values are no templates either)
_KEPT_STRINGS = tuple(t for t in (_Unsafe, EncryptedString) if isinstance(t, type))


def _marked_unsafe(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _marked_unsafe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_marked_unsafe(item) for item in value]
    if isinstance(value, str) and not isinstance(value, _KEPT_STRINGS):
        return _Unsafe(value)
    return value


_RESOLVER = yaml.resolver.Resolver()
_UNSAFE_SCALARS = frozenset("tag:yaml.org,2002:" + t for t in ("int", "bool", "null"))


class _Reader:
    """Loads one hierarchy file: JSON fast, YAML through the project's hardened loader (with
    Ansible's ``!vault`` and ``!unsafe``); remembers whether ``!unsafe`` was used."""

    def __init__(self) -> None:
        self.unsafe = False

    def load(self, text: str, source: str) -> Any:
        if len(text) > HIERARCHY_LIMITS.max_bytes:
            raise YamlLimitError(
                f"{source}: {len(text)} characters, more than the "
                f"{HIERARCHY_LIMITS.max_bytes} accepted"
            )
        if text.lstrip()[:1] == "{":
            try:
                return json.loads(text)
            except (ValueError, RecursionError):
                pass  # YAML flow mappings look like JSON too; the YAML reader names the line
        tags = {"!vault": self.vault, "!unsafe": self.unsafe_value}
        return safe_load(text, where=source, limits=HIERARCHY_LIMITS, tags=tags)

    @staticmethod
    def vault(builder: Any, node: Any) -> Any:
        if EncryptedString is None or not isinstance(node, yaml.ScalarNode):  # pragma: no cover
            raise yaml.constructor.ConstructorError(
                None, None, "!vault needs ansible-core 2.19+ and a scalar", node.start_mark
            )
        return EncryptedString(ciphertext=str(builder.construct_scalar(node)))

    def unsafe_value(self, builder: Any, node: Any) -> Any:
        self.unsafe = True
        plain = copy.copy(node)
        if isinstance(node, yaml.ScalarNode):
            tag = _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False))
            plain.tag = tag if tag in _UNSAFE_SCALARS else STR_TAG
        else:
            is_map = isinstance(node, yaml.MappingNode)
            plain.tag = "tag:yaml.org,2002:" + ("map" if is_map else "seq")
        return _marked_unsafe(builder.construct_object(plain, deep=True))


def load_document(text: str, source: str = "hierarchy") -> Any:
    """The document of a hierarchy file (JSON fast path for generated trees, else YAML)."""
    return _Reader().load(text, source)


def _has_unsafe(value: Any) -> bool:
    if isinstance(value, _Unsafe):
        return True
    if isinstance(value, dict):
        return any(_has_unsafe(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_unsafe(item) for item in value)
    return False


def _trusted(value: Any) -> Any:
    """``value`` with its strings trusted as templates, except the ``!unsafe`` ones (2.19+:
    for what this plugin sets itself, bypassing the wrapper that would trust every string)."""
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    if isinstance(value, _Unsafe):
        return wrap_var(str(value)) if trust_as_template is None else str(value)
    if trust_as_template is not None and isinstance(value, str):
        return value if isinstance(value, _KEPT_STRINGS) else trust_as_template(value)
    return value


class _Objects:
    """Sets the values the plugin computes straight on Ansible's ``Group`` and ``Host``
    objects, and joins hosts to groups through ``Group.add_host``.

    ``InventoryData.set_variable`` re-checks every name and untags it, looks the object up
    and formats a debug line, per variable: for a tree of 10,000 clusters that is most of the
    parse. Here the names are the contract's constants and the values are checked by the
    hierarchy already, so they are stored as they are, unless the object holds the name
    already (another source): then Ansible's own ``set_variable`` merges as usual. Under
    ``ansible-inventory`` and ``ansible-playbook`` (2.19+), where a wrapper would trust every
    string of a plugin that is trusted by default, strings are trusted here instead, once per
    distinct string (the tree repeats names, endpoints and distributions).
    """

    def __init__(self, inventory: Any, unsafe: bool) -> None:
        self.data = getattr(inventory, "__wrapped__", inventory)
        self.trusting = self.data is not inventory and trust_as_template is not None
        self.walking = self.trusting or unsafe  # values marked !unsafe are made plain
        self.trusted: dict[str, str] = {}
        self.created: list[Any] = []  # the hosts this source added

    def value(self, value: Any) -> Any:
        if not self.walking:
            return value
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return self.string(value) if isinstance(value, str) else value

    def string(self, value: str) -> str:
        if isinstance(value, _Unsafe):
            return wrap_var(str(value)) if trust_as_template is None else str(value)
        if isinstance(value, _KEPT_STRINGS) or not self.trusting:
            return value
        found = self.trusted.get(value)
        if found is None:
            found = self.trusted[value] = trust_as_template(value)
        return found

    def set(self, entity: Any, values: dict[str, Any]) -> None:
        if not values:
            return
        if entity.vars.keys().isdisjoint(values):
            if self.walking:
                values = {name: self.value(value) for name, value in values.items()}
            entity.vars.update(values)
            return
        for name, value in values.items():
            entity.set_variable(name, self.value(value))

    def set_created(self, values: dict[str, Any]) -> None:
        """``values`` on every host this source added, as ``add_host`` sets them (plain)."""
        for host in self.created:
            host.vars.update(values)


def _links_supported() -> bool:
    """Whether Ansible's Group and Host have the attributes ``_Links`` fills in."""
    group, host = Group("fornax_probe"), Host("fornax-probe", gen_uuid=False)
    wanted = ("child_groups", "parent_groups", "hosts", "depth", "host_names")
    return all(hasattr(group, name) for name in wanted) and isinstance(host.groups, list)


class _Links:
    """Puts groups and hosts into the inventory, linking the ones this source creates on
    Ansible's objects directly.

    ``add_child`` and ``Group.add_host`` walk a group's ancestors two or three times per call
    to keep each host's list of groups whole and every cached member list fresh: for a tree of
    10,000 clusters, 200,000 walks. A group this source creates has one parent, known when it
    is created, and its ancestors are its parent's and the parent (``lineage``); a host it
    creates belongs to its groups and their ancestors. Those lists are filled in once, as
    Ansible would fill them, and each group that existed before (another source's, or
    ``all``) has its cached member list dropped once at the end. A group or host that exists
    already (another source named it too), a localhost name, or an Ansible whose objects look
    different take Ansible's own ``add_group``/``add_child``/``add_host``.
    """

    fast = None  # decided once per process

    def __init__(self, data: Any) -> None:
        if _Links.fast is None:
            _Links.fast = _links_supported()
        self.data = data
        self.lineage: dict[str, list[Any]] = {}  # group -> its ancestors, then itself
        self.before: set[str] = set(data.groups)  # groups that existed before this source
        self.by_names: dict[tuple[str, ...], list[Any]] = {}

    def top_group(self, name: str) -> None:
        self.data.add_group(name)
        self.data.add_child("all", name)
        self.before.add(name)

    def line(self, group: Any) -> list[Any]:
        """``group``'s ancestors, then ``group``. Remembered: the tree is linked top-down, so
        a group's ancestors are all linked before it is, and it is linked before it is used."""
        found = self.lineage.get(group.name)
        if found is None:
            found = self.lineage[group.name] = [*group.get_ancestors(), group]
        return found

    def group(self, name: str, parent: Optional[str]) -> Any:
        """The group ``name``, a child of ``parent`` (None: it is linked already)."""
        data = self.data
        if self.fast and parent is not None and name not in data.groups:
            group = Group(name)
            if group.name == name:  # Ansible would not rename it
                above = data.groups[parent]
                data.groups[name] = group
                group.depth = above.depth + 1
                above.child_groups.append(group)
                group.parent_groups.append(above)
                self.lineage[name] = [*self.line(above), group]
                return group
        name = data.add_group(name)
        if parent is not None:
            data.add_child(parent, name)
        self.before.add(name)
        return data.groups[name]

    def named(self, names: tuple[str, ...]) -> list[Any]:
        """The groups of ``names`` (remembered: hosts share a few sets of role groups)."""
        found = self.by_names.get(names)
        if found is None:
            found = self.by_names[names] = [self.data.groups[name] for name in names]
        return found

    def host(self, name: str, groups: list[Any]) -> tuple[Any, bool]:
        """The host ``name`` in ``groups`` (and their ancestors); True when created."""
        data = self.data
        if not self.fast or name in data.hosts or name in LOCALHOST:
            created = name not in data.hosts
            data.add_host(name, group=groups[0].name)
            host = data.hosts[name]
            for group in groups[1:]:
                group.add_host(host)
            return host, created
        host = Host(name)
        data.hosts[host.name] = host
        member_of, joined = self.plan(groups)
        host.groups.extend(member_of)
        for group in joined:
            group.hosts.append(host)
            group.host_names.add(host.name)
        return host, True

    def plan(self, groups: list[Any]) -> tuple[list[Any], list[Any]]:
        """The groups of a host that joins ``groups``: with their ancestors, and without (a
        group that is an ancestor of one before it is not joined again)."""
        member_of = list(self.line(groups[0]))  # a line holds no group twice
        joined = [groups[0]]
        seen = set(member_of)
        for group in groups[1:]:
            for above in self.line(group):
                if above not in seen:
                    seen.add(above)
                    member_of.append(above)
                    if above is group:  # the last of its line
                        joined.append(group)
        return member_of, joined

    def done(self) -> None:
        """Drop the cached member lists this source made stale (created groups have none)."""
        groups = self.data.groups
        for name in self.before:
            if name in groups:
                groups[name].clear_hosts_cache()
        # add_child drops InventoryData's cached groups dict (a link that exists is kept)
        self.data.add_child("all", "ungrouped")


class _Broken(Exception):
    """The file names this plugin and is not a valid hierarchy: the message says why."""


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = PLUGIN_NAME
    # The file is the operator's own, like a YAML inventory: its values may hold templates.
    # (Untrusted strings would also show up as {"__ansible_unsafe": ...} in --list output.)
    # Computed values cannot contain template syntax: names, CIDRs, addresses are validated.
    # Values marked !unsafe are set past that default (see _setter).
    trusted_by_default = True

    def verify_file(self, path: str) -> bool:
        if not super().verify_file(path) or not str(path).endswith(FILE_SUFFIXES):
            return False
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError:
            return False
        # vault-encrypted files cannot be peeked at: parse() decides for them
        return bool(_CLAIMS_BYTES.search(content)) or content.startswith(b"$ANSIBLE_VAULT")

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        # A large tree creates a million objects that live until the parse ends; the cyclic
        # collector would rescan them again and again (about 20 % of the time). The model's
        # cycles (the cluster tree's parent links) are broken when it is no longer read.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.parse_hierarchy(loader, str(path))
        except _Broken as exc:
            self.fail(str(exc))
        finally:
            if collecting:
                gc.enable()

    def fail(self, message: str) -> None:
        """Stop on a broken hierarchy file.

        Ansible treats an inventory source that fails to parse as a warning unless
        ``any_unparsed_is_failed`` is set, repeats the error for every plugin that tries the
        file, and runs the playbook without the tree. A file that names this plugin is this
        plugin's to judge: on a command line the error is shown once and the command exits
        non-zero; called as a library, the plugin raises AnsibleParserError as usual.
        """
        if context.CLIARGS:
            self.display.error(message)
            raise SystemExit(1)
        raise AnsibleParserError(message)

    def parse_hierarchy(self, loader: Any, source: str) -> None:
        try:
            text = str(loader.get_text_file_contents(source))
        except (AnsibleError, OSError) as exc:
            if verify_claim(source):
                raise _Broken(f"{source}: cannot read the hierarchy: {exc}") from exc
            raise AnsibleParserError(f"{source}: cannot read the file: {exc}") from exc
        if not _CLAIMS_TEXT.search(text):
            raise AnsibleParserError(f"{source}: does not say 'plugin: {PLUGIN_NAME}'")
        reader = _Reader()
        try:
            data = reader.load(text, source)
        except YamlLimitError as exc:
            raise _Broken(f"cannot read the hierarchy: {exc}") from exc
        try:
            hierarchy = load_hierarchy(data, source=source)
        except HierarchyError as exc:
            locate(exc.problems, text)
            raise _Broken(exc.render()) from exc
        try:
            options = {key: data[key] for key in CONSTRUCTED_FIELDS if key in data}
            self.set_options(direct={"plugin": PLUGIN_NAME, **_trusted(options)})
            set_variable = self.setter(reader.unsafe)
            self.populate(inventory_layout(hierarchy), set_variable, reader.unsafe)
            self.construct(hierarchy, set_variable)
        except AnsibleError as exc:
            raise _Broken(f"{source}: {exc}") from exc
        finally:
            hierarchy.release()

    def setter(self, unsafe: bool) -> Callable[[str, str, Any], None]:
        """``inventory.set_variable``, or, when the file used ``!unsafe``, one that keeps the
        marked strings from being trusted as templates."""
        set_variable = self.inventory.set_variable
        if not unsafe:
            return set_variable
        # Ansible 2.19 wraps the inventory so that a plugin trusted by default gets all its
        # strings trusted; a value with !unsafe parts goes past the wrapper, tagged here.
        direct = getattr(self.inventory, "__wrapped__", self.inventory).set_variable

        def set_checked(entity: str, name: str, value: Any) -> None:
            if _has_unsafe(value):
                direct(entity, name, _trusted(value))
            else:
                set_variable(entity, name, value)

        return set_checked

    def populate(
        self,
        layout: InventoryLayout,
        set_variable: Callable[[str, str, Any], None],
        unsafe: bool = False,
    ) -> None:
        """Replay the layout into the inventory.

        Groups and hosts this source creates are linked on Ansible's objects directly
        (``_Links``); the values the plugin computes go straight onto them (``_Objects``); the
        file's own ``hostVars`` and host ``vars`` take Ansible's ordinary path.
        """
        objects = _Objects(self.inventory, unsafe)
        data = objects.data
        links = _Links(data)
        for group in layout.top_groups:
            links.top_group(group)
        for group, values in layout.top_group_vars.items():
            objects.set(data.groups[group], values)
        source = data.current_source
        data.current_source = None  # add_host would work out the same directory per host
        try:
            for cluster in layout.clusters:
                self.populate_cluster(objects, links, cluster, set_variable)
        finally:
            data.current_source = source
            links.done()
        if source:
            objects.set_created({"inventory_file": source, "inventory_dir": basedir(source)})

    @staticmethod
    def populate_cluster(
        objects: _Objects,
        links: _Links,
        cluster: ClusterLayout,
        set_variable: Callable[[str, str, Any], None],
    ) -> None:
        """One cluster: its two groups under their parents, their variables, its hosts."""
        subtree = links.group(cluster.subtree, cluster.parent_subtree)
        group = links.group(cluster.group, subtree.name)
        for name, value in cluster.subtree_vars.items():
            set_variable(subtree.name, name, value)
        objects.set(subtree, cluster.subtree_computed)
        objects.set(group, cluster.vars)
        tier = links.data.groups[cluster.tier_group]
        for layout in cluster.hosts:
            host, created = links.host(layout.name, [group, tier, *links.named(layout.role_groups)])
            if created:
                objects.created.append(host)
            objects.set(host, layout.vars)
            for name, value in layout.user_vars.items():
                set_variable(host.name, name, value)
            objects.set(host, layout.roles_vars)

    def construct(self, hierarchy: Any, set_variable: Callable[[str, str, Any], None]) -> None:
        """compose, groups and keyed_groups, over each host's variables (group vars included)."""
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed_groups = self.get_option("keyed_groups")
        if not (compose or groups or keyed_groups):
            return
        strict = self.get_option("strict")
        for cluster in hierarchy.clusters.values():
            for declared in cluster.hosts:
                host = self.inventory.get_host(declared.name)
                variables = combine_vars(get_group_vars(host.get_groups()), host.get_vars())
                self._set_composite_vars(compose, variables, declared.name, strict=strict)
                self._add_host_to_composed_groups(groups, variables, declared.name, strict=strict)
                self._add_host_to_keyed_groups(
                    keyed_groups, variables, declared.name, strict=strict
                )


# An entry of a problem: clusters[0] 'a'.children[2] 'b'.hosts[1] 'h', vpcs[0] 'x'.clusters[1]
_ENTRY_STEP = re.compile(r"""\.?([A-Za-z]+)(?:\[(\d+)\])?(?: (?:'[^']*'|"[^"]*"))?""")
_LOCATE_MAX = 16 << 20  # characters: composing the file again costs about what reading it did


def locate(problems: list, text: str) -> None:
    """Set ``line`` on each problem whose entry can be found in the file's YAML node tree
    (done only when the file is broken, so a valid file is read once)."""
    if len(text) > _LOCATE_MAX:
        return
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError):
        return
    for problem in problems:
        node = _entry_node(root, problem.entry)
        if node is not None:
            problem.line = node.start_mark.line + 1


def _entry_node(node: Any, entry: str) -> Any:
    position = 0
    while position < len(entry):
        step = _ENTRY_STEP.match(entry, position)
        if step is None or step.end() == position:
            return None
        position = step.end()
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if k.value == step.group(1)), None)
        if step.group(2) is not None:
            if not isinstance(node, yaml.SequenceNode) or int(step.group(2)) >= len(node.value):
                return None
            node = node.value[int(step.group(2))]
        if node is None:
            return None
    return node


def verify_claim(path: str) -> bool:
    """True when the file at ``path`` names this plugin (read as it is, not decrypted)."""
    try:
        with open(path, "rb") as handle:
            return bool(_CLAIMS_BYTES.search(handle.read()))
    except OSError:
        return False

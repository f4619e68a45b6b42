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
  - The file is read with a fast YAML (libyaml) or JSON parser rather than Ansible's, so a
    tree of 10,000 clusters loads in seconds, not minutes. The YAML tag C(!vault) is
    supported for values; other Ansible YAML tags are not.
  - For large trees add C(centaurus.fornax.hierarchy) to C(enable_plugins) in the
    C([inventory]) section of C(ansible.cfg), before C(auto). The C(auto) plugin otherwise
    reads the whole file once more, with the slower Ansible YAML loader, just to find the
    C(plugin) key.
options:
  plugin:
    description: The name of this plugin; it makes the file a source for it.
    required: true
    type: str
    choices: [centaurus.fornax.hierarchy]
notes:
  - Accepted file names end in C(.yml), C(.yaml) or C(.json).
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
    gateway: {wanAddress: 192.0.2.1}
    children:
      - name: edge-west
        kubeDistro: k3s
        labels: {region: west}
        hosts:
          - {name: west-cp-1, roles: [control_plane, edge_node], address: 198.18.1.10}
          - {name: west-gw-1, roles: [gateway], address: 198.18.1.2}
        gateway: {wanAddress: 192.0.2.2}
  - name: edge-east          # flat form: names its parent instead of being nested
    parent: cloud
    apiEndpoint: https://198.18.2.10:6443   # bring your own cluster: no hosts managed
vpcs:
  - name: vpc-blue
    vni: 1001
    clusters:
      - {cluster: cloud, subnets: [10.200.0.0/24]}
      - {cluster: edge-west, subnets: [10.200.1.0/24], vni: 2001}

# ansible-inventory -i inventory/fornax.yml --graph
# ansible-playbook -i inventory/fornax.yml site.yml --limit subtree_edge_west
"""

import gc
import json
from typing import Any

import yaml
from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.errors import (
    HierarchyError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.layout import (
    InventoryLayout,
    inventory_layout,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.load import (
    load_hierarchy,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.parse import (
    PLUGIN_NAME,
)

try:
    from ansible.parsing.vault import EncryptedString
except ImportError:  # pragma: no cover - ansible-core before 2.19
    EncryptedString = None


FILE_SUFFIXES = (".yml", ".yaml", ".json")

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _HierarchyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Safe YAML (libyaml when available) plus Ansible's ``!vault`` tag for secret values."""


def _construct_vault(loader: Any, node: Any) -> Any:
    ciphertext = str(loader.construct_scalar(node))
    if EncryptedString is None:  # pragma: no cover
        raise yaml.constructor.ConstructorError(None, None, "!vault needs ansible-core 2.19+")
    return EncryptedString(ciphertext=ciphertext)


_HierarchyLoader.add_constructor("!vault", _construct_vault)


def load_document(text: str) -> Any:
    """JSON when the text is a JSON object (fast path for generated trees), else YAML."""
    if text.lstrip()[:1] == "{":
        try:
            return json.loads(text)
        except ValueError:
            pass  # YAML flow mappings look like JSON too
    return yaml.load(text, Loader=_HierarchyLoader)  # a safe loader subclass


class InventoryModule(BaseInventoryPlugin):
    NAME = PLUGIN_NAME
    # The file is the operator's own, like a YAML inventory: its values may hold templates.
    # (Untrusted strings would also show up as {"__ansible_unsafe": ...} in --list output.)
    # Computed values cannot contain template syntax: names, CIDRs, addresses are validated.
    trusted_by_default = True

    def verify_file(self, path: str) -> bool:
        if not super().verify_file(path) or not str(path).endswith(FILE_SUFFIXES):
            return False
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError:
            return False
        # the plugin key may come anywhere in the mapping; vault-encrypted files cannot be
        # peeked at, parse() decides for them
        return PLUGIN_NAME.encode() in content or content.startswith(b"$ANSIBLE_VAULT")

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        # A large tree creates a million objects that live until the parse ends; the cyclic
        # collector would rescan them again and again (about 20 % of the time). The few
        # cycles (the cluster tree's parent links) are collected once it is enabled again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.parse_hierarchy(loader, str(path))
        finally:
            if collecting:
                gc.enable()

    def parse_hierarchy(self, loader: Any, source: str) -> None:
        try:
            text = str(loader.get_text_file_contents(source))
            data = load_document(text)
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise AnsibleParserError(f"{source}: cannot read the hierarchy: {exc}") from exc
        try:
            hierarchy = load_hierarchy(data, source=source)
        except HierarchyError as exc:
            raise AnsibleParserError(str(exc)) from exc
        self.populate(inventory_layout(hierarchy))

    def populate(self, layout: InventoryLayout) -> None:
        """Replay the layout into the inventory.

        Order matters for speed: Ansible walks a group's ancestors whenever a host joins it, so
        hosts join their cluster group before that group is linked into the subtree chain
        (one walk per cluster instead of two per host).
        """
        inventory = self.inventory
        add_group, add_child = inventory.add_group, inventory.add_child
        add_host, set_variable = inventory.add_host, inventory.set_variable
        for group in layout.top_groups:
            add_group(group)
            add_child("all", group)
        for group, values in layout.top_group_vars.items():
            for name, value in values.items():
                set_variable(group, name, value)
        for cluster in layout.clusters:
            subtree, group, tier = cluster.subtree, cluster.group, cluster.tier_group
            add_group(subtree)
            add_group(group)
            if cluster.parent_subtree is not None:
                add_child(cluster.parent_subtree, subtree)
            for name, value in cluster.subtree_vars.items():
                set_variable(subtree, name, value)
            for name, value in cluster.vars.items():
                set_variable(group, name, value)
            for host in cluster.hosts:
                add_host(host.name, group=group)
                add_child(tier, host.name)
                for role_group in host.role_groups:
                    add_child(role_group, host.name)
                for name, value in host.vars.items():
                    set_variable(host.name, name, value)
            add_child(subtree, group)

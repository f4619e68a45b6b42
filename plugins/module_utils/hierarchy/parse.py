# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The loaded document (dicts and lists from YAML or JSON) -> specs, checking every field.

Every problem names the entry (``clusters[2] 'b'``, ``vpcs[0] 'blue'.clusters[1]``), the field
and the offending value. Unknown fields are errors: a typo must not silently drop a setting.
"""

from __future__ import annotations

from typing import Any, Optional

from ..fornax.limits import MAX_CLUSTERS, MAX_TIERS
from ..fornax.names import KUBE_DISTROS
from ..fornax.policy import PolicyError, parse_policy
from .addresses import (
    address_problem,
    api_endpoint_problem,
    host_address_problem,
    ipv4_problem,
    mac_problem,
    normalized_cidr,
    parse_cidr,
)
from .errors import ProblemLog
from .model import (
    DEFAULT_API_PORT,
    HOST_ROLES,
    CidrPool,
    Cluster,
    Defaults,
    GatewaySettings,
    Host,
    Pools,
    VniPool,
    Vpc,
    VpcPresence,
)
from .name_rules import (
    dns1123_label_problem,
    host_name_problem,
    interface_problem,
    label_problem,
    variable_name_problem,
)

PLUGIN_NAME = "centaurus.fornax.hierarchy"
ROLE_SET = frozenset(HOST_ROLES)
VNI_MIN, VNI_MAX = 1, 16777215  # 24 bits; 0 is the substrate

# Ansible's options of constructed inventories (compose, groups, keyed_groups, ...): the
# inventory plugin reads them; the hierarchy itself ignores them.
CONSTRUCTED_FIELDS = frozenset(
    {"compose", "groups", "keyed_groups", "strict", "leading_separator", "use_extra_vars"}
)
TOP_FIELDS = frozenset({"plugin", "defaults", "pools", "clusters", "vpcs"}) | CONSTRUCTED_FIELDS
CLUSTER_FIELDS = frozenset(
    {
        "name",
        "parent",
        "kubeDistro",
        "labels",
        "apiEndpoint",
        "podCidr",
        "serviceCidr",
        "hosts",
        "gateway",
        "defaults",
        "children",
        "missionPolicy",
    }
)
HOST_FIELDS = frozenset({"name", "roles", "address", "vars"})
GATEWAY_FIELDS = frozenset({"lanAddress", "wanAddress", "lanInterface", "wanInterface", "wanMac"})
DEFAULTS_FIELDS = frozenset(
    {"kubeDistro", "apiPort", "labels", "hostVars", "gateway", "missionPolicy"}
)
DEFAULT_GATEWAY_FIELDS = frozenset({"lanInterface", "wanInterface"})
POOLS_FIELDS = frozenset({"podCidr", "serviceCidr", "vni"})
CIDR_POOL_FIELDS = frozenset({"cidr", "prefixLength"})
VNI_POOL_FIELDS = frozenset({"first", "last"})
VPC_FIELDS = frozenset({"name", "vni", "clusters"})
PRESENCE_FIELDS = frozenset({"cluster", "subnets", "vni", "divider"})
DIVIDER_FIELDS = frozenset({"address", "mac"})


def valid_roles(roles: Any) -> bool:
    """A non-empty list of distinct known roles."""
    if not isinstance(roles, list) or not roles:
        return False
    try:
        if len(roles) == 1:  # the common case: no set to build
            return roles[0] in ROLE_SET
        return ROLE_SET.issuperset(roles) and len(set(roles)) == len(roles)
    except TypeError:  # an unhashable item, e.g. a mapping
        return False


def type_name(value: object) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    names = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}
    return names.get(type(value), type(value).__name__)


class Document:
    """Everything the file declares, before the tree is checked."""

    def __init__(self) -> None:
        self.clusters: list[Cluster] = []
        self.vpcs: list[Vpc] = []
        self.defaults = Defaults(kube_distro="k8s", api_port=DEFAULT_API_PORT)
        self.pools = Pools()


class Parser:
    """Reads one document; problems go to ``log`` (raised by the caller at the end)."""

    def __init__(self, log: ProblemLog) -> None:
        self.log = log
        self.clusters = 0  # declared so far, nested ones included
        self.good_labels: set[tuple[str, str]] = set()  # checked already (trees repeat them)

    # -- generic field readers --------------------------------------------------------------
    def mapping(self, value: Any, entry: str, allowed: frozenset) -> Optional[dict]:
        if not isinstance(value, dict):
            self.log.add(entry, f"must be a mapping, got {type_name(value)} {value!r}")
            return None
        if allowed.issuperset(value):  # the common case, checked in C
            return value
        unknown = [key for key in value if key not in allowed]
        if unknown:
            self.log.add(
                entry,
                f"unknown field(s) {', '.join(repr(str(k)) for k in unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}",
            )
        return value

    def string(self, data: dict, key: str, entry: str, required: bool = False) -> Optional[str]:
        value = data.get(key)
        if value is None:
            if required:
                self.log.add(entry, f"field {key!r} is required")
            return None
        if not isinstance(value, str) or not value:
            hint = ""
            if isinstance(value, (bool, int, float)):
                hint = " (quote it: unquoted, YAML reads 101, on or yes as a number or a boolean)"
            self.log.add(entry, f"field {key!r}: {value!r} must be a non-empty string{hint}")
            return None
        return str(value)  # a plain str, even when the file marked it !unsafe

    def integer(self, data: dict, key: str, entry: str, low: int, high: int) -> Optional[int]:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.log.add(entry, f"field {key!r}: {value!r} must be an integer in {low}..{high}")
            return None
        return value

    def choice(self, data: dict, key: str, entry: str, choices: tuple) -> Optional[str]:
        value = self.string(data, key, entry)
        if value is not None and value not in choices:
            self.log.add(entry, f"field {key!r}: {value!r} is not one of {', '.join(choices)}")
            return None
        return value

    def labels(self, data: dict, key: str, entry: str) -> dict[str, str]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.log.add(entry, f"field {key!r}: must be a mapping of strings, got {value!r}")
            return {}
        for label, text in value.items():
            if not isinstance(label, str) or not isinstance(text, str):
                self.log.add(
                    entry,
                    f"field {key!r}: {label!r}: {text!r} must map a string to a string "
                    "(quote values such as yes, no, 1.0)",
                )
                continue
            if (label, text) in self.good_labels:
                continue
            reason = label_problem(label, text)
            if reason:
                self.log.add(entry, f"field {key!r}: {reason}")
            else:
                self.good_labels.add((label, text))
        return value

    def variables(self, data: dict, key: str, entry: str) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.log.add(entry, f"field {key!r}: must be a mapping of variables, got {value!r}")
            return {}
        for name in value:
            reason = variable_name_problem(name) if isinstance(name, str) else f"{name!r}"
            if reason:
                self.log.add(entry, f"field {key!r}: {reason}")
        return value

    def cidr(self, data: dict, key: str, entry: str) -> Optional[str]:
        text = self.string(data, key, entry)
        if text is None:
            return None
        normal, reason = normalized_cidr(text)
        if normal is None:
            self.log.add(entry, f"field {key!r}: {reason}")
        return normal

    def ip_address(self, data: dict, key: str, entry: str) -> Optional[str]:
        text = self.string(data, key, entry)
        if text is not None:
            reason = address_problem(text)
            if reason:
                self.log.add(entry, f"field {key!r}: {reason}")
                return None
        return text

    def mac(self, data: dict, key: str, entry: str, required: bool = False) -> Optional[str]:
        text = self.string(data, key, entry, required=required)
        if text is not None:
            reason = mac_problem(text)
            if reason:
                self.log.add(entry, f"field {key!r}: {reason}")
                return None
            text = text.lower()
        return text

    def divider(self, value: Any, entry: str) -> Optional[dict[str, str]]:
        """A VPC presence's ``divider``: {address (IPv4), mac}, both required."""
        if value is None:
            return None
        data = self.mapping(value, entry, DIVIDER_FIELDS)
        if data is None:
            return None
        address = self.string(data, "address", entry, required=True)
        if address is not None and ipv4_problem(address):
            self.log.add(entry, f"field 'address': {ipv4_problem(address)}")
            address = None
        mac = self.mac(data, "mac", entry, required=True)
        if address is None or mac is None:
            return None
        return {"address": address, "mac": mac}

    def mission_policy(self, data: dict, entry: str) -> dict:
        """The written ``missionPolicy`` (fornax/policy.py), checked; {} when absent or bad."""
        value = data.get("missionPolicy")
        if value is None:
            return {}
        try:
            parse_policy(value, where="missionPolicy")
        except PolicyError as exc:
            self.log.add(entry, str(exc))
            return {}
        return dict(value)

    def interface(self, data: dict, key: str, entry: str) -> Optional[str]:
        text = self.string(data, key, entry)
        if text is not None:
            reason = interface_problem(text)
            if reason:
                self.log.add(entry, f"field {key!r}: {reason}")
                return None
        return text

    def dns_name(self, data: dict, key: str, entry: str) -> Optional[str]:
        name = self.string(data, key, entry, required=True)
        if name is not None:
            reason = dns1123_label_problem(name)
            if reason:
                self.log.add(entry, f"field {key!r}: {reason}")
                return None
        return name

    def entry_list(self, value: Any, entry: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.log.add(entry, f"must be a list, got {type_name(value)} {value!r}")
            return []
        return value

    # -- document parts ---------------------------------------------------------------------
    def document(self, data: Any) -> Document:
        doc = Document()
        top = self.mapping(data, "(top level)", TOP_FIELDS)
        if top is None:
            return doc
        plugin = top.get("plugin")
        if plugin != PLUGIN_NAME:
            self.log.add("plugin", f"{plugin!r} must be {PLUGIN_NAME!r}")
        if "defaults" in top:
            declared = self.defaults(top["defaults"], "defaults")
            doc.defaults = doc.defaults.overridden_by(declared)
        if "pools" in top:
            doc.pools = self.pools(top["pools"], "pools")
        if not top.get("clusters"):
            self.log.add("clusters", "the file must declare at least one cluster")
        for index, item in enumerate(self.entry_list(top.get("clusters"), "clusters")):
            self.cluster(item, f"clusters[{index}]", None, doc.clusters)
        for index, item in enumerate(self.entry_list(top.get("vpcs"), "vpcs")):
            vpc = self.vpc(item, f"vpcs[{index}]")
            if vpc is not None:
                doc.vpcs.append(vpc)
        return doc

    def defaults(self, value: Any, entry: str) -> Optional[Defaults]:
        data = self.mapping(value, entry, DEFAULTS_FIELDS)
        if data is None:
            return None
        interfaces = None
        if data.get("gateway") is not None:
            gateway = self.mapping(data["gateway"], f"{entry}.gateway", DEFAULT_GATEWAY_FIELDS)
            if gateway is not None:
                interfaces = GatewaySettings(
                    lan_interface=self.interface(gateway, "lanInterface", f"{entry}.gateway"),
                    wan_interface=self.interface(gateway, "wanInterface", f"{entry}.gateway"),
                )
        return Defaults(
            kube_distro=self.choice(data, "kubeDistro", entry, KUBE_DISTROS),
            api_port=self.integer(data, "apiPort", entry, 1, 65535),
            labels=self.labels(data, "labels", entry),
            host_vars=self.variables(data, "hostVars", entry),
            gateway_interfaces=interfaces,
            mission_policy=self.mission_policy(data, entry),
        )

    def pools(self, value: Any, entry: str) -> Pools:
        data = self.mapping(value, entry, POOLS_FIELDS)
        pools = Pools()
        if data is None:
            return pools
        if data.get("podCidr") is not None:
            pools.pod_cidr = self.cidr_pool(data["podCidr"], f"{entry}.podCidr", pools.pod_cidr)
        if data.get("serviceCidr") is not None:
            where = f"{entry}.serviceCidr"
            pools.service_cidr = self.cidr_pool(data["serviceCidr"], where, pools.service_cidr)
        if data.get("vni") is not None:
            pools.vni = self.vni_pool(data["vni"], f"{entry}.vni", pools.vni)
        return pools

    def cidr_pool(self, value: Any, entry: str, default: CidrPool) -> CidrPool:
        pool = self.mapping(value, entry, CIDR_POOL_FIELDS)
        if pool is None:
            return default
        if "cidr" not in pool:
            self.log.add(entry, "field 'cidr' is required")
        cidr = self.cidr(pool, "cidr", entry)
        prefix = self.integer(pool, "prefixLength", entry, 1, 128)
        network, _prefix = parse_cidr(cidr) if cidr is not None else (None, None)
        if network is None:
            return default
        prefix = prefix or (24 if network.version == 4 else 64)
        if not network.prefixlen <= prefix <= network.max_prefixlen:
            self.log.add(
                entry,
                f"field 'prefixLength': {prefix} must be between the pool's own "
                f"prefix length {network.prefixlen} and {network.max_prefixlen}",
            )
            return default
        return CidrPool(str(network), prefix)

    def vni_pool(self, value: Any, entry: str, default: VniPool) -> VniPool:
        pool = self.mapping(value, entry, VNI_POOL_FIELDS)
        if pool is None:
            return default
        first = self.integer(pool, "first", entry, VNI_MIN, VNI_MAX)
        last = self.integer(pool, "last", entry, VNI_MIN, VNI_MAX)
        first = default.first if first is None else first
        last = default.last if last is None else last
        if first > last:
            self.log.add(entry, f"field 'first': {first} is above 'last' {last}")
            return default
        return VniPool(first, last)

    def cluster(
        self,
        value: Any,
        entry: str,
        enclosing: Optional[str],
        found: list[Cluster],
        depth: int = 0,
    ) -> None:
        self.clusters += 1
        if self.clusters > MAX_CLUSTERS:
            if self.clusters == MAX_CLUSTERS + 1:
                self.log.add(entry, f"one cluster too many: a tree holds at most {MAX_CLUSTERS}")
            return
        data = self.mapping(value, entry, CLUSTER_FIELDS)
        if data is None:
            return
        name = self.dns_name(data, "name", entry)
        if name is None:
            return
        entry = f"{entry} {name!r}"
        cluster = Cluster(name, entry)
        cluster.declared_parents = self.parents(data.get("parent"), entry, enclosing)
        cluster.declared_kube_distro = self.choice(data, "kubeDistro", entry, KUBE_DISTROS)
        cluster.declared_labels = self.labels(data, "labels", entry)
        endpoint = self.string(data, "apiEndpoint", entry)
        if endpoint is not None:
            reason = api_endpoint_problem(endpoint)
            if reason:
                self.log.add(entry, f"field 'apiEndpoint': {reason}")
            cluster.declared_api_endpoint = endpoint
        if "podCidr" in data:
            cluster.pod_cidr = self.cidr(data, "podCidr", entry)
        if "serviceCidr" in data:
            cluster.service_cidr = self.cidr(data, "serviceCidr", entry)
        for index, item in enumerate(self.entry_list(data.get("hosts"), f"{entry}.hosts")):
            host = self.host(item, f"{entry}.hosts[{index}]")
            if host is not None:
                cluster.hosts.append(host)
        if data.get("gateway") is not None:
            cluster.declared_gateway = self.gateway(data["gateway"], f"{entry}.gateway")
        if data.get("defaults") is not None:
            cluster.defaults = self.defaults(data["defaults"], f"{entry}.defaults")
        cluster.declared_mission_policy = self.mission_policy(data, entry)
        found.append(cluster)
        self.children(data.get("children"), entry, name, found, depth)

    def children(
        self, value: Any, entry: str, parent: str, found: list[Cluster], depth: int
    ) -> None:
        """The clusters nested in ``parent`` (at ``depth``), no deeper than a tree may go."""
        children = self.entry_list(value, f"{entry}.children")
        if children and depth + 1 >= MAX_TIERS:
            self.log.add(
                f"{entry}.children",
                f"nested deeper than the {MAX_TIERS} tiers a tree may have (tier 0 to "
                f"{MAX_TIERS - 1})",
            )
            return
        for index, item in enumerate(children):
            self.cluster(item, f"{entry}.children[{index}]", parent, found, depth + 1)

    def parents(self, value: Any, entry: str, enclosing: Optional[str]) -> list[str]:
        """The parents a cluster declares: field 'parent' and the cluster it is nested in."""
        found: list[str] = []
        if isinstance(value, list):
            if len(set(map(str, value))) > 1:
                self.log.add(
                    entry, f"field 'parent': a cluster has exactly one parent, got {value!r}"
                )
            value = value[0] if value else None
        if value is not None:
            if isinstance(value, str) and value:
                found.append(value)
            else:
                self.log.add(entry, f"field 'parent': {value!r} must be a cluster name")
        if enclosing is not None and enclosing not in found:
            found.append(enclosing)
        return found

    def host(self, value: Any, entry: str) -> Optional[Host]:
        data = self.mapping(value, entry, HOST_FIELDS)
        if data is None:
            return None
        name = self.string(data, "name", entry, required=True)
        if name is None:
            return None
        reason = host_name_problem(name)
        if reason:
            self.log.add(entry, f"field 'name': {reason}")
        entry = f"{entry} {name!r}"
        roles = data.get("roles")
        if not valid_roles(roles):
            self.log.add(
                entry,
                f"field 'roles': {roles!r} must be a non-empty list of distinct roles "
                f"from {', '.join(HOST_ROLES)}",
            )
            roles = []
        address = self.string(data, "address", entry)
        if address is not None:
            reason = host_address_problem(address)
            if reason:
                self.log.add(entry, f"field 'address': {reason}")
                address = None
        return Host(name, tuple(roles), address, self.variables(data, "vars", entry), entry)

    def gateway(self, value: Any, entry: str) -> Optional[GatewaySettings]:
        data = self.mapping(value, entry, GATEWAY_FIELDS)
        if data is None:
            return None
        return GatewaySettings(
            lan_address=self.ip_address(data, "lanAddress", entry),
            wan_address=self.ip_address(data, "wanAddress", entry),
            lan_interface=self.interface(data, "lanInterface", entry),
            wan_interface=self.interface(data, "wanInterface", entry),
            wan_mac=self.mac(data, "wanMac", entry),
        )

    def vpc(self, value: Any, entry: str) -> Optional[Vpc]:
        data = self.mapping(value, entry, VPC_FIELDS)
        if data is None:
            return None
        name = self.dns_name(data, "name", entry)
        if name is None:
            return None
        entry = f"{entry} {name!r}"
        vpc = Vpc(name, self.integer(data, "vni", entry, VNI_MIN, VNI_MAX), entry)
        presences = self.entry_list(data.get("clusters"), f"{entry}.clusters")
        if not presences:
            self.log.add(entry, "field 'clusters': a VPC needs subnets in at least one cluster")
        for index, item in enumerate(presences):
            where = f"{entry}.clusters[{index}]"
            presence = self.mapping(item, where, PRESENCE_FIELDS)
            if presence is None:
                continue
            cluster = self.string(presence, "cluster", where, required=True)
            subnets = []
            for subnet_index, text in enumerate(
                self.entry_list(presence.get("subnets"), f"{where}.subnets")
            ):
                subnet = self.cidr({"subnets": text}, "subnets", f"{where}.subnets[{subnet_index}]")
                if subnet is not None:
                    subnets.append(subnet)
            if not presence.get("subnets"):
                self.log.add(where, "field 'subnets': list at least one subnet")
            vni = self.integer(presence, "vni", where, VNI_MIN, VNI_MAX)
            divider = self.divider(presence.get("divider"), f"{where}.divider")
            if cluster is not None:
                vpc.presences.append(VpcPresence(cluster, subnets, vni, where, divider))
        return vpc


def parse_document(data: Any, log: ProblemLog) -> Document:
    """Check and convert the loaded document; problems are added to ``log``."""
    return Parser(log).document(data)

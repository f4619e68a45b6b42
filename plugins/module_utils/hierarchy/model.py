# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The hierarchy's objects: hosts, gateways, clusters, VPCs, pools and the tree holding them.

Plain classes with ``__slots__`` (a 10,000-cluster tree is built in well under a second).
Fields named ``declared_*`` hold what the file says; the others are filled by later stages
(tree, inherit, allocate) and are what consumers read.
"""

from __future__ import annotations

from typing import Any, Optional

HOST_ROLES = ("control_plane", "gateway", "edge_node")
DEFAULT_API_PORT = 6443


class Host:
    """A machine of a cluster; ``address`` becomes ``ansible_host``."""

    __slots__ = ("address", "entry", "name", "roles", "vars")

    def __init__(
        self, name: str, roles: tuple[str, ...], address: Optional[str], host_vars: dict, entry: str
    ) -> None:
        self.name = name
        self.roles = roles
        self.address = address
        self.vars = host_vars
        self.entry = entry


class GatewaySettings:
    """What the file says about a cluster's gateway (any field may be missing)."""

    __slots__ = ("lan_address", "lan_interface", "wan_address", "wan_interface", "wan_mac")

    def __init__(
        self,
        lan_address: Optional[str] = None,
        wan_address: Optional[str] = None,
        lan_interface: Optional[str] = None,
        wan_interface: Optional[str] = None,
        wan_mac: Optional[str] = None,
    ) -> None:
        self.lan_address = lan_address
        self.wan_address = wan_address
        self.lan_interface = lan_interface
        self.wan_interface = wan_interface
        self.wan_mac = wan_mac


class Defaults:
    """Settings inherited down the tree; a cluster's ``defaults`` override them for its subtree."""

    __slots__ = (
        "api_port",
        "gateway_interfaces",
        "host_vars",
        "kube_distro",
        "labels",
        "mission_policy",
    )

    def __init__(
        self,
        kube_distro: Optional[str] = None,
        api_port: Optional[int] = None,
        labels: Optional[dict] = None,
        host_vars: Optional[dict] = None,
        gateway_interfaces: Optional[GatewaySettings] = None,
        *,
        mission_policy: Optional[dict] = None,
    ) -> None:
        self.kube_distro = kube_distro
        self.api_port = api_port
        self.labels = labels or {}
        self.host_vars = host_vars or {}
        self.gateway_interfaces = gateway_interfaces
        # the written form (fields of fornax/policy.py), merged field by field down the tree
        self.mission_policy = mission_policy or {}

    def overridden_by(self, other: Optional[Defaults]) -> Defaults:
        """These defaults with ``other``'s settings on top (dicts merged key by key)."""
        if other is None:
            return self
        mine = self.gateway_interfaces or GatewaySettings()
        theirs = other.gateway_interfaces or GatewaySettings()
        interfaces = GatewaySettings(
            lan_interface=theirs.lan_interface or mine.lan_interface,
            wan_interface=theirs.wan_interface or mine.wan_interface,
        )
        return Defaults(
            kube_distro=other.kube_distro or self.kube_distro,
            api_port=other.api_port or self.api_port,
            labels={**self.labels, **other.labels} if other.labels else self.labels,
            host_vars={**self.host_vars, **other.host_vars} if other.host_vars else self.host_vars,
            gateway_interfaces=interfaces,
            mission_policy=merged_policy(self.mission_policy, other.mission_policy),
        )


def merged_policy(weaker: dict, stronger: dict) -> dict:
    """Two written Mission policies, field by field (the same object when one is empty, so
    that clusters inheriting one policy share it)."""
    if not stronger:
        return weaker
    if not weaker:
        return stronger
    return {**weaker, **stronger}


class Gateway:
    """A cluster's resolved gateway (the host with role ``gateway``)."""

    __slots__ = ("host", "lan_address", "lan_interface", "wan_address", "wan_interface", "wan_mac")

    def __init__(
        self,
        host: str,
        lan_address: Optional[str],
        wan_address: Optional[str],
        lan_interface: Optional[str],
        wan_interface: Optional[str],
        *,
        wan_mac: Optional[str] = None,
    ) -> None:
        self.host = host
        self.lan_address = lan_address
        self.wan_address = wan_address
        self.lan_interface = lan_interface
        self.wan_interface = wan_interface
        # The MAC its peer gateways send to (its WAN interface's, or the WAN router's).
        self.wan_mac = wan_mac

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "lan_address": self.lan_address,
            "wan_address": self.wan_address,
            "lan_interface": self.lan_interface,
            "wan_interface": self.wan_interface,
            "wan_mac": self.wan_mac,
        }


class Cluster:
    """One cluster of the tree."""

    __slots__ = (
        "api_endpoint",
        "children",
        "declared_api_endpoint",
        "declared_gateway",
        "declared_kube_distro",
        "declared_labels",
        "declared_mission_policy",
        "declared_parents",
        "defaults",
        "entry",
        "gateway",
        "host_vars",
        "hosts",
        "kube_distro",
        "labels",
        "mission_policy",
        "name",
        "parent",
        "path",
        "pod_cidr",
        "service_cidr",
        "tier",
    )

    def __init__(self, name: str, entry: str) -> None:
        self.name = name
        self.entry = entry
        # as declared
        self.declared_parents: list[str] = []
        self.declared_kube_distro: Optional[str] = None
        self.declared_labels: dict[str, str] = {}
        self.declared_api_endpoint: Optional[str] = None
        self.declared_gateway: Optional[GatewaySettings] = None
        self.declared_mission_policy: dict = {}
        self.defaults: Optional[Defaults] = None
        self.hosts: list[Host] = []
        # given in the file or allocated
        self.pod_cidr: Optional[str] = None
        self.service_cidr: Optional[str] = None
        # resolved by the tree and inherit stages
        self.parent: Optional[Cluster] = None
        self.children: list[Cluster] = []
        self.tier = 0
        self.path = name
        self.kube_distro = "k8s"
        self.labels: dict[str, str] = {}
        self.host_vars: dict[str, Any] = {}
        self.api_endpoint: Optional[str] = None
        self.gateway: Optional[Gateway] = None
        self.mission_policy: Any = None  # fornax.policy.MissionPolicy, after inheritance

    def __repr__(self) -> str:
        return f"Cluster({self.path!r})"


class VpcPresence:
    """A VPC's subnets in one cluster, with the VNI it has there (translated at the gateway)."""

    __slots__ = ("cluster", "declared_vni", "divider", "entry", "subnets")

    def __init__(
        self,
        cluster: str,
        subnets: list[str],
        declared_vni: Optional[int],
        entry: str,
        divider: Optional[dict[str, str]] = None,
    ) -> None:
        self.cluster = cluster
        self.subnets = subnets
        self.declared_vni = declared_vni
        self.entry = entry
        # The divider of the VPC's VNI in this cluster: {address, mac} (the gateway hands it
        # what arrives from the WAN for that VNI).
        self.divider = divider


class Vpc:
    """A VPC: its default VNI (given or allocated) and where it has subnets."""

    __slots__ = ("entry", "name", "presences", "vni")

    def __init__(self, name: str, vni: Optional[int], entry: str) -> None:
        self.name = name
        self.vni = vni
        self.entry = entry
        self.presences: list[VpcPresence] = []

    def vni_in(self, presence: VpcPresence) -> int:
        """The VNI of this VPC in ``presence``'s cluster (the VPC's own unless overridden)."""
        vni = presence.declared_vni if presence.declared_vni is not None else self.vni
        if vni is None:  # pragma: no cover - allocation always runs before readers
            raise ValueError(f"VPC {self.name!r} has no VNI yet")
        return vni


class CidrPool:
    """A range cut into equal blocks (``prefix_length``) handed out to clusters."""

    __slots__ = ("cidr", "prefix_length")

    def __init__(self, cidr: str, prefix_length: int) -> None:
        self.cidr = cidr
        self.prefix_length = prefix_length


class VniPool:
    """Inclusive VNI range for VPCs without a ``vni``."""

    __slots__ = ("first", "last")

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        self.last = last


class Pools:
    """Where allocation takes what the file leaves out (documented defaults)."""

    __slots__ = ("pod_cidr", "service_cidr", "vni")

    def __init__(
        self,
        pod_cidr: Optional[CidrPool] = None,
        service_cidr: Optional[CidrPool] = None,
        vni: Optional[VniPool] = None,
    ) -> None:
        self.pod_cidr = pod_cidr or CidrPool("10.0.0.0/9", 24)
        self.service_cidr = service_cidr or CidrPool("10.128.0.0/9", 24)
        self.vni = vni or VniPool(4096, 16777215)


class Hierarchy:
    """The whole tree: clusters in top-down (breadth-first) order, the root first."""

    __slots__ = ("clusters", "defaults", "pools", "source", "spans", "vpcs")

    def __init__(
        self,
        clusters: dict[str, Cluster],
        vpcs: dict[str, Vpc],
        defaults: Defaults,
        pools: Pools,
        source: Optional[str],
    ) -> None:
        self.clusters = clusters
        self.vpcs = vpcs
        self.defaults = defaults
        self.pools = pools
        self.source = source
        # the CIDRs allocation made -> their (version, first, last): validation need not read
        # them again (addresses.Span)
        self.spans: dict[str, tuple[int, int, int]] = {}

    @property
    def root(self) -> Cluster:
        return next(iter(self.clusters.values()))

    def release(self) -> None:
        """Drop the links between parents and children, the tree's reference cycles.

        Called once the tree is no longer read: its objects are then freed as soon as the last
        reference to them goes, instead of waiting for the cyclic garbage collector, which
        would first scan every one of them (for 10,000 clusters, ~100,000 objects).
        """
        for cluster in self.clusters.values():
            cluster.parent = None
            cluster.children = []

    def subtree(self, name: str) -> list[Cluster]:
        """``name`` and every cluster below it, top-down."""
        found: list[Cluster] = []
        pending = [self.clusters[name]]
        while pending:
            cluster = pending.pop(0)
            found.append(cluster)
            pending.extend(cluster.children)
        return found

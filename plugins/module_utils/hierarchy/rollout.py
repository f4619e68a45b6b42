# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""What site.yml needs of a tree beyond a valid hierarchy file (the one place of these rules).

A valid hierarchy may describe clusters the playbooks cannot roll out: a cluster without a
control-plane host (one brought along, reached at its ``apiEndpoint``) or with several (the
control_plane role runs a single-member etcd). The inventory accepts such files; it exports
the problems as ``fornax_rollout_problems`` and ``validate_inventory.yml`` stops a rollout on
them before any host is touched. So does a cluster whose pod CIDR cannot give each of its
``edge_node`` hosts its own part (the rule of ``fornax/nodes.py``, the one the containerd role
applies), and a cluster whose gateway host the gateway role cannot configure: an interface
or address missing, a VPC spanning clusters without its divider here or with a peer gateway
whose WAN MAC is unknown (``gateway_problems``). The depth needs no rule here: the inventory
refuses a tree deeper than ``fornax_max_tiers`` and the playbooks loop over ``fornax_tiers``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..fornax.nodes import NodeError, node_pod_cidr
from .model import Cluster, Hierarchy, Vpc

CONTROL_PLANE = "control_plane"
EDGE_NODE = "edge_node"
# Sentences exported at most: every host carries the list (``ansible-inventory --list`` merges
# group vars into each host's), so 1,180 problems of a 10,000-cluster tree cost 147 kB per
# host, 20,000 hosts (a quadratic --list: 2,000 clusters took 174 s and 7 GB); and an operator
# fixes the first few before reading a thousand.
MAX_PROBLEMS = 50


def rollout_problems(hierarchy: Hierarchy) -> list[str]:
    """One sentence per problem site.yml would meet, in cluster name order (at most
    MAX_PROBLEMS, then a sentence counting the rest)."""
    problems = []
    vpcs = cluster_vpcs(hierarchy)
    for name in sorted(hierarchy.clusters):
        hosts = [h.name for h in hierarchy.clusters[name].hosts if CONTROL_PLANE in h.roles]
        if len(hosts) != 1:
            problems.append(
                f"cluster {name} has {len(hosts)} control-plane hosts "
                f"({', '.join(hosts) or 'none'}); the control_plane role runs a single-member "
                "etcd, so exactly one is needed"
            )
        nodes = sorted(h.name for h in hierarchy.clusters[name].hosts if EDGE_NODE in h.roles)
        if nodes:
            try:
                node_pod_cidr(hierarchy.clusters[name].pod_cidr, nodes, nodes[0])
            except NodeError as exc:
                problems.append(f"cluster {name}: {exc}")
        problems.extend(gateway_problems(hierarchy, hierarchy.clusters[name], vpcs.get(name, ())))
    return capped(problems)


def capped(problems: list[str], limit: int = MAX_PROBLEMS) -> list[str]:
    """The first ``limit`` problems, and one sentence counting the rest."""
    if len(problems) <= limit:
        return problems
    rest = len(problems) - limit
    return [*problems[:limit], f"and {rest} more problem{'s' if rest > 1 else ''} like these"]


# What the gateway role reads from fornax_gateway, with the file's field that sets it.
GATEWAY_SETTINGS = (
    ("lan_interface", "gateway.lanInterface (or defaults.gateway.lanInterface)"),
    ("wan_interface", "gateway.wanInterface (or defaults.gateway.wanInterface)"),
    ("lan_address", "gateway.lanAddress (or an IP address as the host's address)"),
    ("wan_address", "gateway.wanAddress"),
)


def cluster_vpcs(hierarchy: Hierarchy) -> dict[str, list[Vpc]]:
    """Each cluster's VPCs in name order (one pass: asking every VPC about every cluster made
    a 10,000-cluster, 100-VPC tree cost a million look-ups, most of the inventory's parse)."""
    found: dict[str, list[Vpc]] = {}
    for vpc in sorted(hierarchy.vpcs.values(), key=lambda v: v.name):
        for name in dict.fromkeys(p.cluster for p in vpc.presences):
            found.setdefault(name, []).append(vpc)
    return found


def gateway_problems(hierarchy: Hierarchy, cluster: Cluster, vpcs: Iterable[Vpc]) -> list[str]:
    """Why the gateway role cannot configure ``cluster``'s gateway host (site.yml applies it
    to every host with role gateway); ``vpcs`` are the VPCs with a presence in ``cluster``
    (``cluster_vpcs``)."""
    gateway = cluster.gateway
    if gateway is None:
        return []
    where = f"cluster {cluster.name}: gateway host {gateway.host}"
    problems = [
        f"{where} has no {attribute}: set {field}"
        for attribute, field in GATEWAY_SETTINGS
        if getattr(gateway, attribute) is None
    ]
    for vpc in vpcs:
        here = [p for p in vpc.presences if p.cluster == cluster.name]
        others = sorted({p.cluster for p in vpc.presences} - {cluster.name})
        if not here or not others:
            continue
        if any(p.divider is None for p in here):
            problems.append(
                f"{where}: VPC {vpc.name} spans clusters ({', '.join(others)}) but names no "
                f"divider for VNI {vpc.vni_in(here[0])} here: set divider {{address, mac}} "
                f"in {here[0].entry}"
            )
        for other in others:
            peer = hierarchy.clusters[other].gateway
            if peer is not None and peer.wan_mac is None:
                problems.append(
                    f"{where}: VPC {vpc.name} reaches cluster {other}, whose gateway "
                    f"{peer.host} has no wanMac: set gateway.wanMac of cluster {other}"
                )
    return problems

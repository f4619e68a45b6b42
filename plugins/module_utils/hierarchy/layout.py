# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The tree as Ansible sees it: groups, group vars and host vars (docs/hostvars-contract.md).

Groups (all under ``all``):

- ``control_plane``, ``gateways``, ``edge_nodes``: hosts by role
- ``tier_<n>``: the hosts of the clusters at depth n (``tier_0``: the root's hosts). Hosts, not
  cluster groups: Ansible checks group children with a list scan, and a tier of 9,000
  child groups would make building it quadratic
- ``cluster_<name>``: the hosts of one cluster ('-' in names becomes '_')
- ``subtree_<name>``: ``cluster_<name>`` plus ``subtree_<child>`` for every child, so
  ``--limit subtree_b`` reaches b and everything below it and ``--graph`` draws the tree

The per-cluster contract variables are group vars of ``cluster_<name>`` (every host of the
cluster sees them in its hostvars), except values most clusters share (``shared_values``: no
children, no VPCs, the tree's usual distribution, ...), which the root's ``subtree_<root>``
carries once and a cluster group only where it differs; per-host ones are host vars.
``fornax_host_roles`` of a host with one role comes from its role group (``control_plane``
sets ``[control_plane]``); hosts with several roles carry their own list.
``fornax_mission_policy`` is left unset where a cluster grants the defaults (the roles read
``fornax_mission_policy | default(none)``, and the ``mission_policy`` filter turns that into
the default grant): ``ansible-inventory --list`` writes every host's merged variables, and the
default grant's 20 strings were half of every host's. A tree with its own policy sets it once
on the root's ``subtree_<root>`` group; a cluster group sets it only where the cluster's
differs from the root's (a deeper group wins), so a tree with one policy costs one variable
and a tree with the defaults none. The tree's
``fornax_tiers``, the limit ``fornax_max_tiers`` and ``fornax_rollout_problems`` (rollout.py)
are group vars of ``all``.
"""

from __future__ import annotations

from typing import Any, Optional

from ..fornax.limits import MAX_TIERS
from .model import Cluster, Hierarchy, Host
from .name_rules import cluster_group, subtree_group, tier_group
from .rollout import rollout_problems

ROLE_GROUPS = {"control_plane": "control_plane", "gateway": "gateways", "edge_node": "edge_nodes"}


class HostLayout:
    """A host's groups besides its cluster's, and its host vars: ``vars`` computed by the
    plugin, then the file's own ``user_vars`` (which may override them), then ``roles_vars``."""

    __slots__ = ("name", "role_groups", "roles_vars", "user_vars", "vars")

    def __init__(self, name: str, role_groups: tuple[str, ...], host: Host) -> None:
        self.name = name
        self.role_groups = role_groups
        address = host.address
        self.vars = {"ansible_host": address} if address not in (None, host.name) else {}
        self.user_vars = host.vars
        # with one role, its role group's fornax_host_roles says it
        self.roles_vars = {"fornax_host_roles": list(host.roles)} if len(host.roles) != 1 else {}


class ClusterLayout:
    """One cluster's groups, where they hang, its group vars and its hosts."""

    __slots__ = (
        "group",
        "hosts",
        "parent_subtree",
        "subtree",
        "subtree_computed",
        "subtree_vars",
        "tier_group",
        "vars",
    )

    def __init__(
        self,
        *,
        group: str,
        subtree: str,
        parent_subtree: Optional[str],
        tier: str,
        group_vars: dict[str, Any],
        subtree_vars: dict[str, Any],
        hosts: list[HostLayout],
        subtree_computed: Optional[dict[str, Any]] = None,
    ) -> None:
        self.group = group
        self.subtree = subtree
        self.parent_subtree = parent_subtree
        self.tier_group = tier
        self.vars = group_vars
        # the file's hostVars defaults (the operator's values), and what the plugin computed
        self.subtree_vars = subtree_vars
        self.subtree_computed = subtree_computed or {}
        self.hosts = hosts


class InventoryLayout:
    """Everything to add, in an order that keeps Ansible's group bookkeeping cheap.

    ``top_groups`` go directly under ``all``; ``clusters`` are top-down, so every group is
    linked to its parent before any host lands below it.
    """

    def __init__(
        self,
        top_groups: list[str],
        top_group_vars: dict[str, dict[str, Any]],
        clusters: list[ClusterLayout],
    ) -> None:
        self.top_groups = top_groups
        self.top_group_vars = top_group_vars
        self.clusters = clusters


def vpcs_by_cluster(hierarchy: Hierarchy) -> dict[str, list[dict[str, Any]]]:
    """The ``fornax_vpcs`` value of every cluster that has VPC subnets."""
    found: dict[str, list[dict[str, Any]]] = {}
    for vpc in hierarchy.vpcs.values():
        sides = []
        for presence in vpc.presences:
            gateway = hierarchy.clusters[presence.cluster].gateway
            sides.append(
                {
                    "cluster": presence.cluster,
                    "vni": vpc.vni_in(presence),
                    "subnets": list(presence.subnets),
                    "gateway_wan_address": gateway.wan_address if gateway else None,
                    "gateway_wan_mac": gateway.wan_mac if gateway else None,
                }
            )
        for index, side in enumerate(sides):
            divider = vpc.presences[index].divider
            found.setdefault(side["cluster"], []).append(
                {
                    "name": vpc.name,
                    "vni": side["vni"],
                    "subnets": side["subnets"],
                    "divider": dict(divider) if divider else None,
                    "remote": [dict(other) for other in sides if other is not side],
                }
            )
    return found


def gateway_vars(cluster: Cluster, vpcs: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """``fornax_gateway``: the gateway's own settings plus what the gateway role writes from
    the VPCs, in the gateway module's terms: ``peer_macs`` (WAN address -> MAC of every peer
    gateway a VPC of this cluster reaches) and ``dividers`` ({vni, address, mac} per local VNI
    whose divider the file names). Missing values are left out here and named by
    ``rollout.gateway_problems``."""
    if cluster.gateway is None:
        return None
    peer_macs = {}
    dividers = []
    for vpc in vpcs:
        if vpc["divider"]:
            dividers.append({"vni": vpc["vni"], **vpc["divider"]})
        for remote in vpc["remote"]:
            if remote["gateway_wan_address"] and remote["gateway_wan_mac"]:
                peer_macs[remote["gateway_wan_address"]] = remote["gateway_wan_mac"]
    return {**cluster.gateway.as_dict(), "peer_macs": peer_macs, "dividers": dividers}


def cluster_vars(cluster: Cluster, vpcs: list[dict[str, Any]]) -> dict[str, Any]:
    """The contract's per-cluster variables."""
    parent = cluster.parent
    return {
        "fornax_cluster": cluster.name,
        "fornax_parent": parent.name if parent else None,
        # The group of the parent's hosts: playbooks find the parent's control plane in it.
        "fornax_parent_group": cluster_group(parent.name) if parent else None,
        "fornax_path": cluster.path,
        "fornax_tier": cluster.tier,
        "fornax_children": [child.name for child in cluster.children],
        "fornax_kube_distro": cluster.kube_distro,
        "fornax_cluster_labels": dict(cluster.labels),
        "fornax_api_endpoint": cluster.api_endpoint,
        "fornax_parent_api_endpoint": parent.api_endpoint if parent else None,
        "fornax_pod_cidr": cluster.pod_cidr,
        "fornax_service_cidr": cluster.service_cidr,
        "fornax_gateway": gateway_vars(cluster, vpcs),
        "fornax_vpcs": vpcs,
    }


def subtree_vars(hierarchy: Hierarchy, cluster: Cluster) -> dict[str, Any]:
    """``hostVars`` defaults declared for ``cluster``'s subtree (the root's include the file's).

    Set on ``subtree_<name>``: Ansible gives deeper groups precedence, so a subtree's
    defaults override its ancestors' exactly as the file's inheritance says.
    """
    values = dict(hierarchy.defaults.host_vars) if cluster.parent is None else {}
    if cluster.defaults is not None:
        values.update(cluster.defaults.host_vars)
    return values


def shared_values(hierarchy: Hierarchy) -> dict[str, Any]:
    """Values of contract variables that most clusters of a tree have in common.

    They are set once, on the root's ``subtree_<root>`` group, and on ``cluster_<name>`` only
    where the cluster's value differs (a deeper group wins): a leaf has no children and most
    clusters no VPC, and a tree tends to run one distribution. Every host sees the same values
    as if each cluster group carried all of them; Ansible has fewer values to store and copy.
    """
    distros: dict[str, int] = {}
    for cluster in hierarchy.clusters.values():
        distros[cluster.kube_distro] = distros.get(cluster.kube_distro, 0) + 1
    return {
        "fornax_children": [],
        "fornax_kube_distro": max(sorted(distros), key=distros.__getitem__),
        "fornax_cluster_labels": {},
        "fornax_gateway": None,
        "fornax_vpcs": [],
    }


def inventory_layout(hierarchy: Hierarchy) -> InventoryLayout:
    vpcs = vpcs_by_cluster(hierarchy)
    depth = max(cluster.tier for cluster in hierarchy.clusters.values())
    tree_policy = hierarchy.root.mission_policy
    shared = shared_values(hierarchy)
    tiers = [tier_group(tier) for tier in range(depth + 1)]
    top = [hierarchy.root and subtree_group(hierarchy.root.name), *tiers, *ROLE_GROUPS.values()]
    subtrees: dict[str, str] = {}  # cluster -> its subtree group (its children's parent)
    role_groups: dict[tuple[str, ...], tuple[str, ...]] = {}  # a host's roles -> their groups
    clusters = []
    for cluster in hierarchy.clusters.values():
        hosts = []
        for host in cluster.hosts:
            groups = role_groups.get(host.roles)
            if groups is None:
                groups = role_groups[host.roles] = tuple(ROLE_GROUPS[r] for r in host.roles)
            hosts.append(HostLayout(host.name, groups, host))
        group_vars = cluster_vars(cluster, vpcs.get(cluster.name, []))
        for name, value in shared.items():
            if group_vars[name] == value:
                del group_vars[name]
        computed = {}
        if cluster.parent is None:
            computed = dict(shared)
            if not tree_policy.is_default():
                computed["fornax_mission_policy"] = tree_policy.to_dict()
        elif cluster.mission_policy is not tree_policy and cluster.mission_policy != tree_policy:
            group_vars["fornax_mission_policy"] = cluster.mission_policy.to_dict()
        subtree = subtrees[cluster.name] = subtree_group(cluster.name)
        clusters.append(
            ClusterLayout(
                group=cluster_group(cluster.name),
                subtree=subtree,
                parent_subtree=subtrees[cluster.parent.name] if cluster.parent else None,
                tier=tiers[cluster.tier],
                group_vars=group_vars,
                subtree_vars=subtree_vars(hierarchy, cluster),
                subtree_computed=computed,
                hosts=hosts,
            )
        )
    top_vars: dict[str, dict[str, Any]] = {
        group: {"fornax_host_roles": [role]} for role, group in ROLE_GROUPS.items()
    }
    top_vars["all"] = {
        "fornax_tiers": depth + 1,
        "fornax_max_tiers": MAX_TIERS,
        "fornax_rollout_problems": rollout_problems(hierarchy),
    }
    return InventoryLayout(top, top_vars, clusters)

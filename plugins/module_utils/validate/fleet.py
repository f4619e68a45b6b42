# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The fleet under validation, as the hierarchy inventory exports it (docs/hostvars-contract.md).

The validate role sends one record per inventory host: the contract variables of the host's
cluster (``fornax_cluster``, ``fornax_parent``, ``fornax_path`` ...) plus what the role knows of
the host (its admin kubeconfig on the controller, how to stop and start its services). Nothing
here derives names or paths: clusters, parents, paths, labels and endpoints are the
inventory's. With ``--limit subtree_x`` the fleet is that subtree; its top cluster's parent is
outside the run.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Optional

# What the validation may do to a cluster's host (disruptive tests only), and the two actions
# of each: the first disrupts, the second restores.
CONTROLS = OrderedDict(
    [("agent", ("stop", "start")), ("uplink", ("cut", "restore")), ("apiserver", ("stop", "start"))]
)


class FleetError(ValueError):
    """The inventory does not describe a fleet that can be validated; names host and field."""


class Host:
    __slots__ = ("address", "audit", "cluster", "name", "roles")

    def __init__(
        self, name: str, cluster: str, roles: list, audit: bool, address: Optional[str]
    ) -> None:
        self.name = name
        self.cluster = cluster
        self.roles = roles
        self.audit = audit
        self.address = address


class Cluster:
    __slots__ = (
        "api_endpoint",
        "children",
        "control_host",
        "controls",
        "distro",
        "gateway",
        "hosts",
        "kubeconfig",
        "labels",
        "name",
        "parent",
        "parent_api_endpoint",
        "path",
        "tier",
        "vpcs",
    )

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.name = str(record["cluster"])
        self.parent = record.get("parent")
        self.path = str(record.get("path") or self.name)
        self.tier = int(record.get("tier") or 0)
        self.children = [str(c) for c in record.get("children") or []]
        self.labels = {str(k): str(v) for k, v in (record.get("labels") or {}).items()}
        self.distro = str(record.get("distro") or "k8s")
        self.api_endpoint = str(record.get("api_endpoint") or "")
        self.parent_api_endpoint = record.get("parent_api_endpoint")
        self.gateway = record.get("gateway")
        self.vpcs = list(record.get("vpcs") or [])
        self.kubeconfig: Optional[str] = None
        self.control_host: Optional[str] = None
        self.controls: dict = {}
        self.hosts: list = []

    def __repr__(self) -> str:
        return f"Cluster({self.path})"


class Fleet:
    """Clusters in tree order (each before its children, siblings in inventory order)."""

    def __init__(self, clusters: OrderedDict, root: str) -> None:
        self.clusters = clusters
        self.root = root

    def __getitem__(self, name: str) -> Cluster:
        return self.clusters[name]

    def __contains__(self, name: object) -> bool:
        return name in self.clusters

    def names(self) -> list:
        return list(self.clusters)

    def children(self, name: str) -> list:
        return [c for c in self.clusters[name].children if c in self.clusters]

    def has_parent(self, name: str) -> bool:
        parent = self.clusters[name].parent
        return parent is not None and parent in self.clusters

    def non_root(self) -> list:
        """Clusters whose parent is in the fleet (the ones that register somewhere we see)."""
        return [name for name in self.clusters if self.has_parent(name)]

    def subtree(self, name: str) -> list:
        """``name`` and every cluster below it, in tree order."""
        found = [name]
        for child in self.children(name):
            found.extend(self.subtree(child))
        return found

    def below(self, name: str) -> list:
        return self.subtree(name)[1:]

    def is_leaf(self, name: str) -> bool:
        return not self.children(name)

    def depth(self, name: str) -> int:
        """Distance from the fleet's root (the root itself: 0)."""
        return self.clusters[name].tier - self.clusters[self.root].tier

    def rel_path(self, name: str, ancestor: str) -> str:
        """Mission state key of ``name`` at ``ancestor``: its path below it (``b/c``)."""
        own, top = self.clusters[name].path, self.clusters[ancestor].path
        if own == top:
            return ""
        if not own.startswith(top + "/"):
            raise FleetError(f"cluster {name!r} ({own}) is not below {ancestor!r} ({top})")
        return own[len(top) + 1 :]

    def hosts(self) -> list:
        return [host for cluster in self.clusters.values() for host in cluster.hosts]

    def audited_hosts(self) -> list:
        return [host for host in self.hosts() if host.audit]

    def gateway_hosts(self) -> list:
        return [host for host in self.hosts() if "gateway" in host.roles]

    def top_ancestor(self, name: str) -> str:
        """The child of the root whose subtree holds ``name``."""
        while self.clusters[name].parent != self.root:
            name = self.clusters[name].parent
        return name


def _controls(host: str, value: Any) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise FleetError(f"host {host}: validate_controls must be a mapping, got {value!r}")
    found: dict = {}
    for control, actions in value.items():
        if control not in CONTROLS:
            raise FleetError(
                f"host {host}: validate_controls.{control}: unknown control "
                f"(known: {', '.join(CONTROLS)})"
            )
        if not isinstance(actions, Mapping):
            raise FleetError(f"host {host}: validate_controls.{control} must be a mapping")
        for action, argv in actions.items():
            if action not in CONTROLS[control]:
                raise FleetError(
                    f"host {host}: validate_controls.{control}.{action}: unknown action "
                    f"(known: {', '.join(CONTROLS[control])})"
                )
            if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
                raise FleetError(
                    f"host {host}: validate_controls.{control}.{action} must be a non-empty "
                    f"list of strings (a command's argv), got {argv!r}"
                )
        found[control] = {action: list(argv) for action, argv in actions.items()}
    return found


def fleet_from_members(members: list) -> Fleet:
    """Group per-host records into clusters and order them as a tree."""
    if not members:
        raise FleetError(
            "no Fornax hosts in the inventory: give a hierarchy inventory (-i <file>) whose "
            "clusters list their hosts (the validation reads each cluster's settings from them)"
        )
    clusters: dict = {}
    for record in members:
        if not isinstance(record, Mapping) or not record.get("host") or not record.get("cluster"):
            raise FleetError(f"a fleet member needs 'host' and 'cluster': {record!r}")
        host = str(record["host"])
        name = str(record["cluster"])
        cluster = clusters.get(name)
        if cluster is None:
            cluster = clusters[name] = Cluster(record)
        roles = [str(r) for r in record.get("roles") or []]
        address = record.get("address")
        cluster.hosts.append(
            Host(host, name, roles, bool(record.get("audit", True)), str(address or host))
        )
        is_cp = "control_plane" in roles
        if cluster.control_host is None or (is_cp and not _is_cp(cluster, cluster.control_host)):
            cluster.control_host = host
            cluster.kubeconfig = record.get("kubeconfig") or None
            cluster.controls = _controls(host, record.get("controls"))
    tops = [c.name for c in clusters.values() if c.parent is None or c.parent not in clusters]
    if len(tops) != 1:
        raise FleetError(
            f"the clusters of this run form {len(tops)} separate trees (tops: "
            f"{', '.join(sorted(tops))}); validate one tree at a time (--limit subtree_<name>)"
        )
    ordered: OrderedDict = OrderedDict()

    def visit(name: str) -> None:
        ordered[name] = clusters[name]
        for child in clusters[name].children:
            if child in clusters and child not in ordered:
                visit(child)

    visit(tops[0])
    missing = [name for name in clusters if name not in ordered]
    if missing:
        raise FleetError(
            f"clusters {', '.join(sorted(missing))} are not below {tops[0]} in the inventory's "
            "fornax_children lists"
        )
    for cluster in ordered.values():
        if not cluster.api_endpoint.startswith("https://"):
            raise FleetError(
                f"cluster {cluster.name}: fornax_api_endpoint {cluster.api_endpoint!r} is not an "
                "https:// URL"
            )
    return Fleet(ordered, tops[0])


def _is_cp(cluster: Cluster, host: str) -> bool:
    return any(h.name == host and "control_plane" in h.roles for h in cluster.hosts)

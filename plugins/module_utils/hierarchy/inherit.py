# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Defaults flowing down the tree, and what each cluster's settings resolve to.

Precedence for a cluster, lowest first: the built-in defaults, the file's top-level
``defaults``, the ``defaults`` of each ancestor from the root down, the cluster's own
``defaults``, then the cluster's own fields. ``labels``, ``hostVars`` and ``missionPolicy``
merge key by key (a policy field set lower replaces the same field set higher).
"""

from __future__ import annotations

from typing import Any, Optional

from ..fornax.policy import PolicyError, parse_policy
from .addresses import api_endpoint, host_address_problem, is_ip_address
from .errors import ProblemLog
from .model import DEFAULT_API_PORT, Cluster, Defaults, Gateway, Host, merged_policy


def resolve_cluster_settings(clusters: dict[str, Cluster], top: Defaults, log: ProblemLog) -> None:
    """Fill kube_distro, labels, host_vars, api_endpoint, gateway and mission_policy of every
    cluster."""
    effective: dict[str, Defaults] = {}
    policies = PolicyCache()
    for cluster in clusters.values():  # top-down: a parent is resolved before its children
        inherited = effective[cluster.parent.name] if cluster.parent is not None else top
        mine = inherited.overridden_by(cluster.defaults)
        effective[cluster.name] = mine
        cluster.kube_distro = cluster.declared_kube_distro or mine.kube_distro or "k8s"
        cluster.labels = (
            {**mine.labels, **cluster.declared_labels} if mine.labels else cluster.declared_labels
        )
        cluster.host_vars = mine.host_vars
        cluster.api_endpoint = resolved_api_endpoint(cluster, mine, log)
        cluster.gateway = resolved_gateway(cluster, mine, log)
        written = merged_policy(mine.mission_policy, cluster.declared_mission_policy)
        cluster.mission_policy = policies.get(written, cluster.entry, log)


class PolicyCache:
    """parse_policy once per distinct written policy: clusters that inherit one share it."""

    def __init__(self) -> None:
        self.known: dict[int, tuple] = {}  # id(written) -> (written, policy)

    def get(self, written: dict, entry: str, log: ProblemLog) -> Any:
        known = self.known.get(id(written))
        if known is not None and known[0] is written:
            return known[1]
        try:
            policy = parse_policy(written or None, where="missionPolicy")
        except PolicyError as exc:  # each part was checked; only a combination can fail
            log.add(entry, f"{exc} (after inheritance)")
            policy = None
        self.known[id(written)] = (written, policy)
        return policy


def resolved_api_endpoint(cluster: Cluster, defaults: Defaults, log: ProblemLog) -> Optional[str]:
    if cluster.declared_api_endpoint is not None:
        return cluster.declared_api_endpoint
    for host in cluster.hosts:
        if "control_plane" in host.roles:
            if host.address is None and host_address_problem(host.name):
                log.add(
                    host.entry,
                    f"no 'address', and its name is no DNS name to reach the API server by: "
                    f"{host_address_problem(host.name)}",
                )
                return None
            return api_endpoint(host.address or host.name, defaults.api_port or DEFAULT_API_PORT)
    log.add(
        cluster.entry,
        "no API endpoint: set 'apiEndpoint' or list a host with role control_plane",
    )
    return None


def resolved_gateway(cluster: Cluster, defaults: Defaults, log: ProblemLog) -> Optional[Gateway]:
    hosts = [host for host in cluster.hosts if "gateway" in host.roles]
    declared = cluster.declared_gateway
    if len(hosts) > 1:
        names = ", ".join(repr(host.name) for host in hosts)
        log.add(cluster.entry, f"a cluster has at most one gateway host, found {names}")
        return None
    if not hosts:
        if declared is not None:
            log.add(
                f"{cluster.entry}.gateway",
                "gateway settings but no host with role gateway in the cluster",
            )
        return None
    host: Host = hosts[0]
    interfaces = defaults.gateway_interfaces
    lan_address = declared.lan_address if declared else None
    if lan_address is None and host.address is not None and is_ip_address(host.address):
        lan_address = host.address
    return Gateway(
        host=host.name,
        lan_address=lan_address,
        wan_address=declared.wan_address if declared else None,
        lan_interface=(declared and declared.lan_interface)
        or (interfaces.lan_interface if interfaces else None),
        wan_interface=(declared and declared.wan_interface)
        or (interfaces.wan_interface if interfaces else None),
        wan_mac=declared.wan_mac if declared else None,
    )

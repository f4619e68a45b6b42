# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""What site.yml needs of a tree beyond a valid hierarchy file (the one place of these rules).

A valid hierarchy may describe clusters the playbooks cannot roll out: a cluster without a
control-plane host (one brought along, reached at its ``apiEndpoint``) or with several (the
control_plane role runs a single-member etcd). The inventory accepts such files; it exports
the problems as ``fornax_rollout_problems`` and ``validate_inventory.yml`` stops a rollout on
them before any host is touched. So does a cluster whose pod CIDR cannot give each of its
``edge_node`` hosts its own part (the rule of ``fornax/nodes.py``, the one the containerd role
applies). The depth needs no rule here: the inventory refuses a tree
deeper than ``fornax_max_tiers`` and the playbooks loop over ``fornax_tiers``.
"""

from __future__ import annotations

from ..fornax.nodes import NodeError, node_pod_cidr
from .model import Hierarchy

CONTROL_PLANE = "control_plane"
EDGE_NODE = "edge_node"


def rollout_problems(hierarchy: Hierarchy) -> list[str]:
    """One sentence per cluster site.yml cannot roll out, in cluster name order."""
    problems = []
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
    return problems

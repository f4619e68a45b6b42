#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The clusters below one Fornax cluster: health, heartbeat age, subtree, missions."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: edgecluster_info
short_description: Show the Fornax clusters below a cluster, as a list and as a tree
version_added: 0.1.0
description:
  - Reads the EdgeClusters of the cluster it connects to (its children, as their agents report
    them) with health, heartbeat age, received and active Missions, nodes, and the health of
    every cluster deeper down (C(status.subEdgeClusterStates)), and folds them into a tree.
author:
  - centaurus.fornax contributors (@centaurus-fornax)
extends_documentation_fragment:
  - centaurus.fornax.k8s_auth
options:
  name:
    description: Only this EdgeCluster (default all of them).
    type: str
  label_selector:
    description: Only EdgeClusters matching this Kubernetes label selector.
    type: str
attributes:
  check_mode:
    description: Reads only.
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
  action_group:
    description: Use C(group/centaurus.fornax.k8s) in C(module_defaults) to set the connection.
    support: full
    membership: [centaurus.fornax.k8s]
"""

EXAMPLES = r"""
- name: What does the root see?
  centaurus.fornax.edgecluster_info:
    kubeconfig: /etc/fornax/root-admin.kubeconfig
  register: clusters

- name: Every cluster of the tree is healthy
  ansible.builtin.assert:
    that: clusters.health.healthy == clusters.health.clusters

- name: Cluster b's heartbeat is recent
  ansible.builtin.assert:
    that: (clusters.edgeclusters | selectattr('name', 'eq', 'b') | first).heartbeat_age_seconds < 30
"""

RETURN = r"""
edgeclusters:
  description: One entry per EdgeCluster.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Cluster name., type: str}
    labels: {description: Its labels., type: dict}
    kube_distro: {description: C(spec.kubeDistro)., type: str}
    kubeconfig: {description: "C(spec.kubeconfig), the path on the cluster's host.", type: str}
    health: {description: "C(healthy), C(unhealthy), C(disconnected) or C(unknown).", type: str}
    last_heartbeat: {description: Time of the last heartbeat (RFC 3339)., type: str}
    heartbeat_age_seconds: {description: Seconds since then (this host's clock)., type: float}
    sub_clusters: {description: Path -> health of every cluster below it., type: dict}
    received_missions: {description: Missions the cluster received., type: list, elements: str}
    active_missions: {description: Received Missions it runs., type: list, elements: str}
    nodes: {description: Its nodes., type: list, elements: str}
    edge_nodes: {description: Its edge nodes., type: list, elements: str}
    agent_version: {description: Version of its agent., type: str}
    message: {description: "Why it is not healthy, when it is not.", type: str}
tree:
  description: Name -> C({health, heartbeat_age_seconds, children}); children nest by path.
  returned: always
  type: dict
  sample:
    b:
      health: healthy
      heartbeat_age_seconds: 3.2
      children: {c: {health: healthy, children: {d: {health: unhealthy, children: {}}}}}
health:
  description: How many clusters of the known tree are in each health state, and in all.
  returned: always
  type: dict
  sample: {healthy: 2, unhealthy: 1, disconnected: 0, unknown: 0, clusters: 3}
"""

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (
    cluster_view,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.names import (
    API_VERSION,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.ansible_module import (
    read_named_or_selected,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.runner import (
    k8s_module,
    run_module,
)

OWN_OPTIONS = {"name": {"type": "str"}, "label_selector": {"type": "str"}}


def run(module, client) -> dict:  # noqa: ANN001 - KubeClient
    p = module.params
    items = read_named_or_selected(
        client, API_VERSION, "edgeclusters", p["name"], p["label_selector"]
    )
    entries = sorted((cluster_view.cluster_entry(ec) for ec in items), key=lambda e: e["name"])
    return {
        "changed": False,
        "edgeclusters": entries,
        "tree": cluster_view.cluster_tree(entries),
        "health": cluster_view.health_counts(entries),
    }


def main() -> None:
    run_module(k8s_module(OWN_OPTIONS), run, "edgecluster_info")


if __name__ == "__main__":
    main()

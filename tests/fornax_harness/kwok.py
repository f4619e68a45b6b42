"""Simulated nodes (kwok) so that pods of Deployments and Jobs run without a kubelet.

kwok watches the nodes carrying its annotation and plays kubelet for them: it marks the node
Ready and moves the pods bound to it through their lifecycle (Running, Ready; Succeeded for
Jobs). With the controller-manager and scheduler of the cluster, a Deployment reports real
ready replicas. The pod network is simulated: no traffic is ever sent to the pod addresses.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .process import HarnessError

if TYPE_CHECKING:
    from .cluster import TestCluster

ANNOTATION = "kwok.x-k8s.io/node"
POD_CIDR = "10.244.0.1/24"  # bookkeeping only: pods of simulated nodes have no network


def node_object(name: str, labels: dict[str, str] | None = None) -> dict:
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "type": "kwok", **(labels or {})},
        },
        "status": {"allocatable": capacity, "capacity": capacity},
    }


def add_node(cluster: TestCluster, name: str, labels: dict[str, str] | None = None) -> None:
    with cluster.client() as client:
        client.apply(
            f"/api/v1/nodes/{name}", node_object(name, labels), field_manager="fornax-harness"
        )


def start_kwok(cluster: TestCluster, deadline: float, nodes: int = 1) -> None:
    """Start kwok for ``cluster``, register ``nodes`` simulated nodes, wait until they are Ready."""
    cluster.spawn(
        "kwok",
        [
            str(cluster.bin / "kwok"),
            f"--kubeconfig={cluster.kubeconfig_path}",
            f"--manage-nodes-with-annotation-selector={ANNOTATION}=fake",
            f"--cidr={POD_CIDR}",
            "--node-ip=10.244.0.1",
            "--node-lease-duration-seconds=40",
        ],
    )
    names = [f"{cluster.name}-node-{i}" for i in range(nodes)]
    for name in names:
        add_node(cluster, name)
    with cluster.client() as client:
        for name in names:
            while True:
                node = client.get(f"/api/v1/nodes/{name}")
                conditions = (node.get("status") or {}).get("conditions") or []
                if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    break
                if not cluster.processes["kwok"].alive:
                    raise HarnessError(
                        f"kwok of cluster {cluster.name} exited; last log lines:\n"
                        f"{cluster.processes['kwok'].tail()}"
                    )
                if time.monotonic() > deadline:
                    raise HarnessError(f"simulated node {name} of {cluster.name} not Ready in time")
                time.sleep(0.1)

"""Real nodes: containerd + kubelet installed by the collection's roles run real pods.

The node runs on this machine itself, not nested in a podman container (docs/nodes.md says
why): containerd and the kubelet are the harness's processes, everything else (configuration,
CNI bridge config, the node's certificates signed by the cluster's CA, its kubeconfigs, the
images imported from OCI archives, the labels) is what the roles write. Against real API
servers with controller-manager and scheduler (no kwok). Root is needed (mounts, cgroups,
network namespaces): without it, or without containerd, the test skips (fails under CI=true).
Everything is named ``i11nodes``; the node is taken apart with the role's fornax-node-reset.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.nodes import EDGE_NODE_LABEL
from fornax_harness.cluster import ClusterSpec, TestCluster
from fornax_harness.manifests import mission
from fornax_harness.node import TestNode, images_dir
from fornax_harness.prereq import require
from fornax_harness.tree import start_tree, wait_for

TAG = "i11nodes"
POD_CIDR = "10.251.77.0/24"
HTTPD = "localhost/fornax/httpd:1"
PODS = "/api/v1/namespaces/default/pods"
# Five playbook runs on a loaded two-core machine took up to 13 minutes (usually 3-5).
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def node_images() -> Path:
    require(os.geteuid() == 0, "root (a node mounts, makes cgroups and netns)", "Run as root.")
    for tool in ("containerd", "ctr", "runc", "podman"):
        require(shutil.which(tool) is not None, tool, "apt-get install containerd runc podman")
    require(
        Path("/usr/lib/cni/bridge").exists(),
        "CNI plugins",
        "apt-get install containernetworking-plugins",
    )
    return images_dir()


def pod_spec(name: str) -> dict:
    """An httpd pod from the node's own image (no registry): Ready once it answers on 8080."""
    return {
        "automountServiceAccountToken": False,
        "containers": [
            {
                "name": "web",
                "image": HTTPD,
                "imagePullPolicy": "Never",
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
            }
        ],
        "terminationGracePeriodSeconds": 1,
    }


def node_ready(cluster: TestCluster, name: str) -> bool:
    with cluster.client() as client:
        node = client.get_or_none(f"/api/v1/nodes/{name}") or {}
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def pod_ready(cluster: TestCluster, name: str) -> dict | None:
    with cluster.client() as client:
        pod = client.get_or_none(f"{PODS}/{name}") or {}
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return pod if ready and status.get("phase") == "Running" and status.get("podIP") else None


@pytest.fixture
def node_cluster(
    node_images: Path, cluster_factory, tmp_path: Path
) -> Iterator[tuple[TestCluster, TestNode]]:
    [cluster] = cluster_factory(ClusterSpec(f"{TAG}-leaf", controllers=True))
    node = TestNode(cluster, tmp_path, TAG, POD_CIDR)
    try:
        yield cluster, node
    finally:
        leftovers = node.destroy()
        assert not Path(f"/sys/class/net/{node.bridge}").exists(), "the CNI bridge is left"
        assert not leftovers.strip(), leftovers


def bring_up(node: TestNode, images: Path) -> Path:
    """Install with the roles, start containerd, import, start the kubelet, label."""
    inventory = node.inventory(images)
    node.play(inventory, "install")
    node.start()
    node.play(inventory, "install")  # containerd runs now: the images are imported
    assert "localhost/fornax/pause:1" in node.ctr("images", "list", "--quiet")
    node.start_kubelet()
    node.play(inventory, "label")
    return inventory


def test_a_pod_runs_ready_with_an_ip_on_a_node_the_roles_installed(
    node_cluster: tuple[TestCluster, TestNode], node_images: Path
) -> None:
    cluster, node = node_cluster
    started = time.monotonic()
    inventory = bring_up(node, node_images)
    node_seconds = time.monotonic() - started
    assert node_ready(cluster, node.name)
    with cluster.client() as client:
        labels = client.get(f"/api/v1/nodes/{node.name}")["metadata"]["labels"]
    assert labels[EDGE_NODE_LABEL] == "" and labels["fornax-test"] == TAG

    changed, out = node.play(inventory, "install")
    assert changed == 0, f"a second run changed something:\n{out[-3000:]}"
    changed, out = node.play(inventory, "install", "--check")
    assert changed == 0, f"check mode on the installed node reports changes:\n{out[-3000:]}"

    created = time.monotonic()
    with cluster.client() as client:
        client.create(
            PODS,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web"},
                "spec": {**pod_spec("web"), "nodeName": node.name},
            },
        )
    pod = wait_for(lambda: pod_ready(cluster, "web"), 90, "pod web Running and Ready")
    ready_seconds = time.monotonic() - created
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(POD_CIDR)
    print(f"node installed and Ready in {node_seconds:.1f} s; pod Ready in {ready_seconds:.1f} s")


def test_a_mission_deployment_gets_ready_replicas_on_a_leaf_clusters_real_node(
    node_images: Path, k8s_bin: Path, tmp_path: Path
) -> None:
    tree = start_tree(
        tmp_path / "tree",
        {f"{TAG}-root": None, f"{TAG}-leaf": f"{TAG}-root"},
        real_nodes=(f"{TAG}-leaf",),
    )
    leaf = tree[f"{TAG}-leaf"]
    node = TestNode(leaf, tmp_path, TAG, POD_CIDR)
    leftovers = ""
    try:
        bring_up(node, node_images)
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec("web")},
            },
        }
        created = time.monotonic()
        with tree.client(f"{TAG}-root") as root:
            root.create(names.MISSIONS, mission("web", yaml.safe_dump(deployment)))

        def ready_replicas() -> bool:
            with leaf.client() as client:
                found = client.get_or_none("/apis/apps/v1/namespaces/default/deployments/web") or {}
            return (found.get("status") or {}).get("readyReplicas") == 1

        wait_for(ready_replicas, 120, "the Mission's Deployment ready on the leaf's real node")
        seconds = time.monotonic() - created
        with leaf.client() as client:
            pods = client.get(f"{PODS}?labelSelector=app%3Dweb")["items"]
        assert [p["spec"]["nodeName"] for p in pods] == [node.name]
        assert all(
            ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network(POD_CIDR)
            for p in pods
        )

        def edge_nodes() -> list:
            with tree.client(f"{TAG}-root") as root:
                ec = root.get_or_none(names.edgecluster_path(f"{TAG}-leaf")) or {}
            return (ec.get("status") or {}).get("edgeNodes") or []

        assert wait_for(edge_nodes, 30, "the leaf's EdgeCluster counts the edge node") == [
            node.name
        ]
        print(f"Mission created at the root -> Deployment ready on the real node: {seconds:.1f} s")
    finally:
        leftovers = node.destroy()
        tree.destroy()
    assert not leftovers.strip(), leftovers

"""Real nodes: containerd + kubelet installed by the collection's roles run real pods.

The node runs on this machine itself, not nested in a podman container (docs/nodes.md says
why): containerd and the kubelet are the harness's processes, everything else (configuration,
CNI bridge config, the node's certificates signed by the cluster's CA, its kubeconfigs, the
images imported from OCI archives, the labels) is what the roles write. Against real API
servers with controller-manager and scheduler (no kwok). Root is needed (mounts, cgroups,
network namespaces): without it, or without containerd, the test skips (fails under CI=true).
Everything is named ``i11nodes`` (or ``$FORNAX_TEST_ID``); the node is taken apart with the role's fornax-node-reset.
`kubectl exec` and `kubectl logs` reach the pod through the kubelet (the API server's
kubelet-client certificate, as the control_plane role issues and binds it), and the API server
verifies the kubelet's serving certificate against the cluster's CA: the one the kubelet role
signed for the node's reported address and name (a self-signed one fails the handshake).
kube-proxy runs in its nftables mode (its own ``kube-proxy`` tables); after the reset nothing of
it, nor of the kubelet's own iptables chains, is left in this machine's netfilter. The tree
test also proves a Mission's Service answering another pod through its ClusterIP, and edge
autonomy at node level: the leaf's API server goes away and comes back, the pod serves all
along and is never restarted.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names, security
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.nodes import EDGE_NODE_LABEL
from fornax_harness.cluster import ClusterSpec, TestCluster
from fornax_harness.node import (
    BUSYBOX,
    HTTPD_PAGE,
    PODS,
    TestNode,
    bring_up,
    images_dir,
    kubelet_leftovers,
    mission_pod_ready_seconds,
    node_ready,
    node_tree,
    pod_ready,
    pod_spec,
    proxy_leftovers,
    ready_app_pods,
    web_service,
)
from fornax_harness.pki import CertificateAuthority
from fornax_harness.prereq import require
from fornax_harness.tree import wait_for

TAG = os.environ.get("FORNAX_TEST_ID", "i11nodes")
POD_CIDR = "10.251.77.0/24"
# Five playbook runs on a loaded two-core machine took up to 13 minutes (usually 3-5).
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def node_images() -> Path:
    require(os.geteuid() == 0, "root (a node mounts, makes cgroups and netns)", "Run as root.")
    for tool in ("containerd", "ctr", "runc", "podman", "nft"):
        require(
            shutil.which(tool) is not None, tool, "apt-get install containerd runc podman nftables"
        )
    require(
        Path("/usr/lib/cni/bridge").exists(),
        "CNI plugins",
        "apt-get install containernetworking-plugins",
    )
    return images_dir()


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
        assert proxy_leftovers() == [], "kube-proxy's rules are left"
        assert kubelet_leftovers() == [], "the kubelet's iptables chains are left"


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
    check_serving_certificate(cluster, node)

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
                "spec": {**pod_spec(), "nodeName": node.name},
            },
        )
    pod = wait_for(lambda: pod_ready(cluster, "web"), 90, "pod web Running and Ready")
    ready_seconds = time.monotonic() - created
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(POD_CIDR)
    check_exec_and_logs(cluster, "web")
    print(f"node installed and Ready in {node_seconds:.1f} s; pod Ready in {ready_seconds:.1f} s")


def check_serving_certificate(cluster: TestCluster, node: TestNode) -> None:
    """The API server verifies the kubelet it calls: it runs with
    ``--kubelet-certificate-authority`` (security.kubelet_client_args), and the kubelet serves,
    at the address it reports, a certificate of the cluster's CA naming that address and the
    node's name. A self-signed serving certificate (the kubelet's own) fails this handshake as
    it fails the API server's."""
    authority = f"--kubelet-certificate-authority={cluster.ca.pair.cert_path.resolve()}"
    assert authority in cluster.processes["kube-apiserver"].argv
    address = node.internal_ip()
    assert not ipaddress.ip_address(address).is_loopback
    cert = node.serving_certificate(address)
    assert ("IP Address", address) in cert["subjectAltName"]
    assert ("DNS", node.name) in cert["subjectAltName"]
    assert ((("commonName", f"{security.NODE_USER_PREFIX}{node.name}"),)) in cert["subject"]
    # and only the cluster's CA makes it pass: against another CA the handshake fails
    other = CertificateAuthority(node.work / "other-ca", "other")
    with pytest.raises(ssl.SSLCertVerificationError):
        node.serving_certificate(address, cafile=other.pair.cert_path)


def check_exec_and_logs(cluster: TestCluster, pod: str) -> None:
    """``kubectl exec`` and ``kubectl logs`` through the API server to the node's kubelet: the
    API server's kubelet-client certificate (security.kubelet_client), x509-authenticated and
    Webhook-authorized by the kubelet the role configured (401 "Unauthorized" without it), and
    the kubelet's serving certificate verified by the API server against the cluster's CA
    (check_serving_certificate; "x509: certificate signed by unknown authority" otherwise)."""
    kubectl = [str(cluster.bin / "kubectl"), f"--kubeconfig={cluster.kubeconfig_path}"]

    def run(*args: str) -> str:
        done = subprocess.run(
            [*kubectl, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    assert HTTPD_PAGE in run("exec", pod, "--", "cat", "/www/index.html")
    # busybox httpd -v logs each request: the readiness probes made before the pod got Ready
    assert "response:200" in run("logs", pod)


def client_pod(node: TestNode, service: str) -> dict:
    """A busybox pod that fetches the page through the Service's ClusterIP (from the env vars
    the kubelet gives pods made after the Service: no DNS here), retrying a bounded while.
    ``nc``, not ``wget``: the static busybox's wget crashes in a FROM-scratch image (glibc's
    name lookup wants NSS modules it cannot load)."""
    env = service.upper().replace("-", "_")
    script = (
        "for i in $(seq 60); do printf 'GET / HTTP/1.0\\r\\n\\r\\n'"
        f" | nc -w 2 ${env}_SERVICE_HOST ${env}_SERVICE_PORT | grep -q '{HTTPD_PAGE}'"
        " && exit 0; sleep 1; done; exit 1"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{service}-client"},
        "spec": {
            "automountServiceAccountToken": False,
            "nodeName": node.name,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "client",
                    "image": BUSYBOX,
                    "imagePullPolicy": "Never",
                    "command": ["/bin/sh", "-c", script],
                }
            ],
        },
    }


def check_service_answers_another_pod(node: TestNode, service: str) -> None:
    leaf = node.cluster
    with leaf.client() as client:
        found = client.get(f"/api/v1/namespaces/default/services/{service}")
        assert ipaddress.ip_address(found["spec"]["clusterIP"])
        client.create(PODS, client_pod(node, service))

    def finished() -> dict | None:
        with leaf.client() as client:
            pod = client.get(f"{PODS}/{service}-client")
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    pod = wait_for(finished, 120, f"the client pod of Service {service} finished")
    assert pod["status"]["phase"] == "Succeeded", (
        f"no answer through Service {service} ({found['spec']['clusterIP']}): "
        f"{pod['status']}\nkube-proxy:\n{node.processes['kube-proxy'].tail()}"
    )


def http_get(url: str) -> str:
    """From this machine straight to a pod IP (no proxy from the environment)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as answer:
        return answer.read().decode()


def check_pods_outlive_the_control_plane(node: TestNode, app: str) -> None:
    """Edge autonomy: the API server goes away, the pod serves on; it comes back, the node
    reports Ready again and the pod is the same, never restarted."""
    leaf = node.cluster
    [before] = ready_app_pods(leaf, app)
    url = f"http://{before['status']['podIP']}:8080/"
    restarts = before["status"]["containerStatuses"][0]["restartCount"]
    tasks = sorted(node.ctr("tasks", "list").splitlines())  # ctr lists them in no set order
    log = node.work / "logs" / "kubelet.log"
    seen = log.stat().st_size
    leaf.stop_apiserver()
    try:
        wait_for(
            lambda: b"connection refused" in log.read_bytes()[seen:],
            90,
            "the kubelet to notice that its API server is gone",
            interval=1,
        )
        assert HTTPD_PAGE in http_get(url)
        assert sorted(node.ctr("tasks", "list").splitlines()) == tasks, "the node's tasks changed"
    finally:
        leaf.start_apiserver()
    wait_for(lambda: node_ready(leaf, node.name), 120, "the node Ready again", interval=0.5)
    [after] = wait_for(lambda: ready_app_pods(leaf, app), 60, "the pod Running and Ready again")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["status"]["containerStatuses"][0]["restartCount"] == restarts
    assert HTTPD_PAGE in http_get(url)


def test_a_mission_deployment_gets_ready_replicas_on_a_leaf_clusters_real_node(
    node_images: Path, k8s_bin: Path, tmp_path: Path
) -> None:
    """A Mission's Deployment + Service on the leaf's real node: Ready, counted, answering
    another pod through the ClusterIP, and running on while the leaf's API server is away."""
    tree, node = node_tree(tmp_path, TAG, POD_CIDR, node_images)
    leftovers = ""
    try:
        seconds = mission_pod_ready_seconds(tree, f"{TAG}-root", node, "web", web_service("web"))
        [pod] = ready_app_pods(node.cluster, "web")
        assert pod["spec"]["nodeName"] == node.name
        assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(POD_CIDR)

        def edge_nodes() -> list:
            with tree.client(f"{TAG}-root") as root:
                ec = root.get_or_none(names.edgecluster_path(f"{TAG}-leaf")) or {}
            return (ec.get("status") or {}).get("edgeNodes") or []

        assert wait_for(edge_nodes, 30, "the leaf's EdgeCluster counts the edge node") == [
            node.name
        ]
        print(f"Mission created at the root -> its pod Ready on the real node: {seconds:.1f} s")
        started = time.monotonic()
        check_service_answers_another_pod(node, "web")
        service_seconds = time.monotonic() - started
        check_pods_outlive_the_control_plane(node, "web")
        print(
            f"Service answered another pod in {service_seconds:.1f} s; control plane away and"
            f" back in {time.monotonic() - started - service_seconds:.1f} s"
        )
    finally:
        leftovers = node.destroy()
        tree.destroy()
    assert not leftovers.strip(), leftovers
    assert proxy_leftovers() == [], "kube-proxy's rules are left"
    assert kubelet_leftovers() == [], "the kubelet's iptables chains are left"

"""The test-cluster harness against the real binaries: start, identity, RBAC, tokens, clean-up."""

from __future__ import annotations

import socket
import time

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    ConnectionSettings,
    settings_from_kubeconfig,
)
from fornax_harness import ClusterSpec, HarnessError
from fornax_harness.pki import CertificateAuthority

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def whoami(client: KubeClient) -> dict:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    return client.create(WHOAMI, review)["status"]["userInfo"]


def test_cluster_serves_tls_with_its_own_ca_and_rbac(cluster):
    with cluster.client() as admin:
        assert admin.request("GET", "/readyz") == "ok"
        info = whoami(admin)
        assert info["username"] == "fornax-admin"
        assert "system:masters" in info["groups"]
        version = admin.get("/version")
        assert version["gitVersion"].startswith("v1.3")

    # Another identity of the same CA authenticates but RBAC grants it nothing.
    nobody = cluster.user_kubeconfig("nobody")
    with KubeClient(settings_from_kubeconfig(str(nobody))) as client:
        assert whoami(client)["username"] == "nobody"
        with pytest.raises(KubeApiError) as denied:
            client.get("/api/v1/namespaces")
        assert denied.value.status == 403


def test_anonymous_requests_are_refused(cluster):
    settings = ConnectionSettings(server=cluster.server, ca_data=cluster.ca.cert_pem)
    with KubeClient(settings) as anonymous, pytest.raises(KubeApiError) as refused:
        anonymous.get("/api/v1/namespaces")
    assert refused.value.status == 401


def test_untrusted_server_certificate_is_rejected(cluster, tmp_path):
    # A client that trusts another CA must not talk to this server.
    other = CertificateAuthority(tmp_path / "other", "other")
    settings = ConnectionSettings(server=cluster.server, ca_data=other.cert_pem, token="x")
    with (
        KubeClient(settings, connect_retries=0) as client,
        pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get("/version")


def test_service_account_tokens_are_issued_and_accepted(cluster):
    ns, sa = "default", "token-probe"
    with cluster.client() as admin:
        admin.apply(
            f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}",
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": sa, "namespace": ns},
            },
            field_manager="test",
        )
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 600},
        }
        token = admin.create(f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token", request)[
            "status"
        ]["token"]
        try:
            settings = ConnectionSettings(
                server=cluster.server, ca_data=cluster.ca.cert_pem, token=token
            )
            with KubeClient(settings) as client:
                assert whoami(client)["username"] == f"system:serviceaccount:{ns}:{sa}"
        finally:
            admin.delete(f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}")


def test_stop_leaves_no_process_and_destroy_no_directory(cluster_factory):
    [c] = cluster_factory(ClusterSpec("ephemeral", crds=False))
    processes = list(c.processes.values())
    assert processes and all(p.alive for p in processes)
    c.destroy()
    assert not any(p.alive for p in processes)
    assert not c.dir.exists()


def test_api_server_restart_keeps_the_data(cluster_factory):
    [c] = cluster_factory(ClusterSpec("restart", crds=False))
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "keep", "namespace": "default"},
        "data": {"k": "v"},
    }
    with c.client() as client:
        client.create("/api/v1/namespaces/default/configmaps", cm)
    c.stop_apiserver()
    with c.client(connect_retries=0) as client, pytest.raises(Exception, match="did not answer"):
        client.get("/version")
    c.start_apiserver()
    with c.client() as client:
        assert client.get("/api/v1/namespaces/default/configmaps/keep")["data"] == {"k": "v"}


def test_port_in_use_is_a_clear_error(cluster_factory):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(
            HarnessError,
            match=rf"port {port} for kube-apiserver of cluster taken is already in use",
        ):
            cluster_factory(ClusterSpec("taken", api_port=port, crds=False))


def test_chain_of_four_independent_clusters(chain):
    assert [c.name for c in chain] == ["a", "b", "c", "d"]
    assert len({c.server for c in chain}) == 4
    cas = set()
    for c in chain:
        with c.client() as client:
            kinds = {
                r["kind"] for r in client.get("/apis/edgeclusters.kubeedge.io/v1")["resources"]
            }
            assert {"Mission", "EdgeCluster"} <= kinds
        cas.add(c.ca.cert_pem)
    assert len(cas) == 4, "every cluster has its own CA"
    # Objects in one cluster are invisible in the others (separate etcd data).
    ec = {
        "apiVersion": "edgeclusters.kubeedge.io/v1",
        "kind": "EdgeCluster",
        "metadata": {"name": "only-in-a"},
    }
    path = "/apis/edgeclusters.kubeedge.io/v1/edgeclusters"
    with chain[0].client() as a, chain[1].client() as b:
        a.create(path, ec)
        try:
            assert b.get_or_none(f"{path}/only-in-a") is None
        finally:
            a.delete(f"{path}/only-in-a")


def test_controllers_and_kwok_make_deployments_ready(cluster_factory):
    """With controller-manager, scheduler and kwok nodes, Deployments report ready replicas."""
    [c] = cluster_factory(ClusterSpec("workloads", controllers=True, kwok=True, crds=False))
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
            },
        },
    }
    path = "/apis/apps/v1/namespaces/default/deployments"
    with c.client() as client:
        client.create(path, deployment)
        deadline = time.monotonic() + 60
        status: dict = {}
        while time.monotonic() < deadline:
            status = client.get(f"{path}/web").get("status") or {}
            if status.get("readyReplicas") == 2:
                break
            time.sleep(0.2)
        assert status.get("readyReplicas") == 2, status
        pods = client.get("/api/v1/namespaces/default/pods", labelSelector="app=web")["items"]
        assert {p["spec"]["nodeName"] for p in pods} == {"workloads-node-0"}


def test_a_component_that_dies_at_start_is_reported_with_its_log(cluster_factory):
    started = time.monotonic()
    with pytest.raises(HarnessError) as failed:
        cluster_factory(ClusterSpec("broken", crds=False, apiserver_args=("--no-such-flag",)))
    message = str(failed.value)
    assert "kube-apiserver of cluster broken exited during start-up" in message
    assert "unknown flag: --no-such-flag" in message, message
    assert time.monotonic() - started < 30, "fails fast, no waiting for a timeout"

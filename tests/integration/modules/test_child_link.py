"""child_link on a real parent: the exact objects, least privilege, rotation, revocation, removal."""

from __future__ import annotations

import time

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import child_link
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)

API = "/apis/edgeclusters.kubeedge.io/v1"
NS = child_link.NAMESPACE


@pytest.fixture
def admin(cluster):
    with cluster.client() as client:
        yield client
        for name in ("lb", "ls"):
            child_link.unlink_child(client, name)
        for item in client.get(f"{API}/missions")["items"]:
            client.delete_if_exists(f"{API}/missions/{item['metadata']['name']}")


def as_child(kubeconfig: dict) -> KubeClient:
    return KubeClient(settings_from_kubeconfig(kubeconfig), connect_retries=0)


def forbidden(call, *args, **kwargs) -> None:
    with pytest.raises(KubeApiError) as refused:
        call(*args, **kwargs)
    assert refused.value.status == 403, refused.value


def unauthorized(client: KubeClient, within: float = 20.0) -> None:
    """The token is refused. The API server caches successful authentications for 10 s, so a
    token revoked just now may still pass for that long: poll, bounded."""
    deadline = time.monotonic() + within
    while True:
        try:
            client.get(f"{API}/missions")
        except KubeApiError as refused:
            if refused.status == 401:
                return
            assert refused.status == 403, refused  # authenticated from cache, RBAC gone
        assert time.monotonic() < deadline, "revoked token still accepted"
        time.sleep(0.5)


def test_link_creates_exactly_the_documented_objects(admin):
    kubeconfig = child_link.link_child(admin, "lb", {"company": "futurewei"}, "k3s", 600)
    labels = {"app.kubernetes.io/managed-by": "centaurus.fornax", child_link.CHILD_LABEL: "lb"}
    expected = {
        f"/api/v1/namespaces/{NS}/serviceaccounts/child-lb",
        f"{API}/edgeclusters/lb",
        f"{API}/clusterreports/lb",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/fornax:child:lb",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/fornax:child:lb",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles/fornax:child:lb",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings/fornax:child:lb",
    }
    for path in expected:
        obj = admin.get(path)
        assert labels.items() <= obj["metadata"]["labels"].items(), path
    ec = admin.get(f"{API}/edgeclusters/lb")
    assert ec["metadata"]["labels"]["company"] == "futurewei"
    assert ec["spec"]["kubeDistro"] == "k3s"
    assert "spec" not in admin.get(f"{API}/clusterreports/lb") or not admin.get(
        f"{API}/clusterreports/lb"
    ).get("spec")
    role = admin.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/fornax:child:lb")
    assert role["rules"] == child_link.cluster_role_rules("lb")
    assert admin.get(f"/api/v1/namespaces/{NS}")["metadata"]["name"] == NS
    # The kubeconfig names the parent's endpoint and CA and holds a bounded token.
    cluster_entry = kubeconfig["clusters"][0]["cluster"]
    assert cluster_entry["server"] == admin.settings.server
    claims = child_link.token_claims(kubeconfig["users"][0]["user"]["token"])
    assert claims["sub"] == f"system:serviceaccount:{NS}:child-lb"
    assert claims["exp"] - claims["iat"] <= 3600  # 600 s asked; the server may round up
    # Converging again changes nothing.
    again = child_link.ensure_link_objects(admin, "lb", {"company": "futurewei"}, "k3s")
    assert [c["object"] for c in again if c["changed"]] == []


def test_child_identity_is_least_privilege(admin):
    kubeconfig = child_link.link_child(admin, "lb", {"zone": "x"}, token_ttl=600)
    child_link.link_child(admin, "ls", token_ttl=600)  # a sibling
    admin.create(
        f"{API}/missions",
        {
            "apiVersion": "edgeclusters.kubeedge.io/v1",
            "kind": "Mission",
            "metadata": {"name": "m"},
            "spec": {"missioncommand": {"command": "true"}},
        },
    )
    with as_child(kubeconfig) as child:
        # What the agent needs.
        assert [m["metadata"]["name"] for m in child.get(f"{API}/missions")["items"]] == ["m"]
        assert child.get(f"{API}/missions/m")["spec"]["missioncommand"]["command"] == "true"
        next(iter(child.watch(f"{API}/missions", timeout_seconds=1)), None)
        # the spec mirrors the agent watches (kept by the parent's agent, none here yet)
        assert child.get(f"{API}/missionspecs")["items"] == []
        next(iter(child.watch(f"{API}/missionspecs", timeout_seconds=1)), None)
        own = child.get(f"{API}/edgeclusters/lb")
        own["spec"]["kubeconfig"] = "/etc/fornax/lb.kubeconfig"
        child.replace(f"{API}/edgeclusters/lb", own)
        child.patch(
            f"{API}/edgeclusters/lb/status",
            {"status": {"healthStatus": "healthy", "lastHeartbeat": "2026-11-22T08:00:00Z"}},
        )
        child.patch(
            f"{API}/clusterreports/lb",
            {"spec": {"missionCount": 1, "missions": {"m": {"states": {"lb": "done"}}}}},
        )
        token = child.create(
            f"/api/v1/namespaces/{NS}/serviceaccounts/child-lb/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 600},
            },
        )
        assert token["status"]["token"]
        # What it must not do.
        forbidden(child.get, f"{API}/edgeclusters/ls")
        forbidden(child.patch, f"{API}/edgeclusters/ls/status", {"status": {"message": "x"}})
        forbidden(child.patch, f"{API}/edgeclusters/ls", {"metadata": {"labels": {"a": "b"}}})
        forbidden(child.get, f"{API}/clusterreports/ls")
        forbidden(child.patch, f"{API}/clusterreports/ls", {"spec": {"missionCount": 9}})
        forbidden(child.get, f"{API}/edgeclusters")  # no listing of siblings either
        forbidden(
            child.create,
            f"{API}/edgeclusters",
            {
                "apiVersion": child_link.GROUP_VERSION,
                "kind": "EdgeCluster",
                "metadata": {"name": "z"},
            },
        )
        forbidden(child.patch, f"{API}/missions/m", {"metadata": {"labels": {"a": "b"}}})
        forbidden(child.patch, f"{API}/missions/m/status", {"status": {"states": {"lb": "x"}}})
        forbidden(child.delete, f"{API}/missions/m")
        mirror = {"apiVersion": child_link.GROUP_VERSION, "kind": "MissionSpec"}
        mirror.update(metadata={"name": "m"}, missionGeneration=1, spec={})
        forbidden(child.create, f"{API}/missionspecs", mirror)
        forbidden(
            child.create,
            f"{API}/missions",
            {"apiVersion": child_link.GROUP_VERSION, "kind": "Mission", "metadata": {"name": "n"}},
        )
        forbidden(child.get, f"/api/v1/namespaces/{NS}/secrets")
        forbidden(child.get, "/api/v1/namespaces/default/secrets")
        forbidden(
            child.create,
            f"/api/v1/namespaces/{NS}/serviceaccounts/child-ls/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
        )
    assert admin.get(f"{API}/edgeclusters/lb")["status"]["healthStatus"] == "healthy"


def test_rotation_revocation_and_unlink(admin):
    first = child_link.link_child(admin, "lb", token_ttl=600)
    server, ca = child_link.parent_endpoint(admin)
    assert child_link.token_reusable(admin, "lb", first, server, ca)
    assert not child_link.token_reusable(admin, "ls", first, server, ca)  # another child's SA
    # Rotation without revocation: both tokens work.
    second = child_link.link_child(admin, "lb", token_ttl=600)
    for config in (first, second):
        with as_child(config) as child:
            child.get(f"{API}/edgeclusters/lb")
    # Revocation: the service account is re-created, every earlier token stops working.
    third = child_link.link_child(admin, "lb", token_ttl=600, revoke_previous=True)
    for config in (first, second):
        with as_child(config) as child:
            unauthorized(child)
    assert not child_link.token_reusable(admin, "lb", first, server, ca)
    with as_child(third) as child:
        child.get(f"{API}/edgeclusters/lb")
    # Unlink removes exactly the child's objects; the shared namespace and the sibling stay.
    child_link.link_child(admin, "ls", token_ttl=600)
    removed = child_link.unlink_child(admin, "lb")
    assert sorted(removed) == sorted(
        [child_link.describe(o) for o in child_link.child_objects("lb")]
        + ["ConfigMap/fornax-system/fornax-child-tokens[horizon.child-lb]"]
    )
    with as_child(third) as child:
        unauthorized(child)
    assert admin.get_or_none(f"{API}/edgeclusters/lb") is None
    assert admin.get_or_none(f"{API}/edgeclusters/ls") is not None
    assert admin.get_or_none(f"/api/v1/namespaces/{NS}") is not None
    assert child_link.unlink_child(admin, "lb") == []


def test_bad_requests_name_the_field(admin):
    with pytest.raises(child_link.LinkError, match="name: 'Bad_Name'"):
        child_link.link_child(admin, "Bad_Name")
    with pytest.raises(child_link.LinkError, match="kube_distro: 'openshift'"):
        child_link.link_child(admin, "lb", distro="openshift")
    with pytest.raises(child_link.LinkError, match="token_ttl: 10"):
        child_link.link_child(admin, "lb", token_ttl=10)
    with pytest.raises(child_link.LinkError, match="api_server"):
        child_link.link_child(admin, "lb", server="http://plain")

"""A child's token requests are bounded on a real parent, and a stolen token dies.

The parent's API server runs with the tree's security flags (its token cap), and the link puts
the admission policy fornax-child-tokens in front of the children's own token requests:
for themselves only, for the parent's own audiences, within the cap, not bound to any other
object, and only before the link's horizon. A run of the link after a third of its horizon
re-makes it, which kills every earlier token, renewed ones included.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import child_link, security
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)

API = "/apis/edgeclusters.kubeedge.io/v1"
NS = child_link.NAMESPACE
TEN_YEARS = 10 * 365 * 86400


@pytest.fixture
def admin(cluster):
    with cluster.client() as client:
        yield client
        for name in ("tb", "ts"):
            child_link.unlink_child(client, name)


def as_child(kubeconfig: dict) -> KubeClient:
    return KubeClient(settings_from_kubeconfig(kubeconfig), connect_retries=0)


def token_request(client: KubeClient, name: str, **spec) -> dict:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    return client.create(f"/api/v1/namespaces/{NS}/serviceaccounts/child-{name}/token", body)


def refused(call, *args, **kwargs) -> KubeApiError:
    with pytest.raises(KubeApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def with_token(kubeconfig: dict, token: str) -> dict:
    config = {**kubeconfig, "users": [dict(u) for u in kubeconfig["users"]]}
    config["users"][0] = {**config["users"][0], "user": {"token": token}}
    return config


def wait_unauthorized(kubeconfig: dict, within: float = 15.0) -> float:
    """Seconds until the token gets 401 (the API server caches a good token for 10 s)."""
    start = time.monotonic()
    with as_child(kubeconfig) as client:
        while True:
            try:
                client.get(f"{API}/edgeclusters/tb")
            except KubeApiError as answer:
                if answer.status == 401:
                    return time.monotonic() - start
            assert time.monotonic() - start < within, f"token still accepted after {within} s"
            time.sleep(0.25)


def test_a_childs_token_requests_are_bounded(admin, cluster):
    kubeconfig = child_link.link_child(admin, "tb", token_ttl=600)
    child_link.link_child(admin, "ts", token_ttl=600)  # a sibling
    audiences = security.api_audiences(cluster.server)
    with as_child(kubeconfig) as child:
        # What the agent does: a token for itself, within the cap, default audiences.
        renewed = token_request(child, "tb", expirationSeconds=3600)
        claims = child_link.token_claims(renewed["status"]["token"])
        assert claims["aud"] == audiences
        assert claims["exp"] - claims["iat"] == 3600
        # What it may not do, each refused with the reason.
        longer = refused(token_request, child, "tb", expirationSeconds=TEN_YEARS)
        assert longer.status == 403
        assert f"is longer than the cap of {security.MAX_TOKEN_SECONDS} seconds" in str(longer)
        elsewhere = refused(token_request, child, "tb", audiences=["https://vault.example"])
        assert elsewhere.status == 403 and "spec.audiences" in str(elsewhere)
        bound = refused(
            token_request,
            child,
            "tb",
            boundObjectRef={"apiVersion": "v1", "kind": "Secret", "name": "anything"},
        )
        assert bound.status == 403 and "spec.boundObjectRef" in str(bound)
        assert refused(token_request, child, "ts").status == 403  # a sibling's: RBAC
    # The operator is not bound by the children's policy, but by the API server's cap.
    issued = token_request(admin, "tb", expirationSeconds=TEN_YEARS)
    claims = child_link.token_claims(issued["status"]["token"])
    assert claims["exp"] - claims["iat"] == security.MAX_TOKEN_SECONDS


def test_renewal_ends_at_the_links_horizon(admin):
    kubeconfig = child_link.link_child(admin, "tb", token_ttl=600, link_ttl=4)
    horizon = child_link.link_horizon(admin, "tb")
    stolen = kubeconfig
    with as_child(stolen) as thief:  # before the horizon: renewing works, for anyone
        renewed = with_token(stolen, token_request(thief, "tb")["status"]["token"])
    time.sleep(5.5)  # the horizon is whole seconds: wait past it
    for holder in (stolen, renewed):
        with as_child(holder) as thief:
            ended = refused(token_request, thief, "tb")
            assert ended.status == 403
            assert f"the link of child-tb ended at {horizon}" in str(ended)
            thief.get(f"{API}/edgeclusters/tb")  # its last tokens live out their lifetime


def test_a_later_run_remakes_the_link_and_kills_stolen_tokens(admin):
    first = child_link.link_child(admin, "tb", token_ttl=600, link_ttl=6)
    horizon = child_link.link_horizon(admin, "tb")
    with as_child(first) as thief:
        renewed = with_token(first, token_request(thief, "tb")["status"]["token"])
    assert child_link.link_due(admin, "tb", 6) is False  # a run now would change nothing
    time.sleep(2.5)  # a third of the horizon
    assert child_link.link_due(admin, "tb", 6) is True
    fresh = child_link.link_child(admin, "tb", token_ttl=600, link_ttl=600)
    assert child_link.link_horizon(admin, "tb") != horizon
    for stolen in (first, renewed):
        assert wait_unauthorized(stolen) < 15
    with as_child(fresh) as child:  # the operator's new token works and renews
        child.get(f"{API}/edgeclusters/tb")
        token_request(child, "tb")

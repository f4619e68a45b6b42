# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""A child cluster's least-privilege identity on its parent (docs/child-identity.md).

Plain functions over a KubeClient connected to the PARENT, shared by the ``cluster_link``
module, the agent and the tests:

- ``link_objects(name, labels, distro)``: the objects the parent creates for child ``name``;
- ``ensure_link_objects(client, ...)``: apply them (server-side, optionally as a dry run);
- ``issue_token(client, name, token_ttl)``: a bounded-lifetime token from the TokenRequest API;
- ``link_child(client, ...)``: both, returning a kubeconfig for the child's agent;
- ``revoke_tokens(client, name)``: re-create the service account (every earlier token dies);
- ``unlink_child(client, name)``: remove exactly what ``link_child`` created.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping
from typing import Any, Optional

from ..k8s.apply import apply_object
from ..k8s.client import KubeClient, resource_path
from ..k8s.config import (
    KubeConfigError,
    jwt_claims,
    kubeconfig_dict,
)
from ..k8s.kubeconfig_file import (
    context_cluster,
    context_user,
)

NAMESPACE = "fornax-system"
GROUP = "edgeclusters.kubeedge.io"
GROUP_VERSION = f"{GROUP}/v1"
RBAC_VERSION = "rbac.authorization.k8s.io/v1"
FIELD_MANAGER = "centaurus.fornax.cluster_link"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "centaurus.fornax"
CHILD_LABEL = "edgeclusters.kubeedge.io/child"
DEFAULT_TOKEN_TTL = 24 * 3600
MIN_TOKEN_TTL = 600  # the TokenRequest API refuses shorter lifetimes
DEFAULT_CONTEXT = "fornax-parent"
DISTROS = ("k8s", "k3s", "arktos")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class LinkError(ValueError):
    """A link request that cannot be carried out; the message names the field and value."""


def check_name(name: str) -> None:
    if not isinstance(name, str) or len(name) > 63 or not _DNS_LABEL.match(name):
        raise LinkError(
            f"name: {name!r} must be a DNS-1123 label (lower-case letters, digits and '-', at "
            "most 63 characters): it becomes a segment of Mission state paths"
        )


def service_account_name(name: str) -> str:
    return f"child-{name}"


def rbac_name(name: str) -> str:
    return f"fornax:child:{name}"


def link_labels(name: str) -> dict:
    """The labels every object created for child ``name`` carries."""
    return {MANAGED_BY_LABEL: MANAGED_BY, CHILD_LABEL: name}


def _meta(name: str, child: str, namespace: Optional[str] = None, extra: Any = None) -> dict:
    labels = dict(extra or {})
    labels.update(link_labels(child))
    meta: dict = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return meta


def namespace_object() -> dict:
    """The shared namespace of the children's service accounts (never removed by unlink)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
    }


def cluster_role_rules(name: str) -> list:
    return [
        {"apiGroups": [GROUP], "resources": ["missions"], "verbs": ["get", "list", "watch"]},
        {
            "apiGroups": [GROUP],
            "resources": ["edgeclusters", "edgeclusters/status"],
            "resourceNames": [name],
            "verbs": ["get", "update", "patch"],
        },
        {
            "apiGroups": [GROUP],
            "resources": ["clusterreports"],
            "resourceNames": [name],
            "verbs": ["get", "update", "patch"],
        },
    ]


def role_rules(name: str) -> list:
    return [
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts/token"],
            "resourceNames": [service_account_name(name)],
            "verbs": ["create"],
        }
    ]


def _subject(name: str) -> list:
    return [{"kind": "ServiceAccount", "name": service_account_name(name), "namespace": NAMESPACE}]


def link_objects(
    name: str, labels: Optional[Mapping[str, str]] = None, distro: str = "k8s"
) -> list:
    """Every object the parent creates for child ``name``, in creation order (namespace first)."""
    check_name(name)
    if distro not in DISTROS:
        raise LinkError(f"kube_distro: {distro!r} is not one of {', '.join(DISTROS)}")
    role = rbac_name(name)
    return [
        namespace_object(),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(service_account_name(name), name, NAMESPACE),
        },
        {
            "apiVersion": GROUP_VERSION,
            "kind": "EdgeCluster",
            "metadata": _meta(name, name, extra=labels),
            "spec": {"kubeDistro": distro},
        },
        {"apiVersion": GROUP_VERSION, "kind": "ClusterReport", "metadata": _meta(name, name)},
        {
            "apiVersion": RBAC_VERSION,
            "kind": "ClusterRole",
            "metadata": _meta(role, name),
            "rules": cluster_role_rules(name),
        },
        {
            "apiVersion": RBAC_VERSION,
            "kind": "ClusterRoleBinding",
            "metadata": _meta(role, name),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": _subject(name),
        },
        {
            "apiVersion": RBAC_VERSION,
            "kind": "Role",
            "metadata": _meta(role, name, NAMESPACE),
            "rules": role_rules(name),
        },
        {
            "apiVersion": RBAC_VERSION,
            "kind": "RoleBinding",
            "metadata": _meta(role, name, NAMESPACE),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": _subject(name),
        },
    ]


_PLURALS = {
    "Namespace": "namespaces",
    "ServiceAccount": "serviceaccounts",
    "EdgeCluster": "edgeclusters",
    "ClusterReport": "clusterreports",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "Role": "roles",
    "RoleBinding": "rolebindings",
}


def object_path(obj: Mapping[str, Any]) -> str:
    """REST path of one of the link objects (fixed kinds: no discovery round trip)."""
    meta = obj["metadata"]
    return resource_path(
        obj["apiVersion"], _PLURALS[obj["kind"]], meta["name"], meta.get("namespace")
    )


def describe(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']}/{where}{meta['name']}"


def ensure_link_objects(
    client: KubeClient,
    name: str,
    labels: Optional[Mapping[str, str]] = None,
    distro: str = "k8s",
    *,
    dry_run: bool = False,
) -> list:
    """Apply the link objects; return one {object, changed, before, after} per object."""
    changes = []
    namespace_missing = False
    for obj in link_objects(name, labels, distro):
        if namespace_missing and obj["metadata"].get("namespace"):
            # A dry run cannot place objects in a namespace that a dry run "created".
            changes.append({"object": describe(obj), "changed": True, "before": None, "after": obj})
            continue
        outcome = apply_object(
            client, object_path(obj), obj, field_manager=FIELD_MANAGER, force=True, dry_run=dry_run
        )
        if obj["kind"] == "Namespace":
            namespace_missing = dry_run and outcome.before is None
        changes.append(
            {
                "object": describe(obj),
                "changed": outcome.changed,
                "before": outcome.before,
                "after": outcome.after,
            }
        )
    return changes


def issue_token(
    client: KubeClient,
    name: str,
    token_ttl: int = DEFAULT_TOKEN_TTL,
    audiences: Optional[list] = None,
) -> tuple:
    """(token, expirationTimestamp) of a new bound token of the child's service account."""
    if not isinstance(token_ttl, int) or token_ttl < MIN_TOKEN_TTL:
        raise LinkError(f"token_ttl: {token_ttl!r} must be an integer >= {MIN_TOKEN_TTL} seconds")
    spec: dict = {"expirationSeconds": token_ttl}
    if audiences:
        spec["audiences"] = list(audiences)
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    path = resource_path("v1", "serviceaccounts", service_account_name(name), NAMESPACE, "token")
    # A TokenRequest stores nothing: sending it again after a lost answer is harmless.
    status = client.create(path, request, resend_safe=True).get("status") or {}
    return status["token"], status.get("expirationTimestamp")


def revoke_tokens(client: KubeClient, name: str) -> None:
    """Re-create the child's service account: tokens bound to the old one stop working at once."""
    check_name(name)
    sa = link_objects(name)[1]
    path = object_path(sa)
    client.delete_if_exists(path)
    deadline = time.monotonic() + 30
    while client.get_or_none(path) is not None:  # deletion is immediate without finalizers
        if time.monotonic() > deadline:
            raise LinkError(f"name: service account {describe(sa)} is still being deleted")
        time.sleep(0.1)
    client.apply(path, sa, field_manager=FIELD_MANAGER, force=True)


def parent_endpoint(
    client: KubeClient, server: Optional[str] = None, ca_pem: Optional[bytes] = None
) -> tuple:
    """(server URL, CA PEM) the child's agent uses to reach this parent."""
    url = (server or client.settings.server).rstrip("/")
    if not url.startswith("https://"):
        raise LinkError(f"api_server: {url!r} must be an https:// URL")
    ca = ca_pem or client.settings.ca_data
    if not ca:
        raise LinkError(
            "api_ca_cert: the connection to the parent carries no CA certificate; give the CA "
            "the child should trust"
        )
    return url, ca


def child_kubeconfig(
    server: str, ca_pem: bytes, token: str, context: str = DEFAULT_CONTEXT
) -> dict:
    """A self-contained kubeconfig for the child's agent (parent CA inlined, bearer token)."""
    return kubeconfig_dict(context, server, ca_pem, token=token)


def link_child(
    client: KubeClient,
    name: str,
    labels: Optional[Mapping[str, str]] = None,
    distro: str = "k8s",
    token_ttl: int = DEFAULT_TOKEN_TTL,
    *,
    server: Optional[str] = None,
    ca_pem: Optional[bytes] = None,
    revoke_previous: bool = False,
    context: str = DEFAULT_CONTEXT,
) -> dict:
    """Create (or converge) child ``name``'s identity and return a kubeconfig for its agent."""
    url, ca = parent_endpoint(client, server, ca_pem)
    if token_ttl < MIN_TOKEN_TTL:
        raise LinkError(f"token_ttl: {token_ttl!r} must be >= {MIN_TOKEN_TTL} seconds")
    ensure_link_objects(client, name, labels, distro)
    if revoke_previous:
        revoke_tokens(client, name)
    token, _expires = issue_token(client, name, token_ttl)
    return child_kubeconfig(url, ca, token, context)


def unlink_child(client: KubeClient, name: str, *, dry_run: bool = False) -> list:
    """Remove every object created for child ``name`` (the shared namespace stays).

    Only objects that carry the child's label are removed; returns their descriptions.
    """
    removed = []
    for obj in reversed(link_objects(name)[1:]):
        path = object_path(obj)
        live = client.get_or_none(path)
        live_labels = ((live or {}).get("metadata") or {}).get("labels") or {}
        if live is None or live_labels.get(CHILD_LABEL) != name:
            continue
        if client.delete_if_exists(path, dry_run=dry_run):
            removed.append(describe(obj))
    return removed


def token_claims(token: str) -> dict:
    """The (unverified) claims of a JWT; {} when it is not one."""
    return jwt_claims(token)


def kubeconfig_token(config: Mapping[str, Any]) -> Optional[str]:
    """The token of the current context's user (the one rule of config.context_user)."""
    try:
        return context_user(config).get("token")
    except KubeConfigError:
        return None


def _token_matches_endpoint(config: Mapping[str, Any], server: str, ca_pem: bytes) -> bool:
    try:
        cluster = context_cluster(config)
    except KubeConfigError:
        return False
    return (
        cluster.get("server") == server
        and cluster.get("certificate-authority-data") == base64.b64encode(ca_pem).decode()
    )


def token_reusable(
    client: KubeClient,
    name: str,
    config: Optional[Mapping[str, Any]],
    server: str,
    ca_pem: bytes,
    *,
    now: Optional[float] = None,
) -> bool:
    """True when ``config`` (an earlier link's kubeconfig) still serves the child.

    It must point at ``server`` with ``ca_pem``, hold a token of the child's CURRENT service
    account (same UID: not revoked since), and have more than a third of its lifetime left.
    """
    if not isinstance(config, Mapping) or not _token_matches_endpoint(config, server, ca_pem):
        return False
    claims = token_claims(kubeconfig_token(config) or "")
    expected_sub = f"system:serviceaccount:{NAMESPACE}:{service_account_name(name)}"
    issued, expires = claims.get("iat"), claims.get("exp")
    if (
        claims.get("sub") != expected_sub
        or not isinstance(issued, (int, float))
        or not isinstance(expires, (int, float))
    ):
        return False
    now = time.time() if now is None else now
    if expires - now <= (expires - issued) / 3:
        return False
    sa = client.get_or_none(object_path(link_objects(name)[1]))
    bound = ((claims.get("kubernetes.io") or {}).get("serviceaccount") or {}).get("uid")
    return sa is not None and bound == sa["metadata"].get("uid")

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""A child cluster's least-privilege identity on its parent (docs/child-identity.md).

Plain functions over a KubeClient connected to the PARENT, shared by the ``cluster_link``
module, the agent and the tests:

- ``link_objects(name, labels, distro)``: the objects the parent creates for child ``name``
  (the shared ones first: the namespace and the admission policy bounding children's tokens);
- ``ensure_link_objects(client, ...)``: apply them (server-side, optionally as a dry run);
- ``issue_token(client, name, token_ttl)``: a bounded-lifetime token from the TokenRequest API;
- ``ensure_token_bounds(client, name, link_ttl, audiences)``: the parameters of that policy for
  the child: the parent's audiences and the child's link horizon (``link_due``: time to re-make
  the link);
- ``link_child(client, ...)``: all of it, returning a kubeconfig for the child's agent;
- ``revoke_tokens(client, name)``: re-create the service account (every earlier token dies);
- ``unlink_child(client, name)``: remove exactly what ``link_child`` created.

A child renews its own token (the agent does, before it expires), so a token stolen from it
could renew itself too. Bounds hold it (docs/child-identity.md): the API server caps every
token's lifetime (security.MAX_TOKEN_SECONDS); the ValidatingAdmissionPolicy TOKEN_POLICY lets a
child ask only for itself, for the parent's own audiences, within the cap, unbound to any other
object, and only before its link's horizon (``link_ttl`` after the link was made); a link run
again once a third of ``link_ttl`` has passed is re-made (a new service account: every earlier
token dies, the agent gets its new one from the operator's run, not from a token); and
``revoke_tokens`` kills every token of the child at once.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any, Optional

from ..hierarchy.name_rules import dns1123_label_problem
from ..k8s.apply import apply_object
from ..k8s.client import KubeApiError, KubeClient, resource_path
from ..k8s.config import (
    KubeConfigError,
    jwt_claims,
    kubeconfig_dict,
    settings_from_kubeconfig,
)
from ..k8s.kubeconfig_file import (
    context_cluster,
    context_user,
)
from ..k8s.timestamps import parse_rfc3339, rfc3339
from . import names, security
from .names import API_VERSION as GROUP_VERSION
from .names import CHILD_LABEL, GROUP, MANAGED_BY, MANAGED_BY_LABEL
from .names import KUBE_DISTROS as DISTROS

NAMESPACE = "fornax-system"
RBAC_VERSION = f"{security.RBAC_API}/v1"
FIELD_MANAGER = "centaurus.fornax.cluster_link"
DEFAULT_TOKEN_TTL = 24 * 3600
MIN_TOKEN_TTL = 600  # the TokenRequest API refuses shorter lifetimes
MAX_TOKEN_TTL = security.MAX_TOKEN_SECONDS  # what the API servers of the tree issue at most
DEFAULT_LINK_TTL = 30 * 24 * 3600
ADMISSION_VERSION = security.ADMISSION_API
# The admission policy bounding the children's own token requests, its binding, and the
# ConfigMap of its parameters (all in NAMESPACE, shared by the children of this parent).
TOKEN_POLICY = "fornax-child-tokens"
HORIZON_KEY_PREFIX = "horizon."
PROBE_AUDIENCE = "https://fornax-probe.invalid"  # trusted by nothing: a probe's token is inert
POLICY_WAIT_SECONDS = 15.0
AUDIENCES_KEY = "audiences"
MAX_SECONDS_KEY = "maxExpirationSeconds"
DEFAULT_CONTEXT = "fornax-parent"


class LinkError(ValueError):
    """A link request that cannot be carried out; the message names the field and value."""


def check_name(name: str) -> None:
    if not isinstance(name, str) or dns1123_label_problem(name):
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


def _token_validations() -> list:
    """The CEL rules of the token policy: what a child's own token request must satisfy."""
    own_account = f"'system:serviceaccount:{NAMESPACE}:' + request.name"
    horizon = "params.data[variables.horizonKey]"
    validations = [
        {
            "expression": f"request.userInfo.username == {own_account}",
            "message": "a child may request tokens for its own service account only",
        },
        {
            "expression": (
                "!has(object.spec.boundObjectRef) || object.spec.boundObjectRef == null"
            ),
            "message": "spec.boundObjectRef: a child's token is bound to its service account only",
        },
        {
            "expression": f"object.spec.expirationSeconds <= int(params.data.{MAX_SECONDS_KEY})",
            "message": "spec.expirationSeconds: longer than the cap on children's tokens",
            "messageExpression": (
                "'spec.expirationSeconds: ' + string(object.spec.expirationSeconds) + "
                f"' is longer than the cap of ' + params.data.{MAX_SECONDS_KEY} + ' seconds'"
            ),
        },
        {
            "expression": (
                f"'{AUDIENCES_KEY}' in params.data && "
                f"object.spec.audiences == params.data.{AUDIENCES_KEY}.split(' ')"
            ),
            "message": "spec.audiences: only the parent API server's own audiences",
            "messageExpression": (
                "'spec.audiences: ' + object.spec.audiences.join(' ') + ' are not the parent "
                f"API server\\'s own (' + params.data.{AUDIENCES_KEY} + ')'"
            ),
        },
        {
            "expression": (
                f"variables.horizonKey in params.data && "
                f"timestamp(string(object.metadata.creationTimestamp)) < timestamp({horizon})"
            ),
            "message": "the link of this child has no horizon or is past it: re-link the child",
            "messageExpression": (
                f"'the link of ' + request.name + ' ended at ' + {horizon} + "
                "' (its horizon): the parent\\'s operator renews it with cluster_link'"
            ),
        },
    ]
    for validation in validations:
        validation["reason"] = "Forbidden"
    return validations


def _token_policy(labels: dict) -> dict:
    """The ValidatingAdmissionPolicy on children's token requests (TokenRequest CREATEs by a
    service account of NAMESPACE)."""
    return {
        "apiVersion": ADMISSION_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": TOKEN_POLICY, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["serviceaccounts/token"],
                    }
                ],
            },
            "matchConditions": [
                {
                    "name": "a-child",
                    "expression": (
                        f"'system:serviceaccounts:{NAMESPACE}' in request.userInfo.groups"
                    ),
                }
            ],
            "variables": [
                {"name": "horizonKey", "expression": f"'{HORIZON_KEY_PREFIX}' + request.name"}
            ],
            "validations": _token_validations(),
        },
    }


def token_policy_objects() -> list:
    """The parameters, the ValidatingAdmissionPolicy and the binding bounding child tokens.

    They apply to token requests made by a child's service account (the agent renewing its
    token), not to the parent's operator issuing one with ``issue_token``.
    """
    labels = {MANAGED_BY_LABEL: MANAGED_BY}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": TOKEN_POLICY, "namespace": NAMESPACE, "labels": labels},
            "data": {MAX_SECONDS_KEY: str(MAX_TOKEN_TTL)},
        },
        _token_policy(labels),
        {
            "apiVersion": ADMISSION_VERSION,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": TOKEN_POLICY, "labels": labels},
            "spec": {
                "policyName": TOKEN_POLICY,
                "validationActions": ["Deny"],
                "paramRef": {
                    "name": TOKEN_POLICY,
                    "namespace": NAMESPACE,
                    "parameterNotFoundAction": "Deny",
                },
            },
        },
    ]


def shared_objects() -> list:
    """What every child of this parent shares (never removed by unlink), in creation order."""
    return [namespace_object(), *token_policy_objects()]


def cluster_role_rules(name: str) -> list:
    return [
        # missionspecs: what a child watches (spec mirrors, no status); missions: what agents
        # before mirrors watch, and what a new agent falls back to under such a parent.
        {
            "apiGroups": [GROUP],
            "resources": ["missionspecs", "missions"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": [GROUP],
            "resources": ["edgeclusters", "edgeclusters/status"],
            "resourceNames": [name],
            "verbs": ["get", "update", "patch"],
        },
        {
            "apiGroups": [GROUP],
            "resources": ["clusterreports"],
            "resourceNames": report_names(name),
            "verbs": ["get", "update", "patch"],
        },
    ]


def report_names(name: str) -> list:
    """The ClusterReports of child ``name``: its whole report and its shards (names.py)."""
    return [name, *names.report_shard_names(name)]


def report_objects(name: str) -> list:
    return [
        {"apiVersion": GROUP_VERSION, "kind": "ClusterReport", "metadata": _meta(report, name)}
        for report in report_names(name)
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


def service_account_object(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(service_account_name(name), name, NAMESPACE),
    }


def child_objects(
    name: str, labels: Optional[Mapping[str, str]] = None, distro: str = "k8s"
) -> list:
    """The objects the parent creates for child ``name`` alone (all carry its label)."""
    check_name(name)
    if distro not in DISTROS:
        raise LinkError(f"kube_distro: {distro!r} is not one of {', '.join(DISTROS)}")
    role = rbac_name(name)
    return [
        service_account_object(name),
        {
            "apiVersion": GROUP_VERSION,
            "kind": "EdgeCluster",
            "metadata": _meta(name, name, extra=labels),
            "spec": {"kubeDistro": distro},
        },
        *report_objects(name),
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


def link_objects(
    name: str, labels: Optional[Mapping[str, str]] = None, distro: str = "k8s"
) -> list:
    """Every object linking child ``name``, in creation order (the shared ones first)."""
    return shared_objects() + child_objects(name, labels, distro)


_PLURALS = {
    "Namespace": "namespaces",
    "ConfigMap": "configmaps",
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
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


def check_token_ttl(token_ttl: Any) -> None:
    if (
        not isinstance(token_ttl, int)
        or isinstance(token_ttl, bool)
        or not MIN_TOKEN_TTL <= token_ttl <= MAX_TOKEN_TTL
    ):
        raise LinkError(
            f"token_ttl: {token_ttl!r} must be an integer from {MIN_TOKEN_TTL} to {MAX_TOKEN_TTL}"
            " seconds (the cap of the tree's API servers)"
        )


def check_link_ttl(link_ttl: Any) -> None:
    if not isinstance(link_ttl, int) or isinstance(link_ttl, bool) or link_ttl < 1:
        raise LinkError(f"link_ttl: {link_ttl!r} must be a positive integer (seconds)")


def request_token(
    client: KubeClient,
    name: str,
    token_ttl: int = DEFAULT_TOKEN_TTL,
    audiences: Optional[list] = None,
) -> dict:
    """The TokenRequest answer for a new token of the child's service account (spec, status)."""
    check_token_ttl(token_ttl)
    spec: dict = {"expirationSeconds": token_ttl}
    if audiences:
        spec["audiences"] = list(audiences)
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    path = resource_path("v1", "serviceaccounts", service_account_name(name), NAMESPACE, "token")
    # A TokenRequest stores nothing: sending it again after a lost answer is harmless.
    return client.create(path, request, resend_safe=True)


def issue_token(
    client: KubeClient,
    name: str,
    token_ttl: int = DEFAULT_TOKEN_TTL,
    audiences: Optional[list] = None,
) -> tuple:
    """(token, expirationTimestamp) of a new bound token of the child's service account."""
    status = request_token(client, name, token_ttl, audiences).get("status") or {}
    return status["token"], status.get("expirationTimestamp")


def horizon_key(name: str) -> str:
    return HORIZON_KEY_PREFIX + service_account_name(name)


def token_bounds_path() -> str:
    return resource_path("v1", "configmaps", TOKEN_POLICY, NAMESPACE)


def link_horizon(client: KubeClient, name: str) -> Optional[str]:
    """Until when child ``name`` may renew its token (RFC 3339), or None when it may not."""
    live = client.get_or_none(token_bounds_path()) or {}
    return (live.get("data") or {}).get(horizon_key(name))


def link_due(
    client: KubeClient, name: str, link_ttl: int = DEFAULT_LINK_TTL, now: Optional[float] = None
) -> Optional[bool]:
    """Whether child ``name``'s link is to be re-made: None when it has no horizon yet (a new
    link), True once a third of ``link_ttl`` has passed since its horizon was set."""
    check_link_ttl(link_ttl)
    horizon = parse_rfc3339(link_horizon(client, name))
    if horizon is None:
        return None
    now = time.time() if now is None else now
    return horizon - now < link_ttl * 2 / 3


def ensure_token_bounds(
    client: KubeClient,
    name: str,
    link_ttl: int = DEFAULT_LINK_TTL,
    audiences: Optional[list] = None,
    *,
    new_horizon: bool = False,
    now: Optional[float] = None,
    dry_run: bool = False,
) -> dict:
    """Record the parent's token audiences and child ``name``'s link horizon for TOKEN_POLICY.

    ``audiences`` are those the API server put into a token it issued (its own; None keeps
    what is recorded). The horizon, until which the child may renew its token, becomes
    ``now + link_ttl`` when there is none or ``new_horizon`` is true (the link was re-made).
    Returns {object, changed, before, after}.
    """
    check_name(name)
    check_link_ttl(link_ttl)
    now = time.time() if now is None else now
    path = token_bounds_path()
    live = client.get_or_none(path)
    data = dict((live or {}).get("data") or {})
    wanted: dict = {}
    if audiences:
        joined = " ".join(audiences)
        if data.get(AUDIENCES_KEY) != joined:
            wanted[AUDIENCES_KEY] = joined
    key = horizon_key(name)
    if new_horizon or parse_rfc3339(data.get(key)) is None:
        wanted[key] = rfc3339(now + link_ttl)
    before = {k: data.get(k) for k in wanted}
    if wanted and not dry_run:
        client.patch(path, {"data": wanted})
    return {
        "object": f"ConfigMap/{NAMESPACE}/{TOKEN_POLICY}",
        "changed": bool(wanted),
        "before": before,
        "after": wanted,
    }


def await_token_policy(
    client: KubeClient, name: str, token: str, ca_pem: bytes, timeout: float = POLICY_WAIT_SECONDS
) -> None:
    """Return once the parent enforces TOKEN_POLICY with child ``name``'s current parameters.

    An admission policy and its parameters take effect a moment after they are written. With
    the child's ``token``, a request for a foreign audience must be refused by the policy and
    an ordinary renewal accepted (the tokens of these probes are dropped); LinkError after
    ``timeout`` seconds.
    """
    config = child_kubeconfig(client.settings.server, ca_pem, token)
    deadline = time.monotonic() + timeout
    last = ""
    with KubeClient(settings_from_kubeconfig(config), connect_retries=0) as child:
        while True:
            try:
                request_token(child, name, MIN_TOKEN_TTL, [PROBE_AUDIENCE])
                last = "a token for a foreign audience was still issued"
            except KubeApiError as refused:
                if refused.status != 403:
                    raise
                last = str(refused)
                if "spec.audiences" in last:
                    try:
                        request_token(child, name, MIN_TOKEN_TTL)
                        return
                    except KubeApiError as again:
                        if again.status != 403:
                            raise
                        last = str(again)
            if time.monotonic() > deadline:
                raise LinkError(
                    f"name: the admission policy {TOKEN_POLICY} bounding child {name!r}'s tokens "
                    f"is not in force on the parent after {timeout:g} s (last: {last}); the "
                    "parent needs ValidatingAdmissionPolicy (Kubernetes 1.30 or later)"
                )
            time.sleep(0.1)


def revoke_tokens(client: KubeClient, name: str) -> None:
    """Re-create the child's service account: tokens bound to the old one stop working at once."""
    check_name(name)
    sa = service_account_object(name)
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
    link_ttl: int = DEFAULT_LINK_TTL,
) -> dict:
    """Create (or converge) child ``name``'s identity and return a kubeconfig for its agent."""
    url, ca = parent_endpoint(client, server, ca_pem)
    check_token_ttl(token_ttl)
    check_link_ttl(link_ttl)
    changes = ensure_link_objects(client, name, labels, distro)
    due = link_due(client, name, link_ttl)
    remake = revoke_previous or due is True
    if remake:
        revoke_tokens(client, name)
    answer = request_token(client, name, token_ttl)
    audiences = (answer.get("spec") or {}).get("audiences")
    changes.append(ensure_token_bounds(client, name, link_ttl, audiences, new_horizon=remake))
    token = answer["status"]["token"]
    if policy_changed(changes):
        await_token_policy(client, name, token, ca)
    return child_kubeconfig(url, ca, token, context)


def policy_changed(changes: list) -> bool:
    """Whether ``changes`` (of ensure_link_objects, ensure_token_bounds) touch TOKEN_POLICY."""
    return any(c["changed"] and TOKEN_POLICY in c["object"] for c in changes)


def unlink_child(client: KubeClient, name: str, *, dry_run: bool = False) -> list:
    """Remove every object created for child ``name`` (the shared ones stay) and its horizon.

    Only objects that carry the child's label are removed; returns their descriptions.
    """
    removed = []
    live_bounds = client.get_or_none(token_bounds_path()) or {}
    if horizon_key(name) in (live_bounds.get("data") or {}):
        if not dry_run:
            client.patch(token_bounds_path(), {"data": {horizon_key(name): None}})
        removed.append(f"ConfigMap/{NAMESPACE}/{TOKEN_POLICY}[{horizon_key(name)}]")
    for obj in reversed(child_objects(name)):
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
    sa = client.get_or_none(object_path(service_account_object(name)))
    bound = ((claims.get("kubernetes.io") or {}).get("serviceaccount") or {}).get("uid")
    return sa is not None and bound == sa["metadata"].get("uid")

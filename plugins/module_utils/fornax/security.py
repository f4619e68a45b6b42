# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""How every API server of a Fornax tree is hardened, and who the agent is on its own cluster.

Defined once and read by both the roles (through the filters of plugins/filter/security.py:
the control_plane role's kube-apiserver unit and admission file, the hub role's agent RBAC) and
the test harness (tests/fornax_harness), so the integration tests run their API servers with the
very settings a rollout installs (docs/security.md):

- ``apiserver_security_args``: the API server's security flags: TLS 1.2 or later, no anonymous
  requests, RBAC, no profiling, service-account tokens capped at ``MAX_TOKEN_SECONDS`` for
  everyone (no "extended" legacy lifetimes) and accepted for the fixed audiences only, Pod
  Security admission configured from the cluster's Mission rights, and no privileged
  containers at all unless those rights are ``privileged``;
- ``agent_rbac``: the agent's ClusterRole on its own cluster (``policy.agent_rules``: its own
  needs plus the kinds the cluster grants Missions, never ``*/*/*`` unless it grants ``*``) and
  the binding to the agent's identity;
- ``agent_admission_policy``: what RBAC and Pod Security admission do not see: a
  ValidatingAdmissionPolicy that refuses the agent's identity writes in namespaces the grant
  does not give, a Namespace label loosening Pod Security and a hostPath or local
  PersistentVolume, at the cluster's level;
- ``kubelet_client``: who the API server is when it calls a kubelet (``kubectl exec``, ``logs``,
  ``port-forward``, ``attach``): a client certificate of the cluster's CA (the kubelets
  authenticate it with x509 and authorize it with a Webhook to this API server), the flags that
  make the API server present it and verify the kubelet's serving certificate against the
  cluster's CA, and its binding to the built-in ``system:kubelet-api-admin`` ClusterRole (the
  kubelet API and nothing else; never ``system:masters``);
- ``kubelet_serving``: the kubelet's own serving certificate, which the kubelet role signs with
  the cluster's CA for the node's name and the address it reports (``--node-ip``), so that the
  API server can verify whom it calls.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any, Optional

from .names import MANAGED_BY, MANAGED_BY_LABEL
from .policy import (
    ANY_NAMESPACE,
    POD_SECURITY_LABEL_PREFIX,
    POD_SECURITY_LEVELS,
    PRIVILEGED,
    PROTECTED_NAMESPACES,
    MissionPolicy,
    agent_rules,
    parse_policy,
)

# The longest service-account token an API server of the tree issues (and a child may ask for).
MAX_TOKEN_SECONDS = 86400
TLS_MIN_VERSION = "VersionTLS12"

# The agent's identity on its own cluster: a client certificate with this CN and O (the
# control_plane role issues it), bound to the ClusterRole AGENT_ROLE.
AGENT_USER = "fornax-agent"
AGENT_GROUP = "fornax:agents"
AGENT_ROLE = "fornax:agent"
AGENT_POLICY = "fornax-agent-content"
# The Namespace a probe of that policy would create (server-side dry run only, never stored),
# and what the API server's refusal says once the policy is enforced (agent_policy_probe).
POLICY_PROBE_NAMESPACE = "fornax-policy-probe"
AGENT_POLICY_DENIAL = f"ValidatingAdmissionPolicy '{AGENT_POLICY}'"

# The API server's identity towards the kubelets: a client certificate (file stem
# KUBELET_CLIENT in the cluster's PKI directory, CN KUBELET_CLIENT_USER, no group) bound to the
# built-in ClusterRole KUBELET_API_ROLE by the ClusterRoleBinding KUBELET_API_BINDING.
KUBELET_CLIENT = "apiserver-kubelet-client"
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
KUBELET_API_ROLE = "system:kubelet-api-admin"
KUBELET_API_BINDING = "fornax:apiserver-kubelet-client"
# The node addresses the API server calls a kubelet at, in this order.
KUBELET_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")
# The cluster's CA certificate in its PKI directory (the control_plane role's and the kubelet
# role's file name): the API server verifies the kubelets' serving certificates against it.
CA_CERT = "ca.crt"
# The kubelet's serving certificate (file stem in the node's PKI directory), signed by that CA
# with the node's identity as subject, as a kubelet's CSR for one would carry.
KUBELET_SERVING = "kubelet-serving"
NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"

RBAC_API = "rbac.authorization.k8s.io"
ADMISSION_API = "admissionregistration.k8s.io/v1"
MANAGED_BY_LABELS = {MANAGED_BY_LABEL: MANAGED_BY}
_SUBJECT_KINDS = ("Group", "User", "ServiceAccount")


class SecurityError(ValueError):
    """Input the hardening cannot use; the message names the field and the value."""


def api_audiences(issuer: str) -> list:
    """The audiences the API server accepts tokens for (and gives a token by default)."""
    return [issuer]


def apiserver_security_args(
    issuer: str,
    admission_config_file: str,
    policy: Any = None,
    max_token_seconds: int = MAX_TOKEN_SECONDS,
) -> list:
    """The kube-apiserver flags every cluster of the tree runs with (installed and tested).

    ``policy`` is the cluster's grant: privileged containers are refused outright unless it
    grants the ``privileged`` Pod Security level (the admission file holds the level itself).
    """
    if not isinstance(issuer, str) or not issuer.startswith("https://"):
        raise SecurityError(f"issuer: {issuer!r} must be an https:// URL")
    if not isinstance(max_token_seconds, int) or not 3600 <= max_token_seconds <= 2**32:
        raise SecurityError(
            f"max_token_seconds: {max_token_seconds!r} must be an integer from 3600 to 2^32"
            " (the API server's bounds)"
        )
    return [
        f"--tls-min-version={TLS_MIN_VERSION}",
        "--anonymous-auth=false",
        # Node: a kubelet (system:node:<name>) reaches only its own node, its pods and what
        # they use; NodeRestriction keeps it off other nodes and off node-role labels.
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--profiling=false",
        f"--service-account-issuer={issuer}",
        f"--api-audiences={','.join(api_audiences(issuer))}",
        # Tokens of deleted service accounts (or secrets) stop working: revocation.
        "--service-account-lookup=true",
        f"--service-account-max-token-expiration={max_token_seconds}s",
        # Without this, pod tokens asked for 1 h are silently given a year (a legacy transition).
        "--service-account-extend-token-expiration=false",
        # Pod Security admission (on by default) at the level the cluster grants Missions.
        f"--admission-control-config-file={admission_config_file}",
        f"--allow-privileged={str(_policy(policy).pod_security == PRIVILEGED).lower()}",
    ]


def _policy(policy: Any) -> MissionPolicy:
    return policy if isinstance(policy, MissionPolicy) else parse_policy(policy)


def agent_subjects(group: str = AGENT_GROUP, extra: Optional[list] = None) -> list:
    """RBAC subjects of the agent: its certificate's group and any extra ones, checked."""
    subjects: list = [{"apiGroup": RBAC_API, "kind": "Group", "name": group}]
    for index, subject in enumerate(extra or []):
        where = f"extra_subjects[{index}]"
        if not isinstance(subject, Mapping) or subject.get("kind") not in _SUBJECT_KINDS:
            raise SecurityError(
                f"{where}: {subject!r} must be a mapping whose kind is one of {_SUBJECT_KINDS}"
            )
        if not isinstance(subject.get("name"), str) or not subject["name"]:
            raise SecurityError(f"{where}.name: {subject.get('name')!r} must be a string")
        if subject["kind"] == "ServiceAccount" and not isinstance(subject.get("namespace"), str):
            raise SecurityError(f"{where}.namespace: a ServiceAccount subject needs a namespace")
        subjects.append(dict(subject))
    return subjects


def agent_rbac(policy: Any = None, subjects: Optional[list] = None) -> list:
    """The agent's ClusterRole (from the cluster's grant) and its binding, as two manifests."""
    grant = _policy(policy)
    meta = {"name": AGENT_ROLE, "labels": dict(MANAGED_BY_LABELS)}
    return [
        {
            "apiVersion": f"{RBAC_API}/v1",
            "kind": "ClusterRole",
            "metadata": dict(meta),
            "rules": agent_rules(grant),
        },
        {
            "apiVersion": f"{RBAC_API}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": dict(meta),
            "roleRef": {"apiGroup": RBAC_API, "kind": "ClusterRole", "name": AGENT_ROLE},
            "subjects": subjects if subjects is not None else agent_subjects(),
        },
    ]


def _requester_is(subjects: list) -> str:
    """A CEL condition true when the request comes from one of the RBAC ``subjects``."""
    terms = []
    for subject in subjects:
        if subject["kind"] == "Group":
            terms.append(f"{json.dumps(subject['name'])} in request.userInfo.groups")
        elif subject["kind"] == "User":
            terms.append(f"request.userInfo.username == {json.dumps(subject['name'])}")
        else:
            user = f"system:serviceaccount:{subject['namespace']}:{subject['name']}"
            terms.append(f"request.userInfo.username == {json.dumps(user)}")
    return " || ".join(terms)


def namespace_allowed_cel(grant: MissionPolicy, namespace: str) -> str:
    """CEL for ``grant.allows_namespace(<namespace>)`` (the same rule, in the API server)."""
    named = sorted(n for n in grant.namespaces if n != ANY_NAMESPACE)
    if ANY_NAMESPACE in grant.namespaces:
        protected = [n for n in PROTECTED_NAMESPACES if n not in named]
        return f"!({namespace} in {json.dumps(protected)})"
    return f"{namespace} in {json.dumps(named)}"


def _namespace_validations(grant: MissionPolicy) -> list:
    """CEL rules: a write only in a namespace the grant gives, or of such a Namespace."""
    return [
        {
            "expression": (
                "!has(request.namespace) || request.namespace == '' || "
                + namespace_allowed_cel(grant, "request.namespace")
            ),
            "messageExpression": (
                "'not allowed here: namespace ' + request.namespace + ' is not granted'"
            ),
            "message": "not allowed here: the namespace is not granted",
        },
        {
            "expression": (
                "request.resource.resource != 'namespaces' || "
                + namespace_allowed_cel(grant, "request.name")
            ),
            "messageExpression": (
                "'not allowed here: namespace ' + request.name + ' is not granted'"
            ),
            "message": "not allowed here: the namespace is not granted",
        },
    ]


def _pod_security_validations(grant: MissionPolicy) -> list:
    """CEL rules: no Namespace label looser than the grant's Pod Security level and (below
    ``privileged``) no hostPath or local PersistentVolume."""
    rank = POD_SECURITY_LEVELS.index(grant.pod_security)
    allowed_levels = json.dumps(list(POD_SECURITY_LEVELS[rank:]))
    prefix = json.dumps(POD_SECURITY_LABEL_PREFIX)
    writes = "request.operation == 'DELETE' || "  # a deletion has no new object to look at
    validations = [
        {
            "expression": (
                writes + "request.resource.resource != 'namespaces' || "
                "!has(object.metadata.labels) || "
                f"object.metadata.labels.all(k, !k.startsWith({prefix}) || "
                f"k.endsWith('-version') || object.metadata.labels[k] in {allowed_levels})"
            ),
            "message": (
                f"not allowed here: a Pod Security label looser than {grant.pod_security} "
                "(the cluster's podSecurity)"
            ),
        },
    ]
    if grant.pod_security != PRIVILEGED:
        validations.append(
            {
                "expression": (
                    writes + "request.resource.resource != 'persistentvolumes' || "
                    "!(has(object.spec.hostPath) || has(object.spec.local))"
                ),
                "message": (
                    "not allowed here: a hostPath or local PersistentVolume gives pods host "
                    f"access (podSecurity: {grant.pod_security})"
                ),
            }
        )
    return validations


def agent_admission_policy(policy: Any = None, subjects: Optional[list] = None) -> list:
    """What RBAC and Pod Security admission leave open to the agent, refused by the API server.

    RBAC grants kinds cluster-wide, and Pod Security admission checks pods only: whoever may
    label a Namespace may switch its enforcement off, and a hostPath PersistentVolume gives host
    access to any pod that claims it. The agent's own check refuses all of that
    (policy.problem); this ValidatingAdmissionPolicy and its binding make the API server refuse
    the agent's identity the same: a write in a namespace the grant does not give (or of such a
    Namespace), a Namespace label loosening Pod Security below the grant's level, and (below
    ``privileged``) a hostPath or local PersistentVolume.
    """
    grant = _policy(policy)
    meta = {"name": AGENT_POLICY, "labels": dict(MANAGED_BY_LABELS)}
    validations = _namespace_validations(grant) + _pod_security_validations(grant)
    for validation in validations:
        validation["reason"] = "Forbidden"
    return [
        {
            "apiVersion": ADMISSION_API,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": dict(meta),
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["*"],
                            "apiVersions": ["*"],
                            "operations": ["CREATE", "UPDATE", "DELETE"],
                            "resources": ["*"],
                        }
                    ]
                },
                "matchConditions": [
                    {
                        "name": "the-agent",
                        "expression": _requester_is(
                            subjects if subjects is not None else agent_subjects()
                        ),
                    }
                ],
                "validations": validations,
            },
        },
        {
            "apiVersion": ADMISSION_API,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": dict(meta),
            "spec": {"policyName": AGENT_POLICY, "validationActions": ["Deny"]},
        },
    ]


def agent_policy_probe(policy: Any = None) -> Optional[dict]:
    """A write the agent's admission policy refuses the agent under this grant, or None.

    The API server loads a new ValidatingAdmissionPolicy a second or so after it is stored
    (its admission plugin refreshes policies once a second), and nothing in the API says when.
    Whoever installs the policy therefore sends this write as the agent, as a server-side dry
    run (nothing is stored), until the API server refuses it naming the policy
    (``agent_policy_denied``); the agent starts only then, as cluster_link waits for the
    child-token policy. The probe is a Namespace, so that RBAC lets it through to admission:
    one whose Pod Security label is looser than the grant's level or, at ``privileged``, one
    the grant does not give. With neither (no Namespaces granted, or ``privileged`` with every
    namespace given) there is nothing the policy refuses a Namespace write, hence no probe.
    """
    grant = _policy(policy)
    if not grant.allows_resource("namespaces", ""):
        return None
    labels: dict = {}
    name = POLICY_PROBE_NAMESPACE
    if grant.pod_security != PRIVILEGED:
        labels[f"{POD_SECURITY_LABEL_PREFIX}enforce"] = PRIVILEGED
    else:
        refused = [n for n in (name, *PROTECTED_NAMESPACES) if not grant.allows_namespace(n)]
        if not refused:
            return None
        name = refused[0]
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def agent_policy_denied(status: Any, message: Any) -> bool:
    """Whether an API answer (HTTP ``status``, its ``message``) is the agent's admission policy
    refusing a write: the policy is loaded and enforced."""
    return status == 403 and AGENT_POLICY_DENIAL in str(message)


def agent_manifests(
    policy: Any = None, group: str = AGENT_GROUP, extra_subjects: Optional[list] = None
) -> list:
    """Everything the agent's identity is given and refused on its own cluster, in apply order."""
    subjects = agent_subjects(group, extra_subjects)
    return agent_rbac(policy, subjects) + agent_admission_policy(policy, subjects)


def kubelet_client_args(pki_dir: str) -> list:
    """The kube-apiserver flags that make it present KUBELET_CLIENT's certificate to kubelets,
    which it calls at their reported IP address first (KUBELET_ADDRESS_TYPES), and verify the
    kubelet's serving certificate against the cluster's CA (CA_CERT): a kubelet must serve one
    the kubelet role signed (``kubelet_serving``), a self-signed one is refused.
    """
    if not isinstance(pki_dir, str) or not pki_dir.startswith("/"):
        raise SecurityError(f"pki_dir: {pki_dir!r} must be an absolute path")
    directory = pki_dir.rstrip("/")
    stem = f"{directory}/{KUBELET_CLIENT}"
    return [
        f"--kubelet-client-certificate={stem}.crt",
        f"--kubelet-client-key={stem}.key",
        f"--kubelet-certificate-authority={directory}/{CA_CERT}",
        # A node's name is its inventory host name, which the control plane may not resolve:
        # the address the kubelet reports comes first.
        f"--kubelet-preferred-address-types={','.join(KUBELET_ADDRESS_TYPES)}",
    ]


def kubelet_client(pki_dir: str) -> dict:
    """The API server's kubelet-client identity: the certificate to issue (``name`` the file
    stem, ``cn``, ``usage``), the API server's ``args`` and the ``manifests`` to apply."""
    return {
        "certificate": {"name": KUBELET_CLIENT, "cn": KUBELET_CLIENT_USER, "usage": ["clientAuth"]},
        "args": kubelet_client_args(pki_dir),
        "manifests": [
            {
                "apiVersion": f"{RBAC_API}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": KUBELET_API_BINDING, "labels": dict(MANAGED_BY_LABELS)},
                "roleRef": {"apiGroup": RBAC_API, "kind": "ClusterRole", "name": KUBELET_API_ROLE},
                "subjects": [{"apiGroup": RBAC_API, "kind": "User", "name": KUBELET_CLIENT_USER}],
            }
        ],
    }


def _node_ips(node_ip: Any) -> list:
    """The addresses of ``--node-ip`` (one, or an IPv4 and an IPv6 one, comma-separated)."""
    where = f"kubelet_node_ip: {node_ip!r}"
    if not isinstance(node_ip, str) or not node_ip.strip():
        raise SecurityError(
            f"{where} is empty and the host has no default IPv4 address: set kubelet_node_ip to "
            "the address the API server reaches the kubelet at"
        )
    addresses = []
    for entry in node_ip.split(","):
        try:
            address = ipaddress.ip_address(entry.strip())
        except ValueError:
            raise SecurityError(f"{where}: {entry.strip()!r} is not an IP address") from None
        if address.is_loopback or address.is_unspecified:
            raise SecurityError(f"{where}: {address} is not an address other hosts reach")
        addresses.append(address)
    if len(addresses) > 2 or len({a.version for a in addresses}) != len(addresses):
        raise SecurityError(f"{where} must be one address, or one IPv4 and one IPv6 address")
    return [str(a) for a in addresses]


def kubelet_serving(node_name: Any, node_ip: Any) -> dict:
    """The kubelet's serving certificate for node ``node_name`` reporting ``node_ip``.

    ``name`` (the file stem), ``cn`` and ``org`` (the node's identity), ``usage`` (serverAuth
    only), ``sans`` (``IP:``/``DNS:`` strings: every address the kubelet reports, its
    ``InternalIP`` from ``node_ip`` and its ``Hostname``, the node name; KUBELET_ADDRESS_TYPES)
    and ``node_ip`` (the checked ``--node-ip`` value: the kubelet must report exactly the
    addresses the certificate names).
    """
    if not isinstance(node_name, str) or not node_name:
        raise SecurityError(f"kubelet_node_name: {node_name!r} must be a non-empty string")
    ips = _node_ips(node_ip)
    try:
        name_san = f"IP:{ipaddress.ip_address(node_name)}"
    except ValueError:
        name_san = f"DNS:{node_name}"
    sans = [f"IP:{ip}" for ip in ips]
    return {
        "name": KUBELET_SERVING,
        "cn": f"{NODE_USER_PREFIX}{node_name}",
        "org": NODES_GROUP,
        "usage": ["serverAuth"],
        "sans": sans + ([name_san] if name_san not in sans else []),
        "node_ip": ",".join(ips),
    }

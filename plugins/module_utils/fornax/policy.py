# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""What a Mission may create on a cluster: the rights the cluster grants, defined once.

Whoever can create a Mission at the root reaches every cluster of the subtree, so a cluster
grants Missions a bounded set of rights, and everything else is refused before it is applied:

- ``resources``: the kinds of object, as ``<plural>.<group>`` (``deployments.apps``; core kinds
  bare: ``configmaps``), ``*.<group>`` for every kind of a group, or ``*`` for everything.
- ``namespaces``: where namespaced objects may go; ``*`` means any namespace except the
  cluster's own (``kube-system``, ``kube-public``, ``kube-node-lease``), which must be named to
  be granted. A Mission may create a Namespace only if it may use it.
- ``podSecurity``: the Pod Security Standard level pods must meet (``baseline`` by default:
  no privileged containers, no host namespaces, ports or paths). It applies to Pods, to the
  pod templates of workloads, to PersistentVolumes (hostPath and local volumes are host
  access) and to Namespaces (no label may loosen Pod Security admission).

The default grant is ordinary application content (DEFAULT_RESOURCES): workloads, their
configuration, services and storage claims, Namespaces and PersistentVolumes. RBAC objects,
admission and webhook configurations, CRDs, API services, certificates, nodes, priority classes
and Fornax's own resources are out unless a cluster widens its grant.

The rule is enforced twice: the agent checks each object (``problem``) and reports
``failed: not allowed here: <kind>/<namespace>`` without applying anything of that Mission, and
the agent's own RBAC on its cluster is generated from the same grant (``agent_rules``), with Pod
Security admission at the same level (``admission_configuration``), so the API server refuses
what the agent would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from . import names

POLICY_FIELDS = ("resources", "extraResources", "namespaces", "podSecurity")

DEFAULT_RESOURCES = (
    "configmaps",
    "secrets",
    "services",
    "serviceaccounts",
    "persistentvolumeclaims",
    "pods",
    "namespaces",
    "persistentvolumes",
    "deployments.apps",
    "statefulsets.apps",
    "daemonsets.apps",
    "replicasets.apps",
    "jobs.batch",
    "cronjobs.batch",
    "horizontalpodautoscalers.autoscaling",
    "poddisruptionbudgets.policy",
    "ingresses.networking.k8s.io",
    "networkpolicies.networking.k8s.io",
)
ANY_NAMESPACE = "*"
DEFAULT_NAMESPACES = (ANY_NAMESPACE,)
PROTECTED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
POD_SECURITY_LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)  # from loosest to strictest
DEFAULT_POD_SECURITY = BASELINE
POD_SECURITY_LABEL_PREFIX = "pod-security.kubernetes.io/"

# What the agent does with content: create, read, watch for drift, update and delete.
CONTENT_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")

_PLURAL = r"[a-z][a-z0-9]*"
_GROUP = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_RESOURCE = re.compile(rf"^(\*|\*\.{_GROUP}|{_PLURAL}(\.{_GROUP})?)$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class PolicyError(ValueError):
    """A grant that cannot be used; the message names the field and the value."""


@dataclass(frozen=True)
class MissionPolicy:
    resources: tuple = DEFAULT_RESOURCES
    namespaces: tuple = DEFAULT_NAMESPACES
    pod_security: str = DEFAULT_POD_SECURITY

    def to_dict(self) -> dict:
        """The normalised form: what the inventory exports and the agent's config holds."""
        return {
            "resources": list(self.resources),
            "namespaces": list(self.namespaces),
            "podSecurity": self.pod_security,
        }

    def is_default(self) -> bool:
        """Whether this grants exactly the defaults (an unset ``fornax_mission_policy``)."""
        return (
            self.pod_security == DEFAULT_POD_SECURITY
            and set(self.resources) == set(DEFAULT_RESOURCES)
            and set(self.namespaces) == set(DEFAULT_NAMESPACES)
        )

    def allows_resource(self, plural: str, group: str) -> bool:
        wanted = f"{plural}.{group}" if group else plural
        return any(
            entry in ("*", wanted) or (entry.startswith("*.") and entry[2:] == group)
            for entry in self.resources
        )

    def allows_namespace(self, namespace: str) -> bool:
        if namespace in self.namespaces:
            return True
        return ANY_NAMESPACE in self.namespaces and namespace not in PROTECTED_NAMESPACES

    def problem(
        self, obj: Mapping[str, Any], plural: str, group: str, namespace: Optional[str]
    ) -> Optional[str]:
        """Why ``obj`` may not be applied here (None: it may).

        ``plural``/``group`` name its resource (from API discovery); ``namespace`` is where it
        goes (None for cluster-scoped kinds).
        """
        where = f"{obj.get('kind')}/{namespace if namespace is not None else '-'}"
        if not self.allows_resource(plural, group):
            return f"not allowed here: {where} ({_resource_name(plural, group)} is not granted)"
        if namespace is not None and not self.allows_namespace(namespace):
            return f"not allowed here: {where} (namespace {namespace!r} is not granted)"
        found = _content_problems(obj, plural, group, self)
        if found:
            return f"not allowed here: {where}: {found[0]} (podSecurity: {self.pod_security})"
        return None


def _resource_name(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def _string_list(value: Any, field: str) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{field}: {value!r} must be a list of strings")
    return value


def parse_policy(data: Any, where: str = "mission_policy") -> MissionPolicy:
    """A grant from its written form (None: the defaults); PolicyError names the bad field.

    ``resources`` replaces the default kinds, ``extraResources`` adds to them.
    """
    if data is None:
        return MissionPolicy()
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: {data!r} must be a mapping")
    unknown = sorted(set(data) - set(POLICY_FIELDS))
    if unknown:
        raise PolicyError(f"{where}.{unknown[0]}: unknown field (known: {list(POLICY_FIELDS)})")
    resources = list(DEFAULT_RESOURCES)
    if data.get("resources") is not None:
        resources = _string_list(data["resources"], f"{where}.resources")
    if data.get("extraResources") is not None:
        resources += _string_list(data["extraResources"], f"{where}.extraResources")
    for entry in resources:
        if not _RESOURCE.match(entry):
            raise PolicyError(
                f"{where}.resources: {entry!r} is not <plural>.<group>, <plural> (core), "
                "*.<group> or *"
            )
    namespaces = list(DEFAULT_NAMESPACES)
    if data.get("namespaces") is not None:
        namespaces = _string_list(data["namespaces"], f"{where}.namespaces")
    for entry in namespaces:
        if entry != ANY_NAMESPACE and not _NAMESPACE.match(entry):
            raise PolicyError(
                f"{where}.namespaces: {entry!r} is neither a namespace name nor {ANY_NAMESPACE}"
            )
    level = data.get("podSecurity", DEFAULT_POD_SECURITY)
    if level not in POD_SECURITY_LEVELS:
        raise PolicyError(f"{where}.podSecurity: {level!r} is not one of {POD_SECURITY_LEVELS}")
    return MissionPolicy(tuple(sorted(set(resources))), tuple(sorted(set(namespaces))), str(level))


# -- pods and host access --------------------------------------------------------------------

# Capabilities the baseline level lets containers add (the Pod Security Standards' list).
BASELINE_CAPABILITIES = frozenset(
    (
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    )
)
SAFE_SYSCTLS = frozenset(
    (
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    )
)
RESTRICTED_VOLUMES = frozenset(
    (
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    )
)
_POD_TEMPLATE_PATHS = (
    ("spec", "template", "spec"),  # Deployment, StatefulSet, DaemonSet, ReplicaSet, Job
    ("spec", "jobTemplate", "spec", "template", "spec"),  # CronJob
)


def _dig(obj: Any, path: tuple) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def pod_specs(obj: Mapping[str, Any]) -> list:
    """The pod specs an object would run: a Pod's own, or a workload's template."""
    if obj.get("kind") == "Pod" and isinstance(obj.get("spec"), Mapping):
        return [obj["spec"]]
    found = (_dig(obj, path) for path in _POD_TEMPLATE_PATHS)
    return [spec for spec in found if isinstance(spec, Mapping)]


def _containers(spec: Mapping[str, Any]) -> list:
    out = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            if isinstance(container, Mapping):
                out.append(container)
    return out


def _baseline_problems(spec: Mapping[str, Any]) -> list:  # noqa: PLR0912 - one check a branch
    problems = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            problems.append(f"{field}: true shares the host's namespace")
    pod_context = spec.get("securityContext") or {}
    if not isinstance(pod_context, Mapping):
        pod_context = {}
    for sysctl in pod_context.get("sysctls") or []:
        name = sysctl.get("name") if isinstance(sysctl, Mapping) else sysctl
        if name not in SAFE_SYSCTLS:
            problems.append(f"sysctl {name!r} is not a safe sysctl")
    for volume in spec.get("volumes") or []:
        if isinstance(volume, Mapping) and "hostPath" in volume:
            problems.append(f"volume {volume.get('name')!r} mounts a host path")
    contexts = [("pod", pod_context)]
    for container in _containers(spec):
        name = container.get("name")
        context = container.get("securityContext") or {}
        if not isinstance(context, Mapping):
            context = {}
        contexts.append((f"container {name!r}", context))
        if context.get("privileged") is True:
            problems.append(f"container {name!r} is privileged")
        added = (context.get("capabilities") or {}).get("add") or []
        extra = sorted(str(c) for c in added if str(c) not in BASELINE_CAPABILITIES)
        if extra:
            problems.append(f"container {name!r} adds capabilities {extra}")
        for port in container.get("ports") or []:
            if isinstance(port, Mapping) and port.get("hostPort"):
                problems.append(f"container {name!r} uses host port {port['hostPort']}")
        if context.get("procMount") not in (None, "Default"):
            problems.append(f"container {name!r} unmasks /proc")
    for who, context in contexts:
        if (context.get("windowsOptions") or {}).get("hostProcess") is True:
            problems.append(f"{who} runs as a Windows host process")
        if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
            problems.append(f"{who} turns seccomp off")
        if (context.get("appArmorProfile") or {}).get("type") == "Unconfined":
            problems.append(f"{who} turns AppArmor off")
        selinux = context.get("seLinuxOptions") or {}
        if selinux.get("user") or selinux.get("role"):
            problems.append(f"{who} sets an SELinux user or role")
    return problems


def _restricted_problems(spec: Mapping[str, Any]) -> list:
    problems = []
    for volume in spec.get("volumes") or []:
        if isinstance(volume, Mapping):
            kinds = set(volume) - {"name"}
            if kinds and not kinds <= RESTRICTED_VOLUMES:
                problems.append(f"volume {volume.get('name')!r} is of type {sorted(kinds)[0]}")
    pod_context = spec.get("securityContext") or {}
    for container in _containers(spec):
        name = container.get("name")
        context = container.get("securityContext") or {}
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name!r} must set allowPrivilegeEscalation: false")
        if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
            problems.append(f"container {name!r} must drop ALL capabilities")
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            problems.append(f"container {name!r} must set runAsNonRoot: true")
        profile = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get(
            "type"
        )
        if profile not in ("RuntimeDefault", "Localhost"):
            problems.append(f"container {name!r} must use the RuntimeDefault seccomp profile")
    return problems


def pod_security_problems(spec: Mapping[str, Any], level: str) -> list:
    """What in one pod spec breaks Pod Security level ``level`` (empty: nothing)."""
    if level == PRIVILEGED:
        return []
    problems = _baseline_problems(spec)
    if level == RESTRICTED:
        problems += _restricted_problems(spec)
    return problems


def _level_rank(level: Any) -> int:
    return POD_SECURITY_LEVELS.index(level) if level in POD_SECURITY_LEVELS else -1


def _content_problems(
    obj: Mapping[str, Any], plural: str, group: str, policy: MissionPolicy
) -> list:
    level = policy.pod_security
    problems = []
    for spec in pod_specs(obj):
        problems += pod_security_problems(spec, level)
    if (plural, group) == ("persistentvolumes", "") and level != PRIVILEGED:
        spec = obj.get("spec") or {}
        for source in ("hostPath", "local"):
            if isinstance(spec, Mapping) and source in spec:
                problems.append(f"a {source} PersistentVolume gives pods host access")
    if (plural, group) == ("namespaces", ""):
        name = (obj.get("metadata") or {}).get("name")
        if not policy.allows_namespace(str(name)):
            problems.append(f"namespace {name!r} is not granted")
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for key, value in labels.items():
            loosens = key.startswith(POD_SECURITY_LABEL_PREFIX) and not key.endswith("-version")
            if loosens and _level_rank(value) < _level_rank(level):
                problems.append(f"label {key}={value} loosens Pod Security")
    return problems


# -- what the API server enforces -------------------------------------------------------------


def content_rules(policy: MissionPolicy) -> list:
    """RBAC rules letting the agent manage exactly the granted kinds (grouped by API group)."""
    if "*" in policy.resources:
        return [{"apiGroups": ["*"], "resources": ["*"], "verbs": list(CONTENT_VERBS)}]
    by_group: dict = {}
    for entry in policy.resources:
        if entry.startswith("*."):
            by_group[entry[2:]] = ["*"]
            continue
        plural, _dot, group = entry.partition(".")
        if by_group.get(group) != ["*"]:
            by_group.setdefault(group, []).append(plural)
    return [
        {"apiGroups": [group], "resources": sorted(set(plurals)), "verbs": list(CONTENT_VERBS)}
        for group, plurals in sorted(by_group.items())
    ]


# Before deleting a Namespace a Mission created, the agent lists what else it holds (it deletes
# it only when nothing): list, and nothing more, on the built-in namespaced kinds outside the
# default grant that hold no secrets.
NAMESPACE_INSPECT_RULES = tuple(
    {"apiGroups": [group], "resources": list(plurals), "verbs": ["list"]}
    for group, plurals in (
        (
            "",
            (
                "endpoints",
                "limitranges",
                "podtemplates",
                "replicationcontrollers",
                "resourcequotas",
            ),
        ),
        ("apps", ("controllerrevisions",)),
        ("coordination.k8s.io", ("leases",)),
        ("discovery.k8s.io", ("endpointslices",)),
        ("rbac.authorization.k8s.io", ("roles", "rolebindings")),
        ("resource.k8s.io", ("resourceclaims", "resourceclaimtemplates")),
        ("storage.k8s.io", ("csistoragecapacities",)),
    )
)

# What the agent needs for itself on its own cluster, whatever the grant: the Fornax objects,
# the nodes it counts for its heartbeat, the health endpoints, and the namespace inspection.
AGENT_OWN_RULES = (
    {
        "apiGroups": [names.GROUP],
        "resources": [
            "missions",
            "missions/status",
            "edgeclusters",
            "edgeclusters/status",
            "clusterreports",
            "missionspecs",
        ],
        "verbs": list(CONTENT_VERBS),
    },
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
    {"nonResourceURLs": ["/readyz", "/healthz", "/livez", "/version"], "verbs": ["get"]},
    *NAMESPACE_INSPECT_RULES,
)


def agent_rules(policy: MissionPolicy) -> list:
    """The rules of the agent's ClusterRole on its own cluster: its own needs plus the grant."""
    return [dict(rule) for rule in AGENT_OWN_RULES] + content_rules(policy)


def admission_configuration(policy: MissionPolicy) -> dict:
    """The API server's AdmissionConfiguration: Pod Security admission at the grant's level.

    Every namespace gets the level by default (warnings and audit at ``restricted``); the
    cluster's own namespaces are exempt, since its system pods are not Mission content.
    """
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [
            {
                "name": "PodSecurity",
                "configuration": {
                    "apiVersion": "pod-security.admission.config.k8s.io/v1",
                    "kind": "PodSecurityConfiguration",
                    "defaults": {
                        "enforce": policy.pod_security,
                        "enforce-version": "latest",
                        "audit": RESTRICTED,
                        "audit-version": "latest",
                        "warn": RESTRICTED,
                        "warn-version": "latest",
                    },
                    "exemptions": {
                        "usernames": [],
                        "runtimeClasses": [],
                        "namespaces": list(PROTECTED_NAMESPACES),
                    },
                },
            }
        ],
    }

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""API group, paths, labels and annotations of the Fornax resources: named once, used everywhere.

Everything that spells the API group imports it from here (the inventory plugin, the modules,
the agent, the validation checks); tests/unit/test_code_shape.py checks that nothing else does.
"""

from __future__ import annotations

from typing import Optional

GROUP = "edgeclusters.kubeedge.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
# The values of an EdgeCluster's spec.kubeDistro (crds/edgecluster.yaml lists them as its enum).
KUBE_DISTROS = ("k8s", "k3s", "arktos")
# The values of an EdgeCluster's status.healthStatus (its enum in crds/edgecluster.yaml).
HEALTHY, UNHEALTHY, DISCONNECTED = "healthy", "unhealthy", "disconnected"
HEALTH_STATES = (HEALTHY, UNHEALTHY, DISCONNECTED)

MISSIONS = f"/apis/{API_VERSION}/missions"
EDGECLUSTERS = f"/apis/{API_VERSION}/edgeclusters"
CLUSTERREPORTS = f"/apis/{API_VERSION}/clusterreports"
# A Mission's spec mirror (kind MissionSpec, same name as its Mission): what children watch, so a
# status write of a Mission reaches no child (see docs/agent.md, "Lean watches").
MISSIONSPEC_KIND = "MissionSpec"
MISSIONSPECS = f"/apis/{API_VERSION}/missionspecs"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "centaurus.fornax"
# On content the agent created for a Mission: the Mission's name.
MISSION_LABEL = f"{GROUP}/mission"
# On content: the cluster whose agent created it (never delete what another agent made).
APPLIED_BY_ANNOTATION = f"{GROUP}/applied-by"
# On a Namespace a deleted Mission had created and left standing: why it was kept.
KEPT_ANNOTATION = f"{GROUP}/kept"
# On a Mission copied down from the parent: the parent's name and the generation copied.
COPIED_FROM_ANNOTATION = f"{GROUP}/copied-from"
PARENT_GENERATION_ANNOTATION = f"{GROUP}/parent-generation"

# On an EdgeCluster: its kube distro (a built-in label placement can select on).
DISTRO_LABEL = f"{GROUP}/kubedistro"
# On every object cluster_link creates on a parent for a child: the child's name.
CHILD_LABEL = f"{GROUP}/child"
# On every object a validation run creates: the run's id.
VALIDATION_LABEL = f"{GROUP}/validation"

FIELD_MANAGER_AGENT = "fornax-agent"


def mission_path(name: Optional[str] = None, status: bool = False) -> str:
    path = MISSIONS if name is None else f"{MISSIONS}/{name}"
    return f"{path}/status" if status else path


def edgecluster_path(name: Optional[str] = None, status: bool = False) -> str:
    path = EDGECLUSTERS if name is None else f"{EDGECLUSTERS}/{name}"
    return f"{path}/status" if status else path


def missionspec_path(name: Optional[str] = None) -> str:
    return MISSIONSPECS if name is None else f"{MISSIONSPECS}/{name}"


def clusterreport_path(name: Optional[str] = None) -> str:
    return CLUSTERREPORTS if name is None else f"{CLUSTERREPORTS}/{name}"


# A child reports in REPORT_SHARDS ClusterReports named ``<child>.<i>`` (a Mission's entry lives
# in shard ``report_shard(mission)``), besides the whole-report ClusterReport ``<child>`` of
# agents before sharding. A cluster name is a DNS-1123 label, so a name with a dot is a shard.
REPORT_SHARDS = 16


def report_shard(mission: str) -> int:
    """The shard of a child's report that holds Mission ``mission``'s entry (stable)."""
    value = 0
    for byte in mission.encode():
        value = (value * 31 + byte) & 0xFFFFFFFF
    return value % REPORT_SHARDS


def report_shard_names(child: str) -> list:
    return [f"{child}.{i}" for i in range(REPORT_SHARDS)]


def report_owner(report: str) -> tuple:
    """(child, shard) of a ClusterReport name; shard None for a whole report ``<child>``."""
    child, dot, shard = report.partition(".")
    if not dot:
        return child, None
    return child, int(shard) if shard.isdigit() and int(shard) < REPORT_SHARDS else -1

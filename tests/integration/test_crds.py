"""The Mission and EdgeCluster CRDs on a real API server: CRUD, status, columns, admission."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    MERGE_PATCH,
    KubeApiError,
)

GROUP_VERSION = "edgeclusters.kubeedge.io/v1"
MISSIONS = f"/apis/{GROUP_VERSION}/missions"
EDGECLUSTERS = f"/apis/{GROUP_VERSION}/edgeclusters"
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "missions"
SAMPLE_FILES = sorted(SAMPLES.glob("*.yaml"))


def mission(name: str, **spec) -> dict:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Mission",
        "metadata": {"name": name},
        "spec": spec,
    }


DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: default\n"


@pytest.fixture
def admin(cluster):
    with cluster.client() as client:
        yield client
        for path in (MISSIONS, EDGECLUSTERS):
            for item in client.get(path)["items"]:
                client.delete_if_exists(f"{path}/{item['metadata']['name']}")


def kubectl(cluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(cluster.bin / "kubectl"), f"--kubeconfig={cluster.kubeconfig_path}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.stem)
def test_mission_files_apply_unchanged_with_kubectl(cluster, admin, sample):
    """Files in the original format apply as they are, with kubectl's strict field validation."""
    result = kubectl(cluster, "apply", "--validate=strict", "-f", str(sample))
    assert result.returncode == 0, result.stderr
    name = yaml.safe_load(sample.read_text())["metadata"]["name"]
    stored = admin.get(f"{MISSIONS}/{name}")
    assert stored["spec"] == yaml.safe_load(sample.read_text())["spec"]


def test_mission_crud_and_status_subresource(admin):
    created = admin.create(MISSIONS, mission("m1", missionresource=DEPLOYMENT))
    assert created["metadata"]["generation"] == 1
    # Spec update bumps the generation...
    admin.patch(f"{MISSIONS}/m1", {"spec": {"placement": {"clusters": [{"name": "c"}]}}})
    assert admin.get(f"{MISSIONS}/m1")["metadata"]["generation"] == 2
    # ...a status write does not, and status sent to the main resource is ignored.
    status = {
        "status": {
            "states": {"b": "1/1", "b/c": "not match", "b/c/d": "cluster unreachable"},
            "summary": {"clusters": 3, "matched": 1, "ready": 1, "unreachable": 1},
            "observedGeneration": 2,
            "contentKind": "Deployment",
        }
    }
    admin.patch(f"{MISSIONS}/m1/status", status)
    admin.patch(f"{MISSIONS}/m1", {"status": {"states": {"x": "overwritten?"}}})
    stored = admin.get(f"{MISSIONS}/m1")
    assert stored["metadata"]["generation"] == 2
    assert stored["status"]["states"] == status["status"]["states"]
    # Server-side apply is idempotent: the same object twice leaves resourceVersion alone.
    path = f"{MISSIONS}/m2"
    first = admin.apply(path, mission("m2", missionresource=DEPLOYMENT), field_manager="t")
    second = admin.apply(path, mission("m2", missionresource=DEPLOYMENT), field_manager="t")
    assert first["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    assert {i["metadata"]["name"] for i in admin.get(MISSIONS)["items"]} >= {"m1", "m2"}
    admin.delete(f"{MISSIONS}/m1")
    assert admin.get_or_none(f"{MISSIONS}/m1") is None


def test_edgecluster_crud_status_and_defaults(admin):
    ec = {
        "apiVersion": GROUP_VERSION,
        "kind": "EdgeCluster",
        "metadata": {"name": "b", "labels": {"company": "futurewei"}},
        "spec": {"kubeconfig": "/etc/fornax/b.kubeconfig"},
    }
    created = admin.create(EDGECLUSTERS, ec)
    assert created["spec"]["kubeDistro"] == "k8s", "kubeDistro defaults to k8s"
    status = {
        "status": {
            "healthStatus": "healthy",
            "lastHeartbeat": "2026-11-22T08:00:00Z",
            "subEdgeClusterStates": {"c": "healthy", "c/d": "unhealthy"},
            "nodes": ["n1"],
            "edgeNodes": [],
            "receivedMissions": ["m"],
            "activeMissions": ["m"],
        }
    }
    admin.patch(f"{EDGECLUSTERS}/b/status", status)
    assert admin.get(f"{EDGECLUSTERS}/b")["status"]["subEdgeClusterStates"]["c/d"] == "unhealthy"
    admin.delete(f"{EDGECLUSTERS}/b")


def test_short_names_and_printer_columns(cluster, admin):
    admin.create(MISSIONS, mission("cols", missionresource=DEPLOYMENT))
    result = kubectl(cluster, "get", "mi")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header == ["NAME", "KIND", "MATCHED", "READY", "FAILED", "UNREACHABLE", "AGE"]
    admin.create(
        EDGECLUSTERS,
        {"apiVersion": GROUP_VERSION, "kind": "EdgeCluster", "metadata": {"name": "b"}},
    )
    result = kubectl(cluster, "get", "ec")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:6] == [
        "NAME",
        "LASTHEARTBEAT",
        "HEALTHSTATUS",
        "SUBEDGECLUSTERS",
        "RECEIVEDMISSIONS",
        "MATCHEDMISSIONS",
    ]
    fornax = kubectl(cluster, "get", "fornax", "-o", "name")
    assert "mission.edgeclusters.kubeedge.io/cols" in fornax.stdout
    assert "edgecluster.edgeclusters.kubeedge.io/b" in fornax.stdout


REJECTIONS = [
    (
        "neither resource nor command",
        {},
        "spec: Required value: a Mission needs spec.missionresource",
    ),
    ("blank resource", {"missionresource": "   \n"}, "spec: Required value: a Mission needs"),
    (
        "command without command",
        {"missioncommand": {"trigger": "true"}},
        "spec: Required value: a Mission",
    ),
    (
        "resource is a scalar",
        {"missionresource": "hello world"},
        'spec.missionresource: Invalid value: "string": must be YAML of a Kubernetes object',
    ),
    (
        "resource is a list",
        {"missionresource": "- a\n- b\n"},
        "spec.missionresource: Invalid value",
    ),
    ("resource is a number", {"missionresource": "42"}, "spec.missionresource: Invalid value"),
    (
        "resource not a string",
        {"missionresource": {"kind": "Deployment"}},
        'spec.missionresource: Invalid value: "object"',
    ),
    (
        "empty cluster name",
        {"missionresource": DEPLOYMENT, "placement": {"clusters": [{"name": ""}]}},
        "spec.placement.clusters[0].name: Required value: must not be empty or blank",
    ),
    (
        "blank cluster name",
        {"missionresource": DEPLOYMENT, "placement": {"clusters": [{"name": "  "}]}},
        "spec.placement.clusters[0].name: Required value: must not be empty or blank",
    ),
    (
        "cluster entry without name",
        {"missionresource": DEPLOYMENT, "placement": {"clusters": [{}]}},
        "spec.placement.clusters[0].name: Required value",
    ),
    (
        "matchlabels not a mapping",
        {"missionresource": DEPLOYMENT, "placement": {"matchlabels": ["a"]}},
        'spec.placement.matchlabels: Invalid value: "array"',
    ),
    (
        "empty label key",
        {"missionresource": DEPLOYMENT, "placement": {"matchlabels": {"": "x"}}},
        'spec.placement.matchlabels: Invalid value: "object": label keys must not be empty',
    ),
    (
        "runwhentriggersucceed not bool",
        {"missioncommand": {"command": "true", "runwhentriggersucceed": "yes"}},
        "spec.missioncommand.runwhentriggersucceed: Invalid value",
    ),
]


@pytest.mark.parametrize(("case", "spec", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_nonsense_missions_are_rejected_naming_the_field(admin, case, spec, message):
    with pytest.raises(KubeApiError) as rejected:
        admin.create(MISSIONS, mission("bad", **spec))
    assert rejected.value.status == 422
    assert message in rejected.value.message, rejected.value.message
    assert admin.get_or_none(f"{MISSIONS}/bad") is None


def test_a_rejected_update_leaves_the_stored_mission_intact(admin):
    good = mission("keep", missionresource=DEPLOYMENT, placement={"matchlabels": {"zone": "x"}})
    admin.create(MISSIONS, good)
    broken = copy.deepcopy(good)
    broken["spec"]["missionresource"] = "scalar"
    with pytest.raises(KubeApiError):
        admin.apply(f"{MISSIONS}/keep", broken, field_manager="t", force=True)
    with pytest.raises(KubeApiError):
        admin.patch(
            f"{MISSIONS}/keep",
            {"spec": {"placement": {"clusters": [{"name": ""}]}}},
            patch_type=MERGE_PATCH,
        )
    assert admin.get(f"{MISSIONS}/keep")["spec"] == good["spec"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"metadata": {"name": "Upper_Case"}}, "metadata.name must be a DNS-1123 label"),
        (
            {"metadata": {"name": "b"}, "spec": {"kubeDistro": "openshift"}},
            'spec.kubeDistro: Unsupported value: "openshift"',
        ),
    ],
)
def test_nonsense_edgeclusters_are_rejected(admin, body, message):
    ec = {"apiVersion": GROUP_VERSION, "kind": "EdgeCluster", **body}
    with pytest.raises(KubeApiError) as rejected:
        admin.create(EDGECLUSTERS, ec)
    assert message in rejected.value.message, rejected.value.message


def test_bad_health_status_is_rejected(admin):
    admin.create(
        EDGECLUSTERS,
        {"apiVersion": GROUP_VERSION, "kind": "EdgeCluster", "metadata": {"name": "h"}},
    )
    with pytest.raises(KubeApiError) as rejected:
        admin.patch(f"{EDGECLUSTERS}/h/status", {"status": {"healthStatus": "fine"}})
    assert 'status.healthStatus: Unsupported value: "fine"' in rejected.value.message


# The roll-up's limits (plugins/module_utils/fornax/limits.py) at admission, and the CEL
# regular expression agreeing with Python's on the edge cases of a path.
ROLLUP_PATHS = [
    "b",
    "b/c-1/d",
    "101/on/y",
    "/".join(["x" * 63] * 15),  # the longest path
    "/".join(["x"] * 16),  # one segment too many
    "x" * 64,
    "B",
    "b/",
    "b//c",
    "b/*",
    "*",
]


def test_mission_status_paths_are_checked_like_the_rollup(admin):
    admin.create(MISSIONS, mission("paths", missionresource=DEPLOYMENT))
    for path in ROLLUP_PATHS:
        for summary in (False, True):
            field = "subtreeSummaries" if summary else "states"
            value = {"clusters": 1, "matched": 1} if summary else "applied"
            body = {"status": {field: {path: value}}}
            try:
                admin.patch(f"{MISSIONS}/paths/status", body)
                accepted = True
            except KubeApiError as exc:
                assert exc.status == 422 and f"status.{field}" in exc.message, exc.message
                accepted = False
            assert accepted is (st.path_problem(path, summary=summary) is None), (path, field)
            admin.patch(f"{MISSIONS}/paths/status", {"status": {field: None}})


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ({"summary": {"failed": -3}}, "status.summary.failed: Invalid value: -3"),
        ({"summary": {"ready": 10**6}}, "status.summary.ready: Invalid value: 1000000"),
        ({"states": {"b": "x" * 513}}, "status.states.b: Too long"),
        ({"states": {f"b/n{i}": "1/1" for i in range(1001)}}, "status.states: Too many"),
        (
            {"subtreeSummaries": {"b": {"clusters": 5, "matched": -3, "failed": -3}}},
            "status.subtreeSummaries.b.matched: Invalid value: -3",
        ),
        ({"observedGeneration": -1}, "status.observedGeneration: Invalid value: -1"),
    ],
    ids=["negative", "a million", "long state", "too many paths", "neg. folded", "gen"],
)
def test_mission_status_beyond_the_rollup_limits_is_refused(admin, status, message):
    admin.create(MISSIONS, mission("limits", missionresource=DEPLOYMENT))
    with pytest.raises(KubeApiError) as rejected:
        admin.patch(f"{MISSIONS}/limits/status", {"status": status})
    assert rejected.value.status == 422
    assert message in rejected.value.message, rejected.value.message
    assert "status" not in admin.get(f"{MISSIONS}/limits")

"""Hostile Missions on the real a -> b -> c -> d tree: each fails alone.

Every test runs with a bystander Mission and a watch on the heartbeats (bystanders.py): the
agents stay the same processes, every child stays healthy at its parent, the bystander's
states and objects do not move, and no agent meets an exception it did not expect.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from fornax_harness.cluster import crd_documents, install_crds
from fornax_harness.manifests import deployment, mission
from fornax_harness.tree import FornaxTree, wait_for

from .bystanders import Bystanders, wait_states
from .conftest import exists

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
EVERYWHERE = ("b", "b/c", "b/c/d")
ONLY_C = {"clusters": [{"name": "c"}]}
NOT_MATCH_BUT_C = {"b": "not match", "b/c/d": "not match"}


@pytest.fixture
def guard(fornax: FornaxTree) -> Iterator[Bystanders]:
    bystanders = Bystanders(fornax)
    yield bystanders
    bystanders.check()


@pytest.fixture
def watched(fornax: FornaxTree, guard: Bystanders) -> FornaxTree:
    """The tree, with its agents, heartbeats and a bystander Mission watched (see guard)."""
    return fornax


def configmap(name: str, data: str = "  key: value\n", namespace: str = "default") -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"data:\n{data}"
    )


def create(fornax: FornaxTree, name: str, resource: str | None = None, **spec) -> None:
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission(name, resource, **spec))


def delete(fornax: FornaxTree, name: str) -> None:
    with fornax.client("a") as a:
        a.delete_if_exists(names.mission_path(name))


def gone_everywhere(fornax: FornaxTree, name: str, timeout: float = 30) -> None:
    for cluster in ("b", "c", "d"):
        wait_for(
            lambda c=cluster: not exists(fornax, c, names.mission_path(name)),
            timeout,
            f"Mission {name} gone from {cluster}",
        )


ALIAS_BOMB = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb, namespace: default}\ndata:\n"
    '  a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"  {n}: &{n} [{','.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


def test_hostile_content_fails_that_mission_alone(watched, guard):
    assert len(ALIAS_BOMB) < 450, "as the issue's bomb: under 450 bytes, 9^9 nodes"
    create(watched, "dated", configmap("dated", "  released: 2024-01-01\n"))
    create(watched, "binary", configmap("binary", "  blob: !!binary aGVsbG8=\n"))
    create(
        watched,
        "int-name",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 123\n  namespace: default\n",
    )
    create(watched, "bomb", ALIAS_BOMB)
    create(watched, "typed-data", configmap("typed-data", "  - a list, not a map\n"))
    create(
        watched,
        "list-labels",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ll\n  namespace: default\n"
        "  labels: [a, b]\n",
    )
    # An unquoted date stays the text it was written as (as in Kubernetes' own reader).
    wait_states(watched, "dated", dict.fromkeys(EVERYWHERE, "applied"))
    with watched.client("d") as d:
        assert d.get(f"{CONFIGMAPS}/dated")["data"] == {"released": "2024-01-01"}
    expected = {
        "binary": "failed: spec.missionresource: line 7, column 9: binary values (!!binary) have "
        "no JSON form: give base64 text",
        "int-name": "failed: spec.missionresource document 1: metadata.name 123 is a int",
        "bomb": "failed: spec.missionresource: line 8, column 10: aliases repeat more than "
        "1000 nodes (an alias bomb?)",
        "list-labels": "failed: spec.missionresource document 1: metadata.labels must map",
        "typed-data": "failed: ConfigMap/default/typed-data: failed to create typed patch object",
    }
    for name, reason in expected.items():
        found = wait_states(watched, name, dict.fromkeys(EVERYWHERE, reason + "..."))
        assert len(set(found.values())) == 1, found
    for cluster in ("b", "c", "d"):
        with watched.client(cluster) as client:
            marked = client.get(CONFIGMAPS, labelSelector=names.MISSION_LABEL)["items"]
        assert {o["metadata"]["name"] for o in marked} - {"dated"} == {guard.name}, cluster


def lax_mission_crd() -> dict:
    """The Mission CRD with an unchecked spec: a parent whose CRD predates the schema."""
    crd = copy.deepcopy(crd_documents()[0])
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return crd


@pytest.fixture
def lax_parents(watched) -> Iterator[FornaxTree]:
    """a and b accept any spec; c and d keep the real schema."""
    crd = lax_mission_crd()
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
    for cluster in ("a", "b"):
        with watched.client(cluster) as client:
            client.apply(path, crd, field_manager="fornax-harness", force=True)
    try:
        yield watched
    finally:
        with watched.client("a") as a:
            for item in a.get(names.MISSIONS)["items"]:
                if item["metadata"]["name"].startswith("typed-"):
                    a.delete_if_exists(names.mission_path(item["metadata"]["name"]))
        for name in ("typed-placement", "typed-resource", "typed-statecheck", "typed-command"):
            gone_everywhere(watched, name)
        for cluster in ("a", "b"):
            install_crds(watched[cluster])


def test_spec_fields_of_the_wrong_type_fail_that_mission_alone(lax_parents):
    fornax = lax_parents
    content = configmap("typed")
    create(fornax, "typed-placement", content, placement="c")
    create(fornax, "typed-resource", None, missionresource={"kind": "ConfigMap"})
    create(fornax, "typed-statecheck", content, statecheck=["echo", "x"])
    create(fornax, "typed-command", None, missioncommand="rm -rf /")
    # c's schema refuses the copy's create, naming the Mission.
    refused = (
        'failed: copy refused by this cluster: Mission.edgeclusters.kubeedge.io "{}" is invalid...'
    )
    expected = {
        "typed-placement": "failed: spec.placement: 'c' is a str, not a mapping",
        "typed-resource": "failed: spec.missionresource: {",
        "typed-statecheck": "failed: spec.statecheck: ['echo', 'x'] is a list, not a mapping",
        "typed-command": "failed: spec.missioncommand: 'rm -rf /' is a str, not a mapping",
    }
    for name, reason in expected.items():
        # b (lax, like its parent) fails it; c's API server refuses the copy: c fails it too.
        found = wait_states(fornax, name, {"b": reason + "...", "b/c": refused.format(name)})
        if name == "typed-resource":  # the lax schema prunes the mapping's content
            assert found["b"].endswith("} is a dict, not YAML text (a string)"), found
    for cluster in ("b", "c", "d"):
        assert not exists(fornax, cluster, f"{CONFIGMAPS}/typed"), cluster


CLUSTER_ADMIN_BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: mission-takes-over
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - kind: User
    name: mallory
"""

PRIVILEGED_HOSTPATH_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: root-of-the-host
  namespace: default
spec:
  containers:
    - name: shell
      image: registry.invalid/tools:1
      securityContext:
        privileged: true
      volumeMounts:
        - {name: root, mountPath: /host}
  volumes:
    - name: root
      hostPath: {path: /}
"""


def test_missions_beyond_the_clusters_grant_are_refused(watched):
    create(watched, "take-over", CLUSTER_ADMIN_BINDING)
    create(watched, "host-root", PRIVILEGED_HOSTPATH_POD)
    create(watched, "mixed", configmap("mixed-first") + "---\n" + CLUSTER_ADMIN_BINDING)
    system = deployment("in-system").replace("namespace: default", "namespace: kube-system")
    create(watched, "in-system", system)
    binding = (
        "failed: not allowed here: ClusterRoleBinding/- "
        "(clusterrolebindings.rbac.authorization.k8s.io is not granted)"
    )
    wait_states(watched, "take-over", dict.fromkeys(EVERYWHERE, binding))
    wait_states(watched, "mixed", dict.fromkeys(EVERYWHERE, binding))
    wait_states(
        watched,
        "host-root",
        dict.fromkeys(
            EVERYWHERE,
            "failed: not allowed here: Pod/default: volume 'root' mounts a host path "
            "(podSecurity: baseline)",
        ),
    )
    refused = (
        "failed: not allowed here: Deployment/kube-system (namespace 'kube-system' is not granted)"
    )
    # d's agent config grants kube-system (mission_policy): only d runs it.
    wait_states(watched, "in-system", {"b": refused, "b/c": refused, "b/c/d": "2/2"}, 45)
    for cluster in ("b", "c", "d"):
        with watched.client(cluster) as client:
            assert not client.get_or_none(
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/mission-takes-over"
            )
            assert not client.get_or_none("/api/v1/namespaces/default/pods/root-of-the-host")
            assert not client.get_or_none(f"{CONFIGMAPS}/mixed-first"), "nothing of it applied"
    delete(watched, "in-system")
    wait_for(
        lambda: (
            not exists(watched, "d", "/apis/apps/v1/namespaces/kube-system/deployments/in-system")
        ),
        30,
        "in-system removed from d",
    )


def test_an_object_belongs_to_one_mission(watched):
    create(watched, "owner", configmap("owned", "  by: owner\n"))
    wait_states(watched, "owner", dict.fromkeys(EVERYWHERE, "applied"))
    create(watched, "intruder", configmap("owned", "  by: intruder\n"))
    wait_states(
        watched,
        "intruder",
        dict.fromkeys(EVERYWHERE, "failed: ConfigMap/default/owned belongs to Mission owner"),
    )
    delete(watched, "intruder")
    gone_everywhere(watched, "intruder")
    time.sleep(1.0)  # several turns of every agent's work loop
    for cluster in ("b", "c", "d"):
        with watched.client(cluster) as client:
            owned = client.get(f"{CONFIGMAPS}/owned")
        assert owned["data"] == {"by": "owner"}, cluster
        assert owned["metadata"]["labels"][names.MISSION_LABEL] == "owner"
    delete(watched, "owner")
    for cluster in ("b", "c", "d"):
        wait_for(
            lambda c=cluster: not exists(watched, c, f"{CONFIGMAPS}/owned"),
            30,
            f"owned gone in {cluster}",
        )


def test_a_half_applied_mission_is_removed_even_across_a_restart(watched, guard):
    half = configmap("half-ok") + "---\n" + configmap("Not_A_Valid_Name")
    create(watched, "half", half)
    reason = (
        "failed: ConfigMap/default/Not_A_Valid_Name (1 applied before it, removed with the "
        'Mission): ConfigMap "Not_A_Valid_Name" is invalid'
    )
    wait_states(watched, "half", dict.fromkeys(EVERYWHERE, reason + "..."))
    for cluster in ("b", "c", "d"):
        assert exists(watched, cluster, f"{CONFIGMAPS}/half-ok"), cluster
    state_file = watched["d"].dir / "agent-state" / "agent-state.json"
    record = json.loads(state_file.read_text())["applied"]["half"]
    assert record["complete"] is False
    assert f"{CONFIGMAPS}/half-ok" in record["objects"]
    # d's agent is down while the Mission goes: what it recorded is all it has to go on.
    guard.excuse("d")
    watched.stop_agent("d")
    delete(watched, "half")
    wait_for(lambda: not exists(watched, "c", f"{CONFIGMAPS}/half-ok"), 30, "half-ok gone in c")
    assert exists(watched, "d", f"{CONFIGMAPS}/half-ok")
    watched.start_agent("d")
    guard.restarted("d")
    wait_for(lambda: not exists(watched, "d", f"{CONFIGMAPS}/half-ok"), 30, "half-ok gone in d")
    gone_everywhere(watched, "half")


def test_a_namespace_with_a_users_object_is_kept(watched):
    content = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mission-space\n---\n"
        + configmap("settings", namespace="mission-space")
    )
    create(watched, "space", content)
    wait_states(watched, "space", dict.fromkeys(EVERYWHERE, "applied"))
    users = "/api/v1/namespaces/mission-space/configmaps"
    with watched.client("b") as b:
        b.create(users, {"metadata": {"name": "users-own"}, "data": {"mine": "yes"}})
    try:
        delete(watched, "space")
        for cluster in ("c", "d"):  # nothing but the Mission's: the namespace goes
            wait_for(
                lambda c=cluster: not exists(watched, c, "/api/v1/namespaces/mission-space"),
                60,
                f"mission-space deleted in {cluster}",
            )
        wait_for(lambda: not exists(watched, "b", f"{users}/settings"), 30, "settings gone in b")
        with watched.client("b") as b:
            space = b.get("/api/v1/namespaces/mission-space")
            assert b.get(f"{users}/users-own")["data"] == {"mine": "yes"}
        assert "deletionTimestamp" not in space["metadata"]
        kept = space["metadata"]["annotations"][names.KEPT_ANNOTATION]
        assert kept == (
            "namespace mission-space kept: it holds ConfigMap users-own, which Mission space "
            "did not create"
        )
        assert kept in watched.agent_log("b", 400)
        state = json.loads((watched["b"].dir / "agent-state" / "agent-state.json").read_text())
        assert state["kept"]["mission-space"] == {"mission": "space", "reason": kept}
    finally:
        with watched.client("b") as b:
            b.delete_if_exists("/api/v1/namespaces/mission-space")


# -- commands (only c allows them; its command timeout is 4 s) -------------------------------


def running(marker: str) -> list[int]:
    """Processes of this host whose command line holds ``marker`` (zombies excluded)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_commands_that_hide_flood_or_hang_fail_alone(watched):
    agent_c = watched.members["c"].agent
    before = peak_rss_mb(agent_c.pid)
    create(
        watched,
        "backgrounded",
        None,
        placement=ONLY_C,
        missioncommand={"command": "sleep 999.301 & nohup sleep 999.302 & echo started"},
    )
    create(
        watched,
        "flood",
        configmap("flood"),
        placement=ONLY_C,
        statecheck={"command": "yes | head -c 300000000"},
    )
    create(
        watched,
        "forever",
        None,
        placement=ONLY_C,
        missioncommand={"command": "sh -c 'sleep 999.303' & sleep 999.304"},
    )
    wait_states(watched, "backgrounded", {**NOT_MATCH_BUT_C, "b/c": "done"})
    wait_states(watched, "flood", {**NOT_MATCH_BUT_C, "b/c": "y"}, timeout=45)
    wait_states(
        watched,
        "forever",
        {
            **NOT_MATCH_BUT_C,
            "b/c": "failed: command timed out after 4 s (its process group was killed)",
        },
    )
    for marker in ("sleep 999.301", "sleep 999.302", "sleep 999.303", "sleep 999.304"):
        assert not running(marker), f"{marker} outlived its command"
    grown = peak_rss_mb(agent_c.pid) - before
    assert grown < 32, f"c's agent grew by {grown:.0f} MiB reading 300 MB of output"


def test_slow_statechecks_and_a_burst_of_reverse_commands_starve_no_heartbeat(watched, tmp_path):
    tmp_path.chmod(0o777)
    for i in range(4):
        create(
            watched,
            f"slow-{i}",
            configmap(f"slow-{i}"),
            placement=ONLY_C,
            statecheck={"command": "sleep 3; echo slow"},
        )
    burst = [f"rev-{i:02d}" for i in range(34)]
    for name in burst:
        create(
            watched,
            name,
            None,
            placement=ONLY_C,
            missioncommand={
                "command": "true",
                "reversecommand": f"sleep 0.2; touch {tmp_path / name}",
            },
        )
    for name in burst:
        wait_states(watched, name, {**NOT_MATCH_BUT_C, "b/c": "done"}, timeout=60)
    for i in range(4):
        wait_states(watched, f"slow-{i}", {**NOT_MATCH_BUT_C, "b/c": "slow"}, timeout=60)
    with watched.client("a") as a:
        for name in burst:
            a.delete(names.mission_path(name))
    wait_for(
        lambda: all((tmp_path / name).exists() for name in burst),
        90,
        "every reversecommand ran",
        interval=0.2,
    )
    gone_everywhere(watched, burst[-1])
    for i in range(4):
        assert exists(watched, "c", f"{CONFIGMAPS}/slow-{i}"), "the slow ones stay"

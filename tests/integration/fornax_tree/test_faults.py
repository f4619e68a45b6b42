"""Faults and hard cases: crashes, restarts, malformed Missions, commands, no needless writes."""

from __future__ import annotations

import time

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.states import PENDING
from fornax_harness.manifests import deployment, mission
from fornax_harness.tree import wait_for

from .conftest import DEPLOYMENTS, exists, states, wait_states

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def configmaps(count: int, prefix: str) -> str:
    docs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{prefix}-{i}", "namespace": "default"},
            "data": {"index": str(i)},
        }
        for i in range(count)
    ]
    return yaml.safe_dump_all(docs)


def count_in(fornax, cluster: str, prefix: str) -> int:
    with fornax.client(cluster) as client:
        items = client.get(CONFIGMAPS, labelSelector=f"{names.MISSION_LABEL}={prefix}")["items"]
    return len(items)


def test_agent_killed_mid_apply_converges_after_restart(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("many", configmaps(60, "many")))
    wait_for(lambda: count_in(fornax, "d", "many") > 0, 15, "d started applying")
    fornax.kill_agent("d")  # SIGKILL: no chance to finish or clean up
    fornax.start_agent("d")
    wait_for(lambda: count_in(fornax, "d", "many") == 60, 20, "all 60 objects in d")
    wait_states(fornax, "a", "many", {"b": "applied", "b/c": "applied", "b/c/d": "applied"})


def test_parent_api_server_restart(fornax):
    fornax["a"].restart_apiserver()
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("after-restart", deployment("after-restart")))
    wait_for(lambda: exists(fornax, "d", f"{DEPLOYMENTS}/after-restart"), 20, "reaches d")
    wait_states(
        fornax, "a", "after-restart", {"b": "2/2", "b/c": "2/2", "b/c/d": "2/2"}, timeout=30
    )


def test_malformed_missions_fail_alone(fornax):
    bad_yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n"
    unknown_kind = "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n"
    tricky = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "tricky", "namespace": "default"},
        "data": {"text": 'it\'s 100% "quoted" %s %d \\n $(echo no) `echo no`'},
    }
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("bad-yaml", bad_yaml))
        a.create(names.MISSIONS, mission("unknown-kind", unknown_kind))
        a.create(names.MISSIONS, mission("tricky", yaml.safe_dump(tricky)))
        a.create(names.MISSIONS, mission("good", deployment("good")))
    wait_states(fornax, "a", "good", {"b": "2/2", "b/c": "2/2", "b/c/d": "2/2"})
    wait_states(fornax, "a", "tricky", {"b": "applied", "b/c": "applied", "b/c/d": "applied"})
    with fornax.client("d") as d:
        assert d.get(f"{CONFIGMAPS}/tricky")["data"] == tricky["data"]
    bad = wait_for(
        lambda: len(states(fornax, "a", "bad-yaml")) == 3 and states(fornax, "a", "bad-yaml"),
        15,
        "bad-yaml states",
    )
    assert all(
        s.startswith("failed: spec.missionresource: not valid YAML") for s in bad.values()
    ), bad
    unknown = wait_for(
        lambda: (
            len(states(fornax, "a", "unknown-kind")) == 3 and states(fornax, "a", "unknown-kind")
        ),
        15,
        "unknown-kind states",
    )
    assert all("no kind 'Gadget'" in s for s in unknown.values()), unknown


def test_agent_restart_does_not_rewrite_content(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("steady", deployment("steady")))
    wait_states(fornax, "a", "steady", {"b": "2/2", "b/c": "2/2", "b/c/d": "2/2"})
    with fornax.client("d") as d:
        before = d.get(f"{DEPLOYMENTS}/steady")["metadata"]
    fornax.stop_agent("d")
    fornax.start_agent("d")
    time.sleep(2.0)  # several heartbeats and a full list + exec pass of the new agent
    with fornax.client("d") as d:
        after = d.get(f"{DEPLOYMENTS}/steady")["metadata"]
    assert after["generation"] == before["generation"]
    assert after["managedFields"] == before["managedFields"], "no apply was repeated"


def test_commands_run_only_where_the_cluster_opted_in(fornax):
    kubectl = "[kubectl] --kubeconfig [kubeconfig] -n default"
    spec = {
        "missioncommand": {
            "trigger": f"{kubectl} get configmap cmd-ran",
            "command": f"{kubectl} create configmap cmd-ran --from-literal=by=fornax",
            "reversecommand": f"{kubectl} delete configmap cmd-ran",
        },
        "statecheck": {"command": f"{kubectl} get configmap cmd-ran -o name"},
    }
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("cmd", **spec))
    # Every cluster's final word: the command's state in c, a failure in b and d (each
    # reaches a on its own schedule, so wait for all three to leave "pending").
    found = wait_for(
        lambda: (
            len(states(fornax, "a", "cmd")) == 3
            and states(fornax, "a", "cmd").get("b/c") == "configmap/cmd-ran"
            and PENDING not in states(fornax, "a", "cmd").values()
            and states(fornax, "a", "cmd")
        ),
        30,
        "command ran in c, refused in b and d",
    )
    disabled = "failed: missioncommand is disabled on this cluster (allow_commands: false)"
    assert found == {"b": disabled, "b/c": "configmap/cmd-ran", "b/c/d": disabled}
    assert exists(fornax, "c", f"{CONFIGMAPS}/cmd-ran")
    assert not exists(fornax, "b", f"{CONFIGMAPS}/cmd-ran")
    with fornax.client("a") as a:
        a.delete(names.mission_path("cmd"))
    wait_for(
        lambda: not exists(fornax, "c", f"{CONFIGMAPS}/cmd-ran"), 15, "reversecommand ran in c"
    )


def test_a_local_mission_of_the_parents_name_is_left_alone(fornax):
    """c's own Mission shares a name with one of the root's: c neither overwrites nor adopts it."""
    with fornax.client("c") as c:
        c.create(names.MISSIONS, mission("same-name", configmaps(1, "same-name-local")))
        before = c.get(names.mission_path("same-name"))
    try:
        with fornax.client("a") as a:
            a.create(names.MISSIONS, mission("same-name", configmaps(1, "same-name-root")))
        with fornax.client("b") as b:
            wait_for(lambda: b.get_or_none(names.mission_path("same-name")), 15, "b's copy")
        time.sleep(1.0)  # c's agent has had the root's Mission for several rounds
        with fornax.client("c") as c:
            after = c.get(names.mission_path("same-name"))
        assert after["spec"] == before["spec"]
        assert after["metadata"]["generation"] == before["metadata"]["generation"]
        assert names.COPIED_FROM_ANNOTATION not in (after["metadata"].get("annotations") or {})
        assert not exists(fornax, "c", f"{CONFIGMAPS}/same-name-root-0")
    finally:
        with fornax.client("a") as a:
            a.delete_if_exists(names.mission_path("same-name"))
        with fornax.client("c") as c:
            c.delete_if_exists(names.mission_path("same-name"))

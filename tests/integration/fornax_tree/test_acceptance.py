"""The 20 acceptance scenarios of fornax-behaviour.md on a real a -> b -> c -> d tree.

Each bound below is far tighter than the original release test plan's (10-60 s heartbeat and
timeout windows, 20 s for reconnection and drift); the tests still leave slack for a loaded
two-core machine. Speed itself is measured by `make bench BENCH=agent`.
"""

from __future__ import annotations

import time

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from fornax_harness.manifests import deployment, mission
from fornax_harness.tree import wait_for

from .conftest import DEPLOYMENTS, JOBS, exists, states, wait_states

ALL_READY = {"b": "2/2", "b/c": "2/2", "b/c/d": "2/2"}


def edgecluster(fornax, at: str, name: str) -> dict:
    with fornax.client(at) as client:
        return client.get_or_none(names.edgecluster_path(name)) or {}


def health(fornax, at: str, name: str) -> tuple[str | None, dict]:
    status = edgecluster(fornax, at, name).get("status") or {}
    return status.get("healthStatus"), status.get("subEdgeClusterStates") or {}


def test_01_register(fornax):
    assert health(fornax, "a", "b") == ("healthy", {"c": "healthy", "c/d": "healthy"})
    assert health(fornax, "b", "c") == ("healthy", {"d": "healthy"})
    assert health(fornax, "c", "d") == ("healthy", {})
    assert edgecluster(fornax, "c", "d")["metadata"]["labels"]["company"] == "futurewei"


def test_02_stop_agent_b_disconnects_b(fornax):
    fornax.stop_agent("b")
    wait_for(lambda: health(fornax, "a", "b") == ("disconnected", {}), 10, "b disconnected at a")


def test_03_restart_agent_b_brings_b_back(fornax):
    fornax.stop_agent("b")
    wait_for(lambda: health(fornax, "a", "b")[0] == "disconnected", 10, "b disconnected")
    fornax.start_agent("b")
    wait_for(
        lambda: health(fornax, "a", "b") == ("healthy", {"c": "healthy", "c/d": "healthy"}),
        15,
        "b healthy with c and c/d",
    )


def test_04_deployment_to_all(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("web", deployment("web")))
    for cluster in ("b", "c", "d"):
        wait_for(lambda c=cluster: exists(fornax, c, f"{DEPLOYMENTS}/web"), 10, f"web in {cluster}")
    assert not exists(fornax, "a", f"{DEPLOYMENTS}/web"), "the root holds Missions, runs none"
    wait_states(fornax, "a", "web", ALL_READY)


def cut_b_with_web(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("web", deployment("web")))
    wait_states(fornax, "a", "web", ALL_READY)
    fornax.cut("b")
    wait_for(lambda: health(fornax, "a", "b")[0] == "disconnected", 10, "b disconnected at a")


def test_05_cut_off_b_keeps_its_workloads(fornax):
    cut_b_with_web(fornax)
    wait_states(fornax, "a", "web", {"b": "cluster unreachable"})
    time.sleep(1.0)  # well past the agents' heartbeat and child timeouts
    for cluster in ("b", "c", "d"):
        assert exists(fornax, cluster, f"{DEPLOYMENTS}/web"), cluster


def test_06_cut_off_b_still_sees_its_subtree(fornax):
    cut_b_with_web(fornax)
    assert health(fornax, "b", "c") == ("healthy", {"d": "healthy"})
    wait_states(fornax, "b", "web", {"c": "2/2", "c/d": "2/2"})


def test_07_job_to_all(fornax):
    job = (
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\n  namespace: default\n"
        "spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n"
        "        - name: run\n          image: registry.invalid/tools:1\n"
    )
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("once", job))
    for cluster in ("b", "c", "d"):
        wait_for(lambda c=cluster: exists(fornax, c, f"{JOBS}/once"), 10, f"job in {cluster}")
    found = wait_for(
        lambda: len(states(fornax, "a", "once")) == 3 and states(fornax, "a", "once"),
        30,
        "job states",
    )
    assert set(found) == {"b", "b/c", "b/c/d"}


def test_08_09_states_follow_replica_changes(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("web", deployment("web", 2)))
        wait_states(fornax, "a", "web", ALL_READY)
        a.patch(names.mission_path("web"), {"spec": {"missionresource": deployment("web", 3)}})
    for cluster in ("b", "c", "d"):
        wait_for(lambda c=cluster: replicas(fornax, c, "web") == 3, 10, f"3 replicas in {cluster}")
    wait_states(fornax, "a", "web", {"b": "3/3", "b/c": "3/3", "b/c/d": "3/3"})
    with fornax.client("a") as a:
        found = wait_for(
            lambda: (
                (a.get(names.mission_path("web")).get("status") or {}).get("observedGeneration")
                == 2
                and a.get(names.mission_path("web"))
            ),
            10,
            "a's status reflects generation 2 once the whole subtree acted on it",
        )
    assert found["metadata"]["generation"] == 2


def replicas(fornax, cluster: str, name: str) -> int | None:
    with fornax.client(cluster) as client:
        found = client.get_or_none(f"{DEPLOYMENTS}/{name}")
    return found["spec"]["replicas"] if found else None


def test_10_stop_agent_c_marks_c_unreachable(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("web", deployment("web")))
    wait_states(fornax, "a", "web", ALL_READY)
    fornax.stop_agent("c")
    wait_states(fornax, "a", "web", {"b": "2/2", "b/c": "cluster unreachable"}, timeout=15)


def test_11_delete_removes_everything(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("web", deployment("web")))
        for cluster in ("b", "c", "d"):
            wait_for(lambda c=cluster: exists(fornax, c, f"{DEPLOYMENTS}/web"), 10, cluster)
        a.delete(names.mission_path("web"))
    for cluster in ("b", "c", "d"):
        wait_for(
            lambda c=cluster: (
                not exists(fornax, c, f"{DEPLOYMENTS}/web")
                and not exists(fornax, c, names.mission_path("web"))
            ),
            10,
            f"web gone from {cluster}",
        )


def test_12_placement_by_name(fornax):
    with fornax.client("a") as a:
        a.create(
            names.MISSIONS,
            mission("only-c", deployment("only-c"), placement={"clusters": [{"name": "c"}]}),
        )
    wait_states(fornax, "a", "only-c", {"b": "not match", "b/c": "2/2", "b/c/d": "not match"})
    for cluster in ("b", "c", "d"):
        assert exists(fornax, cluster, names.mission_path("only-c")), f"copy in {cluster}"
    assert exists(fornax, "c", f"{DEPLOYMENTS}/only-c")
    assert not exists(fornax, "b", f"{DEPLOYMENTS}/only-c")
    assert not exists(fornax, "d", f"{DEPLOYMENTS}/only-c")


def test_13_placement_by_label(fornax):
    placement = {"matchlabels": {"company": "futurewei"}}
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("fw", deployment("fw"), placement=placement))
    wait_states(fornax, "a", "fw", {"b": "not match", "b/c": "not match", "b/c/d": "2/2"})
    assert exists(fornax, "d", f"{DEPLOYMENTS}/fw")
    assert not exists(fornax, "b", f"{DEPLOYMENTS}/fw") and not exists(
        fornax, "c", f"{DEPLOYMENTS}/fw"
    )


def test_14_edgecluster_info(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("web", deployment("web")))
        a.create(
            names.MISSIONS,
            mission("fw", deployment("fw"), placement={"matchlabels": {"company": "futurewei"}}),
        )
    wait_for(
        lambda: (
            (edgecluster(fornax, "a", "b").get("status") or {}).get("receivedMissions")
            == ["fw", "web"]
        ),
        10,
        "b received both",
    )
    status = edgecluster(fornax, "a", "b")["status"]
    assert status["healthStatus"] == "healthy"
    assert status["lastHeartbeat"]
    assert status["subEdgeClusterStates"] == {"c": "healthy", "c/d": "healthy"}
    assert status["activeMissions"] == ["web"]
    assert status["nodes"] == ["b-node-0"]
    at_b = wait_for(
        lambda: (
            (edgecluster(fornax, "b", "c").get("status") or {}).get("receivedMissions")
            == ["fw", "web"]
            and edgecluster(fornax, "b", "c")["status"]
        ),
        10,
        "c's heartbeat at b lists both",
    )
    assert at_b["subEdgeClusterStates"] == {"d": "healthy"}
    assert at_b["activeMissions"] == ["web"]
    wait_for(
        lambda: (
            (edgecluster(fornax, "c", "d").get("status") or {}).get("activeMissions")
            == ["fw", "web"]
        ),
        10,
        "d matches both",
    )


def test_15_created_while_cut_off(fornax):
    fornax.cut("b")
    wait_for(lambda: health(fornax, "a", "b")[0] == "disconnected", 10, "b disconnected")
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("late", deployment("late")))
    time.sleep(1.0)
    for cluster in ("b", "c", "d"):
        assert not exists(fornax, cluster, names.mission_path("late")), cluster
    fornax.restore("b")
    for cluster in ("b", "c", "d"):
        wait_for(
            lambda c=cluster: exists(fornax, c, f"{DEPLOYMENTS}/late"), 10, f"late in {cluster}"
        )
    wait_states(fornax, "a", "late", ALL_READY)


def test_16_updated_while_cut_off(fornax):
    cut_b_with_web(fornax)
    with fornax.client("a") as a:
        a.patch(names.mission_path("web"), {"spec": {"missionresource": deployment("web", 1)}})
    time.sleep(1.0)
    assert replicas(fornax, "d", "web") == 2, "nothing reaches d while b is cut off"
    fornax.restore("b")
    for cluster in ("b", "c", "d"):
        wait_for(lambda c=cluster: replicas(fornax, c, "web") == 1, 10, f"1 replica in {cluster}")
    wait_states(fornax, "a", "web", {"b": "1/1", "b/c": "1/1", "b/c/d": "1/1"})


def test_17_deleted_while_cut_off(fornax):
    cut_b_with_web(fornax)
    with fornax.client("a") as a:
        a.delete(names.mission_path("web"))
    time.sleep(1.0)
    assert exists(fornax, "d", f"{DEPLOYMENTS}/web"), "nothing reaches d while b is cut off"
    fornax.restore("b")
    for cluster in ("b", "c", "d"):
        wait_for(
            lambda c=cluster: not exists(fornax, c, f"{DEPLOYMENTS}/web"),
            10,
            f"web gone in {cluster}",
        )


def test_18_content_deleted_by_hand_is_restored(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("web", deployment("web")))
    wait_for(lambda: exists(fornax, "b", f"{DEPLOYMENTS}/web"), 10, "web in b")
    with fornax.client("b") as b:
        b.delete(f"{DEPLOYMENTS}/web")
    wait_for(lambda: exists(fornax, "b", f"{DEPLOYMENTS}/web"), 10, "web restored in b")


def test_19_content_scaled_by_hand_is_reverted(fornax):
    with fornax.client("a") as a:
        a.create(names.MISSIONS, mission("web", deployment("web")))
    wait_for(lambda: replicas(fornax, "b", "web") == 2, 10, "web in b")
    with fornax.client("b") as b:
        b.patch(f"{DEPLOYMENTS}/web", {"spec": {"replicas": 5}})
    wait_for(lambda: replicas(fornax, "b", "web") == 2, 10, "replicas reverted in b")


def test_20_api_server_of_d_down(fornax):
    fornax["d"].stop_apiserver()
    wait_for(lambda: health(fornax, "c", "d")[0] == "unhealthy", 10, "c sees d unhealthy")
    wait_for(
        lambda: health(fornax, "a", "b")[1].get("c/d") == "unhealthy", 10, "a sees c/d unhealthy"
    )
    fornax["d"].start_apiserver()
    wait_for(lambda: health(fornax, "a", "b")[1].get("c/d") == "healthy", 15, "d healthy again")

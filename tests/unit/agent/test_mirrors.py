"""Spec mirrors: what a parent's agent keeps for its children, what a child reads of them.

Pure logic with stand-ins for the API (recorded calls): the real mirrors, watches and the
fallback under a parent without them are tested on real API servers in
tests/integration/test_lean_watches.py.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from fornax_agent.agent import REPORT_HOLD, Agent, priority_of
from fornax_agent.mirrors import (
    MIRROR_WRITERS,
    RETRY_SECONDS,
    MirrorKeeper,
    ParentMissions,
    as_mission,
    mirror_of,
    same_mirror,
)
from fornax_agent.workqueue import WorkQueue

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeApiError
from fornax_harness.stubs import StubInformer

MISSION = {
    "apiVersion": names.API_VERSION,
    "kind": "Mission",
    "metadata": {
        "name": "web",
        "uid": "u-1",
        "generation": 3,
        "labels": {"team": "shop"},
        "resourceVersion": "77",
        "managedFields": [{"manager": "kubectl"}],
    },
    "spec": {"missionresource": "kind: ConfigMap\n"},
    "status": {"states": {f"c{i}": "applied" for i in range(1000)}},
}


class RecordingClient:
    def __init__(self, answers: dict | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple] = []

    def write_whole(self, collection: str, obj: dict, version: Any) -> dict:
        self.calls.append(("write", f"{collection}/{obj['metadata']['name']}", obj, version))
        return obj

    def delete_if_exists(self, path: str) -> bool:
        self.calls.append(("delete", path))
        return True

    def get(self, path: str, **query: Any) -> Any:
        self.calls.append(("get", path, query))
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_mirror_holds_the_spec_and_generation_and_no_status():
    mirror = mirror_of(MISSION)
    assert mirror["kind"] == names.MISSIONSPEC_KIND
    assert mirror["metadata"] == {
        "name": "web",
        "labels": {"team": "shop"},
        "ownerReferences": [
            {"apiVersion": names.API_VERSION, "kind": "Mission", "name": "web", "uid": "u-1"}
        ],
    }
    assert mirror["missionGeneration"] == 3 and mirror["spec"] == MISSION["spec"]
    assert "status" not in mirror
    assert same_mirror({**mirror, "metadata": {**mirror["metadata"], "uid": "x"}}, mirror)
    assert not same_mirror({**mirror, "missionGeneration": 2}, mirror)
    assert not same_mirror({**mirror, "metadata": {"name": "web"}}, mirror)


def test_a_child_keeps_a_mirror_as_the_mission_it_mirrors():
    shaped = as_mission(mirror_of(MISSION) | {"metadata": {"name": "web", "labels": {}}}, 3)
    assert shaped["metadata"]["generation"] == 3 and shaped["spec"] == MISSION["spec"]
    fallback = as_mission(MISSION, 3)  # a Mission itself (older parent): status dropped
    assert "status" not in fallback and "managedFields" not in fallback["metadata"]
    assert fallback["metadata"]["resourceVersion"] == "77"
    assert as_mission({"metadata": "broken"}, 1) == {"metadata": "broken"}


def keeper(
    missions: dict, mirrors: dict, children: dict, client: RecordingClient | None = None
) -> tuple[MirrorKeeper, Any]:
    client = client or RecordingClient()
    keep = MirrorKeeper(
        WorkQueue(),
        client_factory=lambda: client,
        missions=StubInformer(missions),
        children=StubInformer(children),
        stop=threading.Event(),
    )
    keep.informer = StubInformer(mirrors)
    return keep, client


def settle(keep: MirrorKeeper) -> None:
    """Wait (bounded) until the keeper's writer threads have answered every write."""
    deadline = time.monotonic() + 10
    while keep.writers.backlog() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert keep.writers.backlog() == 0, "a mirror write never answered"


def test_the_keeper_writes_changed_mirrors_and_deletes_those_of_deleted_missions():
    keep, client = keeper({"web": MISSION}, {}, {"b": {}})
    keep.keep("web")
    settle(keep)
    # None known: a create.
    assert client.calls == [("write", names.missionspec_path("web"), mirror_of(MISSION), None)]
    assert keep.informer.get("web") == mirror_of(MISSION)  # the answer, before the watch
    keep.informer.objects["web"] = {
        **mirror_of(MISSION),
        "metadata": {**mirror_of(MISSION)["metadata"], "resourceVersion": "41"},
    }
    keep.keep("web")  # a status write: the mirror is unchanged, nothing written
    settle(keep)
    assert len(client.calls) == 1
    relabelled = {**MISSION, "metadata": {**MISSION["metadata"], "labels": {}}}
    keep.missions.objects["web"] = relabelled
    keep.keep("web")  # changed: replaced whole at the version the watch holds
    settle(keep)
    assert client.calls[-1] == ("write", names.missionspec_path("web"), mirror_of(relabelled), "41")
    assert client.calls[-1][2]["metadata"]["labels"] == {}
    keep.missions.objects.clear()
    keep.keep("web")
    settle(keep)
    assert client.calls[-1] == ("delete", names.missionspec_path("web"))
    assert keep.queue.get(timeout=0) is None  # each write answered, none asked for again


class SlowClient(RecordingClient):
    """Answers each write only when the test lets it (a busy parent)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = threading.Event()
        self.started = threading.Semaphore(0)

    def write_whole(self, collection: str, obj: dict, version: Any) -> dict:
        self.started.release()
        assert self.answer.wait(10), "the test never let the write answer"
        return super().write_whole(collection, obj, version)


def test_mirror_writes_overlap_and_never_two_for_one_mission_at_once():
    missions = {
        f"m{i}": {**MISSION, "metadata": {**MISSION["metadata"], "name": f"m{i}"}} for i in range(6)
    }
    keep, client = keeper(missions, {}, {"b": {}}, SlowClient())
    for name in missions:
        keep.keep(name)
    for _unused in range(MIRROR_WRITERS):  # that many round trips wait on the server at once
        assert client.started.acquire(timeout=10)
    keep.keep("m0")  # asked for again while in flight: no second write, decided after it
    assert keep.writers.backlog() == len(missions)
    client.answer.set()
    settle(keep)
    assert sorted(c[1] for c in client.calls) == sorted(names.missionspec_path(n) for n in missions)
    assert keep.queue.get(timeout=0) == ("mirror", "m0")
    keep.close()


def test_the_clusters_own_work_on_a_mission_waits_for_its_mirror_write():
    keep, client = keeper({"web": MISSION}, {}, {"b": {}}, SlowClient())
    ran: list[str] = []
    assert not keep.passing_on("web", lambda: ran.append("web"))  # nothing in flight: go now
    keep.keep("web")
    assert client.started.acquire(timeout=10)
    assert keep.passing_on("web", lambda: ran.append("web"))  # in flight: after its answer
    assert not keep.passing_on("other", lambda: ran.append("other"))
    assert ran == []
    client.answer.set()
    settle(keep)
    deadline = time.monotonic() + 10
    while not ran and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ran == ["web"]
    keep.close()


def test_a_failed_mirror_write_is_decided_again_later():
    keep, client = keeper({"web": MISSION}, {}, {"b": {}})

    def refuse(*_a: Any, **_kw: Any) -> dict:
        raise KubeApiError(500, "InternalError", "etcd is away")

    client.write_whole = refuse  # type: ignore[method-assign]
    keep.keep("web")
    settle(keep)
    assert keep.queue.get(timeout=0) is None  # not at once:
    assert keep.queue.get(timeout=RETRY_SECONDS + 1) == ("mirror", "web")


def test_a_leaf_keeps_no_mirror_until_a_child_comes():
    keep, client = keeper({"web": MISSION}, {}, {})
    keep.keep("web")
    assert client.calls == []
    keep.children.objects["b"] = {}
    keep.children_changed()
    assert keep.queue.get(timeout=0) == ("mirror", "web")


def listing(*items: dict) -> dict:
    return {"metadata": {"resourceVersion": "5"}, "items": list(items)}


@pytest.mark.parametrize(
    ("mirrors", "missions", "mirrored"),
    [
        (listing(mirror_of(MISSION)), listing(MISSION), True),
        (listing(), listing(), True),  # nothing anywhere yet: mirrors
        (listing(), listing(MISSION), False),  # Missions but no mirror: its agent keeps none
        (KubeApiError(404, "NotFound", "no such kind"), listing(MISSION), False),
        (KubeApiError(403, "Forbidden", "a link before mirrors"), listing(MISSION), False),
    ],
)
def test_a_child_reads_mirrors_when_the_parent_keeps_them(mirrors, missions, mirrored):
    informer = ParentMissions(lambda: None, lambda *_: None)
    client = RecordingClient({names.MISSIONSPECS: mirrors, names.MISSIONS: missions})
    informer._fetch(client)
    assert informer.mirrored is mirrored
    assert informer.path == (names.MISSIONSPECS if mirrored else names.MISSIONS)


def test_other_errors_of_the_mirror_list_are_raised_for_the_informer_to_retry():
    informer = ParentMissions(lambda: None, lambda *_: None)
    client = RecordingClient({names.MISSIONSPECS: KubeApiError(503, "Unavailable", "busy")})
    with pytest.raises(KubeApiError):
        informer._fetch(client)


def test_watching_missions_the_child_asks_for_mirrors_again():
    informer = ParentMissions(lambda: None, lambda *_: None)
    refused = KubeApiError(403, "Forbidden", "RBAC not there yet")
    client = RecordingClient({names.MISSIONSPECS: refused, names.MISSIONS: listing(MISSION)})
    informer._fetch(client)
    assert not informer.mirrored
    assert not informer._mirrors_offered(client)
    client.answers[names.MISSIONSPECS] = listing(mirror_of(MISSION))
    assert informer._mirrors_offered(client)


def test_the_keeper_says_when_its_last_write_in_flight_has_answered():
    idle: list[bool] = []
    keep, client = keeper({"web": MISSION}, {}, {"b": {}}, SlowClient())
    keep.on_idle = lambda: idle.append(keep.passing_any())
    assert not keep.passing_any()
    keep.keep("web")
    assert client.started.acquire(timeout=10)
    assert keep.passing_any() and idle == []
    client.answer.set()
    settle(keep)
    deadline = time.monotonic() + 10
    while not idle and time.monotonic() < deadline:
        time.sleep(0.01)
    assert idle == [False]  # called once nothing is in flight any more
    keep.close()


def test_a_report_waits_for_the_mirror_writes_in_flight_and_no_longer_than_the_hold():
    passing = [True]
    reports: list[int] = []
    agent = SimpleNamespace(
        reporter=SimpleNamespace(report=lambda: reports.append(1)),
        mirrors=SimpleNamespace(passing_any=lambda: passing[0]),
        report_held=None,
        queue=WorkQueue(priority=priority_of),
    )
    Agent._report(agent)  # a mirror write in flight: the report waits
    assert reports == [] and agent.report_held is not None
    assert agent.queue.get(timeout=0) is None  # asked again at the hold's end at the latest
    Agent._mirrors_idle(agent)  # ... or when the mirror writes have answered
    assert agent.queue.get(timeout=0) == "report"
    passing[0] = False
    Agent._report(agent)
    assert reports == [1] and agent.report_held is None
    passing[0] = True  # a burst keeps mirrors in flight: the report goes after REPORT_HOLD
    Agent._report(agent)
    agent.report_held -= REPORT_HOLD
    Agent._report(agent)
    assert reports == [1, 1] and agent.report_held is None
    Agent._mirrors_idle(agent)  # nothing waits: nothing asked for
    assert agent.queue.get(timeout=0) is None

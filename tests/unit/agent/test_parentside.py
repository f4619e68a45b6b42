"""The parent side: a child's shards and whole report merged, what a child's health may say.

Pure logic (no API server): the folding of real reports on real clusters is tested in
tests/integration (fornax_tree, test_untrusted_reports, test_confinement).
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from fornax_agent.parentside import (
    PARTIAL_WAIT,
    STATUS_BACKLOG,
    ParentSide,
    Reports,
    child_sub_states,
    content_kind,
)
from fornax_agent.workqueue import WorkQueue

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import limits, names
from fornax_harness.stubs import StubInformer


def entry(state: str) -> dict:
    return {"states": {"b": state}, "generation": 1}


def shard_of(mission: str) -> str:
    return f"b.{names.report_shard(mission)}"


def test_shards_merge_into_one_view_per_child():
    reports = Reports()
    assert reports.update(shard_of("m1"), {"m1": entry("applied")}) == {"m1"}
    assert reports.update(shard_of("m2"), {"m2": entry("applied")}) == {"m2"}
    assert reports.of("b") == {"m1": entry("applied"), "m2": entry("applied")}
    # A shard written again with the same entries changes nothing to fold.
    assert reports.update(shard_of("m1"), {"m1": entry("applied")}) == set()
    assert reports.update(shard_of("m1"), {}) == {"m1"}
    assert reports.of("b") == {"m2": entry("applied")}


def test_an_entry_outside_its_own_shard_is_ignored():
    reports = Reports()
    home = names.report_shard("m1")
    other = f"b.{(home + 1) % names.REPORT_SHARDS}"
    assert reports.update(other, {"m1": entry("forged")}) == set()
    assert reports.of("b") == {}


def test_a_whole_report_comes_before_the_shards():
    """An agent before shards writes the whole report; an agent with shards empties it."""
    reports = Reports()
    reports.update(shard_of("m1"), {"m1": entry("applied")})
    assert reports.update("b", {"m1": entry("failed: old agent")}) == {"m1"}
    assert reports.of("b")["m1"] == entry("failed: old agent")
    assert reports.update("b", {}) == {"m1"}
    assert reports.of("b")["m1"] == entry("applied")


def test_a_name_that_is_no_shard_is_ignored():
    reports = Reports()
    assert reports.update("b.x", {"m1": entry("applied")}) == set()
    assert reports.update(f"b.{names.REPORT_SHARDS}", {"m1": entry("applied")}) == set()
    assert reports.of("b") == {}


def test_sub_states_keep_only_valid_paths_below_the_child():
    told = {
        "c": "healthy",
        "c/d": "unhealthy",
        "UPPER": "healthy",
        "c/" + "/".join(["z"] * limits.MAX_PATH_SEGMENTS): "healthy",
        "e": "x" * 500,
        "f": 3,
    }
    kept = child_sub_states("b", told)
    assert kept == {"b/c": "healthy", "b/c/d": "unhealthy", "b/e": "x" * 64}
    assert child_sub_states("b", "not a mapping") == {}
    many = {f"n{i}": "healthy" for i in range(limits.MAX_PATHS + 5)}
    assert len(child_sub_states("b", many)) == limits.MAX_PATHS


def test_content_kind():
    assert content_kind({"missionresource": "apiVersion: v1\nkind: ConfigMap\n"}) == "ConfigMap"
    assert content_kind({"missioncommand": {"command": "true"}}) == "command"
    assert content_kind("nonsense") == "command"


class RecordingWriter:
    def __init__(self) -> None:
        self.written: list[str] = []
        self.unanswered = 0

    def backlog(self) -> int:
        return self.unanswered

    def busy(self, _name: str) -> bool:
        return False

    def base(self, _name: str, _cached: dict) -> dict:
        return {}

    def submit_status(self, name: str, _patch: dict, _status: dict) -> None:
        self.written.append(name)


def parent_side(missions: dict, children: dict) -> ParentSide:
    config = SimpleNamespace(
        status_writes_per_second=100.0,
        status_write_burst=100,
        max_paths=100,
        child_timeout_seconds=60.0,
    )
    side = ParentSide(
        config,
        WorkQueue(),
        client_factory=lambda: None,
        missions=StubInformer(missions),
        stop=threading.Event(),
        on_folded=lambda _name: None,
        on_news=lambda: None,
    )
    side.children = StubInformer(children)
    side.reports = StubInformer({})
    side.status_writer = RecordingWriter()
    return side


def report(side: ParentSide, child: str, mission: str) -> None:
    name = f"{child}.{names.report_shard(mission)}"
    entries = {mission: {"states": {child: "applied"}, "generation": 1}}
    side._on_report("ADDED", {"metadata": {"name": name}, "spec": {"missions": entries}})


def test_settled_missions_are_written_before_those_waiting_for_children():
    missions = {
        name: {"metadata": {"name": name, "generation": 1}, "spec": {}} for name in ("m1", "m2")
    }
    side = parent_side(missions, {"b": {}, "c": {}})
    for child in ("b", "c"):
        report(side, child, "m2")
    report(side, "b", "m1")
    side.fold_pending = {"m1": None, "m2": None}  # m1 asked first, but c has not reported it
    side.fold()
    assert side.status_writer.written == ["m2"]
    assert side.folded["m2"]["states"] == {"b": "applied", "c": "applied"}
    # Nothing else waits, and still m1 waits for c until its time comes: written whenever the
    # writer is idle, the statuses of a burst starved the parent (see docs/agent.md).
    assert 0 < side.partial["m1"] - time.monotonic() <= PARTIAL_WAIT
    side.fold()
    assert side.status_writer.written == ["m2"]
    side.partial["m1"] = time.monotonic()  # its time has come
    side.fold()
    assert side.status_writer.written == ["m2", "m1"]
    assert side.folded["m1"]["states"] == {"b": "applied", "c": "pending"}


def test_a_mission_waiting_for_children_is_written_once_they_all_reported():
    missions = {"m1": {"metadata": {"name": "m1", "generation": 1}, "spec": {}}}
    side = parent_side(missions, {"b": {}, "c": {}})
    report(side, "b", "m1")
    side.fold_pending = {"m1": None}
    side.fold()
    assert side.status_writer.written == []
    report(side, "c", "m1")  # asks for m1's fold again: now settled, it goes at once
    side.fold()
    assert side.status_writer.written == ["m1"]
    assert side.folded["m1"]["states"] == {"b": "applied", "c": "applied"}


def test_the_fold_waits_for_the_api_servers_answers():
    """With STATUS_BACKLOG writes unanswered, nothing more is submitted, whatever the budget;
    an answer (the writer's on_free) asks for the next fold."""
    missions = {
        f"m{i}": {"metadata": {"name": f"m{i}", "generation": 1}, "spec": {}} for i in (1, 2)
    }
    side = parent_side(missions, {"b": {}})
    for name in missions:
        report(side, "b", name)
    side.fold_pending = dict.fromkeys(missions)
    side.status_writer.unanswered = STATUS_BACKLOG
    side.fold()
    assert side.status_writer.written == []
    side.status_writer.unanswered = 0
    while side.queue.get(timeout=0) is not None:  # the folds the reports asked for
        pass
    side._writer_free()
    assert side.queue.get(timeout=1) == "fold"
    side.fold()
    assert side.status_writer.written == ["m1", "m2"]


def test_entries_are_taken_once_as_they_arrive_and_forgotten_with_them():
    reports = Reports()
    honest = entry("applied")
    reports.update(shard_of("m1"), {"m1": honest})
    assert reports.entry("b", "m1") is honest  # kept as itself: no second copy per child
    lie = {"states": {"b": "applied", "elsewhere": "1/1"}, "generation": 1}
    reports.update(shard_of("m2"), {"m2": lie})
    assert reports.entry("b", "m2") == entry("applied")  # clamped once, on arrival
    reports.update(shard_of("m1"), {})
    assert reports.entry("b", "m1") is None
    reports.update(shard_of("m2"), {})
    assert reports.kept == {} and reports.merged == {}

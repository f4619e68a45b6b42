"""The report writer: shards, only what changed, the whole report for parents without shards.

The parent's API server is a stub here that keeps ClusterReports in a dict and answers as the
real one does (404 for a report the link did not create); the real thing is exercised by the
scenarios in tests/integration/fornax_tree and by ``make bench BENCH=agent``.
"""

from __future__ import annotations

import copy

import pytest
from fornax_agent import report as report_module
from fornax_agent.report import ReportMissing, ReportWriter, split

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.rollup import report_entries
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeUnreachable,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.patch import apply_merge_patch


class StubParent:
    def __init__(self, reports: list[str], groups: bool = True) -> None:
        self.reports = {names.clusterreport_path(r): {"metadata": {"name": r}} for r in reports}
        self.calls: list[tuple[str, str]] = []
        self.fail_next = False
        self.groups = groups  # False: a CRD before groups (the API server drops the field)

    def _report(self, path: str) -> dict:
        if path not in self.reports:
            raise KubeApiError(404, "NotFound", f"{path} not found")
        return self.reports[path]

    def get_or_none(self, path: str):
        self.calls.append(("GET", path))
        return self.reports.get(path)

    def patch(self, path: str, body):
        self.calls.append(("PATCH", path))
        self._maybe_fail()
        report = self._report(path)
        self.reports[path] = apply_merge_patch(report, body)

    def request(self, method, path, body, **_kwargs):
        self.calls.append((method + "-json", path))
        self._maybe_fail()
        report = self._report(path)
        assert body[0]["op"] == "add" and body[0]["path"] == "/spec"
        value = body[0]["value"]
        report["spec"] = value if self.groups else {k: v for k, v in value.items() if k != "groups"}
        return copy.deepcopy(report)

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next = False
            raise KubeUnreachable("the parent did not answer")

    def missions(self, cluster: str) -> dict:
        found = {}
        for path, report in self.reports.items():
            if path.rsplit("/", 1)[1].startswith(f"{cluster}."):
                found.update(report_entries(cluster, path, report.get("spec") or {}))
        return found


def entries(count: int) -> dict:
    return {f"m{i}": {"states": {"b": "applied"}, "generation": 1} for i in range(count)}


def shard_parent(cluster: str = "b", groups: bool = True) -> StubParent:
    return StubParent([cluster, *names.report_shard_names(cluster)], groups)


@pytest.mark.parametrize("groups", [True, False], ids=["groups", "crd-before-groups"])
def test_shards_hold_every_mission_and_a_change_rewrites_one_shard(groups):
    parent = shard_parent(groups=groups)
    writer = ReportWriter("b")
    missions = entries(200)
    assert writer.write(parent, missions)
    assert writer.sharded is True
    assert parent.missions("b") == missions
    parent.calls.clear()
    changed = dict(missions, m7={"states": {"b": "failed: x"}, "generation": 1})
    writer.write(parent, changed)
    shard = names.report_shard("m7")
    method = "PATCH-json" if groups else "PATCH"  # a shard in groups is replaced whole
    assert parent.calls == [(method, names.clusterreport_path(f"b.{shard}"))]
    assert parent.missions("b") == changed
    parent.calls.clear()
    assert not writer.write(parent, changed)  # nothing changed: nothing sent
    assert parent.calls == []


def test_the_whole_report_is_emptied_once_when_shards_exist():
    parent = shard_parent()
    whole = names.clusterreport_path("b")
    parent.reports[whole]["spec"] = {"missions": {"old": {"states": {"b": "applied"}}}}
    ReportWriter("b").write(parent, entries(3))
    assert not (parent.reports[whole].get("spec") or {}).get("missions")


def test_a_parent_without_shards_gets_the_whole_report():
    parent = StubParent(["b"])  # linked before shards existed
    writer = ReportWriter("b")
    missions = entries(5)
    writer.write(parent, missions)
    assert writer.sharded is False
    assert parent.reports[names.clusterreport_path("b")]["spec"]["missions"] == missions
    writer.write(parent, entries(4))
    assert set(parent.reports[names.clusterreport_path("b")]["spec"]["missions"]) == {
        f"m{i}" for i in range(4)
    }


def test_a_parent_without_any_report_is_named():
    with pytest.raises(ReportMissing, match="cluster_link"):
        ReportWriter("b").write(StubParent([]), entries(1))


def test_a_failed_write_is_replaced_whole_next_time():
    parent = shard_parent()
    writer = ReportWriter("b")
    writer.write(parent, entries(20))
    parent.fail_next = True
    with pytest.raises(KubeUnreachable):
        writer.write(parent, entries(10))
    parent.calls.clear()
    writer.write(parent, entries(10))
    assert any(method == "PATCH-json" for method, _path in parent.calls)
    assert parent.missions("b") == entries(10)


def test_alike_entries_go_as_one_group_of_a_shard():
    parent = shard_parent()
    writer = ReportWriter("b")
    missions = dict(entries(200), m7={"states": {"b": "failed: x"}, "generation": 2})
    writer.write(parent, missions)
    assert writer.grouped is True
    spec = parent.reports[names.clusterreport_path(f"b.{names.report_shard('m7')}")]["spec"]
    assert [g["states"] for g in spec["groups"]] in (
        [{"b": "applied"}, {"b": "failed: x"}],
        [{"b": "failed: x"}, {"b": "applied"}],
    )
    assert "missions" not in spec  # every entry fits a group
    assert spec["missionCount"] == sum(len(g["missions"]) for g in spec["groups"])
    assert parent.missions("b") == missions


def test_a_parent_whose_crd_predates_groups_gets_entries_one_by_one():
    parent = shard_parent(groups=False)
    writer = ReportWriter("b")
    writer.write(parent, entries(40))
    assert writer.grouped is False
    assert parent.missions("b") == entries(40)
    for path, report in parent.reports.items():
        assert "groups" not in (report.get("spec") or {}), path
    writer.forget()  # a reconnection asks again: the parent's CRD may be new now
    writer.write(parent, {})  # nothing to group: the answer tells nothing, the shards are right
    assert writer.grouped is None and parent.missions("b") == {}
    parent.groups = True
    writer.write(parent, entries(40))
    assert writer.grouped is True
    assert parent.missions("b") == entries(40)


def test_split_places_each_mission_in_its_shard():
    shards = split(entries(50))
    assert len(shards) == names.REPORT_SHARDS
    for shard, missions in shards.items():
        assert all(names.report_shard(m) == shard for m in missions)
    assert sum(len(m) for m in shards.values()) == 50


def test_a_few_changes_go_at_once_a_burst_waits_to_settle_bounded(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(report_module.time, "monotonic", lambda: clock[0])
    writer = ReportWriter("b")
    for _unused in range(report_module.BURST_CHANGES - 1):
        writer.changed()
    assert writer.pause() == 0.0  # a few changes: written now
    writer.changed()  # a burst
    assert writer.pause() == pytest.approx(report_module.SETTLE)
    for _unused in range(1000):  # it keeps coming: the first change waits MAX_AGE at most
        clock[0] += 0.01
        writer.changed()
        assert writer.pause() <= max(0.0, report_module.MAX_AGE - (clock[0] - 100.0)) + 1e-9
    assert writer.pause() == 0.0
    parent = shard_parent()
    writer.write(parent, entries(3))  # a round begins: later changes go into the next one
    assert writer.waiting == 0


def test_a_settled_burst_skips_the_rest_of_the_gap_once_per_max_gap(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(report_module.time, "monotonic", lambda: clock[0])
    writer = ReportWriter("b")
    parent = shard_parent()
    writer.next_write = clock[0] + 20  # a long round written during the burst
    for _unused in range(report_module.BURST_CHANGES):
        writer.changed()
    assert writer.pause() == pytest.approx(20)  # still arriving: the gap holds
    clock[0] += report_module.SETTLE
    assert writer.pause() == 0.0  # settled: now, not in 20 s
    writer.write(parent, entries(20))
    writer.next_write = clock[0] + 20
    for _unused in range(report_module.BURST_CHANGES):
        writer.changed()
    clock[0] += report_module.SETTLE
    assert writer.pause() == pytest.approx(20 - report_module.SETTLE)  # not twice in MAX_GAP


class SlowParent(StubParent):
    """A parent whose every write takes ``took`` seconds of the fake clock."""

    def __init__(self, clock: list[float], took: float) -> None:
        super().__init__([f"b.{i}" for i in range(names.REPORT_SHARDS)] + ["b"])
        self.clock = clock
        self.took = took

    def patch(self, path: str, body):
        self.clock[0] += self.took
        super().patch(path, body)

    def request(self, method, path, body, **kwargs):
        self.clock[0] += self.took
        super().request(method, path, body, **kwargs)


def test_a_parent_that_keeps_up_gets_every_change_at_once(monkeypatch):
    # Writes answered within QUICK (a quiet parent; its answer time is the disk): a Mission
    # created, then ready a moment later, is reported at once each time, never paced.
    clock = [100.0]
    monkeypatch.setattr(report_module.time, "monotonic", lambda: clock[0])
    parent = SlowParent(clock, report_module.QUICK * 0.8)
    writer = ReportWriter("b")
    for i in range(200):
        writer.changed()
        assert writer.idle()
        assert writer.pause() == 0.0
        writer.write(parent, entries(1 + i % 5))
        clock[0] += 0.01


def test_a_busy_parent_gets_fewer_writes_the_debt_bounded(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(report_module.time, "monotonic", lambda: clock[0])
    took = 0.5
    parent = SlowParent(clock, 0.0)
    writer = ReportWriter("b")
    writer.write(parent, entries(1))  # every shard written whole, answered at once: no gap
    assert writer.pause() == 0.0
    parent.took = took  # now busy: one shard changed, one slow write; the credit pays part
    writer.write(parent, entries(2))
    cost = took - report_module.QUICK - report_module.CREDIT
    assert writer.pause() == pytest.approx(report_module.GAP_FACTOR * cost)
    writer.changed()
    assert not writer.idle()  # in the gap: a change waits for the coalescing window too
    clock[0] += writer.pause()
    assert writer.pause() == 0.0
    writer.write(parent, entries(3))  # one shard changed: one write, all of it debt now
    expected = report_module.GAP_FACTOR * (took - report_module.QUICK)
    assert writer.pause() == pytest.approx(expected)
    parent.took = 1000.0  # a parent that hardly answers: the gap stays bounded
    clock[0] += writer.pause()
    writer.write(parent, entries(4))
    assert writer.pause() == pytest.approx(report_module.MAX_GAP)
    clock[0] += report_module.MAX_GAP
    assert writer.pause() == 0.0


def test_several_waiting_changes_are_not_idle(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(report_module.time, "monotonic", lambda: clock[0])
    writer = ReportWriter("b")
    writer.changed()
    assert writer.idle()  # a lone change: no coalescing window
    writer.changed()
    assert not writer.idle()  # more are coming: they share the window and one round


def test_on_a_parent_slower_than_max_gap_per_round_a_settled_burst_keeps_the_gap(monkeypatch):
    """Rounds of 40 s (200 children writing at once): skipping the gap at every settle would
    keep the child writing all the time; it may skip once per GAP_FACTOR x 40 s."""
    clock = [100.0]
    monkeypatch.setattr(report_module.time, "monotonic", lambda: clock[0])
    writer = ReportWriter("b")
    parent = shard_parent()
    slow_request = parent.request

    def slow(method, path, body, **kwargs):  # a shard in groups goes as a JSON patch
        clock[0] += 40.0 / names.REPORT_SHARDS
        return slow_request(method, path, body, **kwargs)

    writer.write(parent, entries(1))  # the first round after connecting (replaces whole)
    parent.request = slow
    writer.write(parent, entries(40))  # a long round: 40 s
    assert writer.pause() == pytest.approx(report_module.MAX_GAP)
    for _unused in range(report_module.BURST_CHANGES):
        writer.changed()
    clock[0] += report_module.SETTLE
    assert writer.pause() == 0.0  # the first settle may skip: none in the last 400 s
    writer.write(parent, entries(80))
    for _unused in range(report_module.BURST_CHANGES):
        writer.changed()
    clock[0] += report_module.MAX_GAP - 1.0  # settled, more than MAX_GAP after that round began
    assert writer.pause() == pytest.approx(1.0)  # the gap holds (40 s rounds: not once per 30 s)
    clock[0] += 1.0
    assert writer.pause() == 0.0


def test_a_round_gives_way_to_urgent_work_between_shards_and_resumes_at_once(monkeypatch):
    """A Mission to copy down waits for at most one shard write, not a round of 16: the round
    stops, says it is unfinished (no gap before the rest), and the rest goes next time."""
    parent = shard_parent()
    writer = ReportWriter("b")
    missions = entries(64)  # every shard holds some
    assert all(split(missions).values())
    writer.write(parent, missions)
    changed = {name: {**entry, "generation": 2} for name, entry in missions.items()}
    clock = [1000.0]
    monkeypatch.setattr(report_module.time, "monotonic", lambda: clock[0])
    asked = []

    def urgent() -> bool:
        asked.append(len(parent.calls))
        return len(asked) == 3  # urgent work arrives after the third shard

    before = len(parent.calls)
    assert writer.write(parent, changed, urgent)
    assert len(parent.calls) - before == 3
    assert writer.unfinished and writer.pause() == 0.0
    clock[0] += 0.5
    assert writer.write(parent, changed, urgent)
    assert not writer.unfinished
    assert len(parent.calls) - before == names.REPORT_SHARDS
    assert parent.missions("b") == changed

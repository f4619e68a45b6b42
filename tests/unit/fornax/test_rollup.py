"""Roll-up between layers: reports, the parent's fold, and the bound on status size."""

from __future__ import annotations

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import rollup
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st


def test_report_prefixes_the_subtree_under_the_reporting_cluster():
    report = rollup.compose_report(
        "b",
        own_states={"m": "2/2"},
        local_status={"m": {"states": {"c": "not match", "c/d": "1/1"}}},
        generations={"m": 3},
    )
    assert report == {
        "m": {"states": {"b": "2/2", "b/c": "not match", "b/c/d": "1/1"}, "generation": 3}
    }


def test_report_of_a_mission_not_acted_on_yet_is_pending():
    report = rollup.compose_report("d", {}, {"m": {}}, {})
    assert report["m"]["states"] == {"d": st.PENDING}


def test_fold_trusts_a_child_only_under_its_own_prefix():
    children = {
        "b": {
            "connected": True,
            "missions": {"m": {"states": {"b": "1/1", "b/c": "1/1", "e": "forged"}}},
        },
        "e": {"connected": True, "missions": {"m": {"states": {"e": "0/1"}}}},
    }
    status = rollup.fold("m", children)
    assert status["states"] == {"b": "1/1", "b/c": "1/1", "e": "0/1"}
    assert status["summary"]["ready"] == 2


def test_fold_marks_silent_children_unreachable_and_drops_their_subtree():
    children = {
        "b": {"connected": False, "missions": {"m": {"states": {"b": "1/1", "b/c": "1/1"}}}},
        "x": {"connected": True, "missions": {}},
    }
    status = rollup.fold("m", children)
    assert status["states"] == {"b": st.UNREACHABLE, "x": st.PENDING}
    assert status["summary"]["unreachable"] == 1


def test_bound_keeps_small_trees_whole():
    states = {"b": "1/1", "b/c": "1/1", "b/c/d": "not match"}
    assert rollup.bound(states, {}, 100, keep="b") == (states, {})


def test_bound_folds_the_largest_subtrees_first_and_keeps_counts():
    states = {"b": "1/1"}
    states.update({f"b/big/n{i}": "1/1" for i in range(50)})
    states["b/big"] = "failed: x"
    states.update({f"b/small/n{i}": "not match" for i in range(5)})
    states["b/small"] = "1/1"
    kept, summaries = rollup.bound(states, {}, 10, keep="b")
    assert len(kept) <= 10
    assert "b" in kept and "b/small" in kept
    assert summaries == {
        "b/big": {"clusters": 51, "matched": 51, "ready": 50, "failed": 1, "unreachable": 0}
    }
    total = st.summarize(kept, summaries.values())
    assert total["clusters"] == len(states)


def test_status_stays_bounded_for_a_thousand_clusters():
    # 10 children with 100 clusters each below them, reported through the fold.
    children = {}
    for c in range(10):
        name = f"r{c}"
        sub = {name: "1/1"}
        sub.update({f"{name}/s{i}": "1/1" for i in range(99)})
        report = rollup.compose_report(
            name,
            {"m": "1/1"},
            {"m": {"states": {p.split("/", 1)[1]: s for p, s in sub.items() if "/" in p}}},
            {},
            max_paths=100,
        )
        children[name] = {"connected": True, "missions": report}
    status = rollup.fold("m", children, max_paths=100)
    assert len(status["states"]) <= 100
    assert status["summary"]["clusters"] == 1000
    assert status["summary"]["ready"] == 1000


def test_status_stays_bounded_for_a_wide_fan_out():
    # 2,000 direct children with 4 clusters each: the summaries are capped too.
    children = {}
    for c in range(2000):
        name = f"f{c:04d}"
        below = {"m": {"states": {f"x{i}": "1/1" for i in range(4)}}}
        report = rollup.compose_report(name, {"m": "1/1"}, below, {}, max_paths=100)
        children[name] = {"connected": True, "missions": report}
    status = rollup.fold("m", children, max_paths=100)
    assert len(status["states"]) <= 100
    assert len(status["subtreeSummaries"]) <= 100
    assert "*" in status["subtreeSummaries"]
    assert status["summary"]["clusters"] == 10000
    assert status["summary"]["ready"] == 10000


def test_the_others_bucket_of_a_child_stays_under_its_name():
    summaries = {f"b/s{i}": {"clusters": i + 1, "matched": i + 1} for i in range(5)}
    kept, capped = rollup.bound({"b": "1/1"}, summaries, 3, keep="b")
    assert kept == {"b": "1/1"}
    assert set(capped) == {"b/s4", "b/s3", "b/*"}
    assert capped["b/*"]["clusters"] == 1 + 2 + 3
    # the parent trusts the bucket as part of b's subtree
    status = rollup.fold(
        "m",
        {"b": {"connected": True, "missions": {"m": {"states": kept, "subtreeSummaries": capped}}}},
    )
    assert status["summary"]["clusters"] == 1 + 15


def test_the_composer_recomputes_only_what_changed(monkeypatch):
    composer = rollup.ReportComposer("b", max_paths=100)
    statuses = {f"m{i}": {"states": {"c": "1/1"}} for i in range(5)}
    own = dict.fromkeys(statuses, "1/1")
    first = composer.compose(own, statuses, {})
    assert first == rollup.compose_report("b", own, statuses, {})
    computed = []
    real = rollup._report_entry
    monkeypatch.setattr(
        rollup, "_report_entry", lambda *args: computed.append(args[0:2]) or real(*args)
    )
    statuses = dict(statuses, m3={"states": {"c": "failed: x"}})  # replaced, as informers do
    own["m1"] = "0/1"
    second = composer.compose(own, statuses, {"m4": 2})
    assert sorted(computed) == [("b", "0/1"), ("b", "1/1"), ("b", "1/1")]
    assert second == rollup.compose_report("b", own, statuses, {"m4": 2})
    assert second["m0"] is first["m0"]
    # a Mission that is gone leaves the report
    del own["m0"], statuses["m0"]
    assert "m0" not in composer.compose(own, statuses, {})


def test_observed_generation_waits_for_every_connected_child():
    children = {
        "b": {"connected": True, "missions": {"m": {"states": {"b": "2/2"}, "generation": 3}}},
        "e": {"connected": True, "missions": {"m": {"states": {"e": "2/2"}, "generation": 2}}},
        "x": {"connected": False, "missions": {}},
    }
    assert rollup.fold("m", children, generation=3)["observedGeneration"] == 2
    children["e"]["missions"] = {"m": {"states": {"e": "2/2"}, "generation": 3}}
    assert rollup.fold("m", children, generation=3)["observedGeneration"] == 3
    children["y"] = {"connected": True, "missions": {}}  # has not reported m at all
    assert rollup.fold("m", children, generation=3)["observedGeneration"] == 2


def test_a_leaf_observes_its_own_generation():
    assert rollup.fold("m", {}, generation=4)["observedGeneration"] == 4


def test_caught_up_needs_own_execution_and_the_subtree():
    assert rollup.caught_up(7, local_generation=2, executed=2, observed=2) == 7
    assert rollup.caught_up(7, local_generation=2, executed=1, observed=2) == 6
    assert rollup.caught_up(7, local_generation=2, executed=2, observed=1) == 6
    assert rollup.caught_up(7, local_generation=2, executed=None, observed=None) == 6


# -- a report shard on the wire: groups of alike entries -----------------------------------------


def _entry(state: str, generation: int = 1, **more) -> dict:
    return {"states": {"b": state, "b/c": state}, "generation": generation, **more}


def test_alike_entries_go_as_one_group_and_come_back_as_they_were():
    summaries = {"b/d": {"clusters": 3, "matched": 3, "ready": 3, "failed": 0, "unreachable": 0}}
    missions = {
        "m1": _entry("applied", 1),
        "m2": _entry("applied", 4),
        "m3": _entry("failed: x", 1),
        "m4": _entry("applied", 2, subtreeSummaries=summaries),
        "m5": {"states": {"b": "applied", "b/c": "applied"}},  # no generation: one by one
    }
    groups, rest = rollup.group_entries(missions)
    assert [g["missions"] for g in groups] == [{"m1": 1, "m2": 4}, {"m3": 1}, {"m4": 2}]
    assert groups[2]["subtreeSummaries"] == summaries
    assert rest == {"m5": missions["m5"]}
    back = rollup.report_entries("b", "b.3", {"groups": groups, "missions": rest})
    assert back == missions


def test_entries_past_the_last_group_go_one_by_one():
    missions = {f"m{i}": _entry(f"failed: {i}") for i in range(rollup.MAX_REPORT_GROUPS + 5)}
    groups, rest = rollup.group_entries(missions)
    assert len(groups) == rollup.MAX_REPORT_GROUPS
    assert len(rest) == 5
    assert rollup.report_entries("b", "b.0", {"groups": groups, "missions": rest}) == missions


def test_entries_of_one_group_and_generation_are_one_object():
    groups, _rest = rollup.group_entries({f"m{i}": _entry("applied", 1 + i % 2) for i in range(6)})
    back = rollup.report_entries("b", "b.0", {"groups": groups})
    assert back["m0"] is back["m2"] is back["m4"]
    assert back["m1"] is back["m3"] and back["m0"] is not back["m1"]


def test_a_hostile_shard_of_groups_costs_only_its_child(caplog):
    ok = {"states": {"b": "applied"}, "missions": {"m1": 1}}
    spec = {
        "missions": {"m2": _entry("applied")},
        "groups": [
            ok,
            "not a group",
            {"states": {"b": "applied"}, "missions": ["m3"]},
            {"states": {"b": "failed: x"}, "missions": {"m1": 1, "m2": 1, "m4": "two"}},
        ],
    }
    with caplog.at_level("WARNING"):
        back = rollup.report_entries("b", "b.0", spec)
    assert back["m1"]["states"] == {"b": "applied"}  # named twice: the first kept
    assert back["m2"] == _entry("applied")
    assert "m3" not in back  # its group is malformed: not reported (pending)
    kept = rollup.keep_entry("b", "m4", back["m4"])  # a generation that is no number
    assert kept == {"states": {"b": "failed: x"}}
    text = caplog.text
    assert "report b.0: child b: groups[1]: 'not a group' holds no mapping of Missions" in text
    assert "groups[2]" in text and "named twice" in text
    assert rollup.report_entries("b", "b.1", {"groups": {"m": 1}}) == {}
    many = {"groups": [{"missions": {f"m{i}": 1}} for i in range(rollup.MAX_REPORT_GROUPS + 2)]}
    with caplog.at_level("WARNING"):
        assert len(rollup.report_entries("b", "b.2", many)) == rollup.MAX_REPORT_GROUPS
    assert f"groups: more than {rollup.MAX_REPORT_GROUPS}: the rest ignored" in caplog.text

"""A child that lies in its report: the parent keeps only what the child may claim.

Each case folds a lying child's entry next to honest siblings and checks that the lie stays
inside the liar's own subtree: the siblings' entries, the counts of the rest of the tree, the
size of the status and every wait decision stay what the honest reports make them.
"""

from __future__ import annotations

import logging

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (
    limits,
    progress,
    rollup,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st

FAILED = st.failed("image pull failed")


def siblings_failing(liar_entry: object) -> dict:
    """Children of the root: the liar ``b`` and three honest siblings whose Mission failed."""
    children = {"b": {"connected": True, "missions": {"m": liar_entry}}}
    for name in ("c", "d", "e"):
        children[name] = {"connected": True, "missions": {"m": {"states": {name: FAILED}}}}
    return children


def wait_met(status: dict, min_ready: str = "100%") -> bool:
    mission = {"metadata": {"generation": 0}, "status": status}
    return progress.evaluate(mission, min_ready=min_ready)["met"]


def test_negative_counts_cannot_cancel_the_siblings_failures():
    lie = {
        "states": {"b": "1/1"},
        "subtreeSummaries": {"b/x": {"clusters": 0, "matched": -3, "failed": -3, "ready": 0}},
    }
    problems: list[str] = []
    status = rollup.fold("m", siblings_failing(lie), problems=problems)
    assert status["summary"] == {
        "clusters": 4,
        "matched": 4,
        "ready": 1,
        "failed": 3,
        "unreachable": 0,
        "notMatch": 0,
    }
    assert status["subtreeSummaries"]["b/x"] == dict.fromkeys(st.FOLDED_COUNTS, 0)
    assert all(v >= 0 for c in status["subtreeSummaries"].values() for v in c.values())
    assert not wait_met(status)
    assert any("child b" in p and "b/x" in p for p in problems), problems


def test_negative_counts_written_into_a_status_do_not_fool_a_wait():
    # Whatever wrote them, the module's wait clamps folded counts before it counts.
    status = {
        "states": {"b": "1/1", "c": FAILED, "d": FAILED, "e": FAILED},
        "subtreeSummaries": {"b/x": {"clusters": 0, "matched": -3, "failed": -3}},
        "summary": {"clusters": 4, "matched": 1, "ready": 1, "failed": 0},
    }
    assert not wait_met(status)
    assert progress.mission_summary({"status": status})["failed"] == 3


def test_a_million_ready_clusters_are_clamped_to_the_largest_tree():
    lie = {
        "states": {"b": "1/1"},
        "subtreeSummaries": {
            f"b/s{i}": {"clusters": 10**6, "matched": 10**6, "ready": 10**6} for i in range(3)
        },
    }
    status = rollup.fold("m", siblings_failing(lie))
    claimed = sum(c["clusters"] for p, c in status["subtreeSummaries"].items() if p.startswith("b"))
    assert claimed + 1 <= limits.MAX_CLUSTERS
    assert status["summary"]["clusters"] <= limits.MAX_CLUSTERS + 3
    assert status["summary"]["failed"] == 3  # the siblings' failures are all still there
    assert not wait_met(status)  # 100% needs the three failed siblings too


@pytest.mark.parametrize(
    "counts",
    [
        {"clusters": 5, "matched": 9, "ready": 9},  # more matched than clusters
        {"clusters": 5, "matched": 5, "ready": 5, "failed": 5},  # ready + failed > matched
        {"clusters": 5, "matched": 2, "unreachable": 9},  # more than the rest
        {"clusters": "5", "matched": 1.5, "ready": True},  # not integers
    ],
)
def test_inconsistent_counts_give_way_on_ready_first(counts):
    clean = st.clamp_counts(counts)
    assert clean["matched"] <= clean["clusters"]
    assert clean["ready"] + clean["failed"] <= clean["matched"]
    assert clean["unreachable"] <= clean["clusters"] - clean["matched"]
    assert clean["ready"] <= max(0, counts.get("matched", 0) - counts.get("failed", 0))


def test_a_huge_state_string_is_cut():
    lie = {"states": {"b": "x" * (1 << 20), "b/c": "1/1\x1b[31m\nfake"}}
    status = rollup.fold("m", siblings_failing(lie))
    assert len(status["states"]["b"]) == limits.MAX_STATE_LENGTH
    assert status["states"]["b"].endswith("...")
    assert status["states"]["b/c"] == "1/1 [31m fake"
    assert status["states"]["c"] == FAILED


def test_thousands_of_paths_are_bounded():
    states = {"b": "1/1"}
    states.update({f"b/n{i}": "1/1" for i in range(5000)})
    summaries = {f"b/s{i}": {"clusters": 1, "matched": 1, "ready": 1} for i in range(5000)}
    problems: list[str] = []
    entry, found = rollup.clamp_entry("b", {"states": states, "subtreeSummaries": summaries})
    assert entry is not None
    assert len(entry["states"]) == limits.MAX_PATHS and "b" in entry["states"]
    assert len(entry["subtreeSummaries"]) == limits.MAX_PATHS
    assert any("more than" in line for line in found)
    assert len(found) <= 6  # a few in full, the rest counted
    status = rollup.fold("m", siblings_failing(states | {}), max_paths=100, problems=problems)
    assert len(status["states"]) <= 100 and len(status["subtreeSummaries"]) <= 100
    assert status["summary"]["failed"] == 3


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("c", "not under b/"),  # a sibling's entry
        ("bb/c", "not under b/"),  # a name that only starts like the child's
        ("b/C", "DNS-1123"),
        ("b/c d", "DNS-1123"),
        ("b/" + "x" * 64, "DNS-1123"),
        ("b" + "/x" * limits.MAX_PATH_SEGMENTS, "segments"),
        ("b/" + "y" * 5000, "characters"),
        ("b/*", "DNS-1123"),  # the bucket is a summary, never a state
    ],
)
def test_paths_a_child_may_not_claim_are_dropped_and_named(path, why):
    entry, found = rollup.clamp_entry("b", {"states": {"b": "1/1", path: "1/1"}})
    assert entry == {"states": {"b": "1/1"}}
    assert len(found) == 1 and why in found[0] and found[0].startswith("child b: ")


def test_summaries_that_would_count_clusters_twice_are_dropped():
    entry, found = rollup.clamp_entry(
        "b",
        {
            "states": {"b": "1/1", "b/c": "1/1"},
            "subtreeSummaries": {
                "b": {"clusters": 9, "matched": 9, "ready": 9},  # the child itself
                "b/c": {"clusters": 9, "matched": 9, "ready": 9},  # holds a reported state
                "b/d": {"clusters": 2, "matched": 2, "ready": 2},
                "b/d/e": {"clusters": 1, "matched": 1, "ready": 1},  # inside b/d
                "b/*": {"clusters": 1, "matched": 1, "ready": 1},
            },
        },
    )
    assert entry is not None
    assert set(entry["subtreeSummaries"]) == {"b/d", "b/*"}
    assert len(found) == 3


@pytest.mark.parametrize("entry", [["b"], "b: 1/1", 7, {"states": ["b"]}])
def test_an_entry_of_the_wrong_shape_counts_as_not_reported(entry):
    status = rollup.fold("m", siblings_failing(entry), problems=[])
    assert status["states"]["b"] == st.PENDING
    assert status["states"]["c"] == FAILED


@pytest.mark.parametrize("generation", ["3", -1, 2.5, True])
def test_a_bad_generation_is_ignored(generation):
    children = {"b": {"missions": {"m": {"states": {"b": "1/1"}, "generation": generation}}}}
    assert rollup.fold("m", children, generation=3, problems=[])["observedGeneration"] == 2


def test_a_generation_from_the_future_does_not_run_ahead():
    children = {"b": {"missions": {"m": {"states": {"b": "1/1"}, "generation": 99}}}}
    assert rollup.fold("m", children, generation=3)["observedGeneration"] == 3


def test_an_honest_report_is_kept_whole():
    report = rollup.compose_report(
        "b",
        {"m": "2/2"},
        {
            "m": {
                "states": {f"c{i}": "1/1" for i in range(300)},
                "subtreeSummaries": {"x": {"clusters": 4, "matched": 4, "ready": 4}},
            }
        },
        {"m": 2},
        max_paths=50,
    )
    entry, found = rollup.clamp_entry("b", report["m"])
    assert found == []
    assert entry == report["m"]


def test_a_report_never_holds_what_the_parent_would_drop():
    # The child's own subtree status was written by someone else (or an older agent).
    report = rollup.compose_report(
        "b",
        {"m": "z" * 2000},
        {
            "m": {
                "states": {"c": "1/1", "BAD": "1/1"},
                "subtreeSummaries": {"x": {"clusters": -1, "matched": 3}},
            }
        },
        {},
    )
    entry = report["m"]
    assert set(entry["states"]) == {"b", "b/c"}
    assert len(entry["states"]["b"]) == limits.MAX_STATE_LENGTH
    assert entry["subtreeSummaries"] == {"b/x": dict.fromkeys(st.FOLDED_COUNTS, 0)}
    assert rollup.clamp_entry("b", entry)[1] == []


def test_the_max_paths_setting_cannot_exceed_the_limit():
    states = {f"c{i}": "1/1" for i in range(3000)}
    report = rollup.compose_report("b", {"m": "1/1"}, {"m": {"states": states}}, {}, 10**6)
    assert len(report["m"]["states"]) <= limits.MAX_PATHS
    children = {"b": {"missions": report}}
    assert len(rollup.fold("m", children, max_paths=10**6)["states"]) <= limits.MAX_PATHS


def test_without_a_list_each_problem_is_logged_once(caplog):
    children = {"b": {"missions": {"logged-once": {"states": {"b": "1/1", "c": "forged"}}}}}
    with caplog.at_level(logging.WARNING):
        for _fold in range(3):
            rollup.fold("logged-once", children)
    lines = [r.getMessage() for r in caplog.records if "logged-once" in r.getMessage()]
    assert len(lines) == 1 and "'c'" in lines[0] and "not under b/" in lines[0]


def test_an_honest_entry_is_kept_as_itself_and_a_lie_as_its_clamped_copy():
    honest = rollup.compose_report("b", {"m": "1/1"}, {"m": {"states": {"c": "1/1"}}}, {"m": 1})
    assert rollup.keep_entry("b", "m", honest["m"]) is honest["m"]  # no copy per child
    lie = {"states": {"b": "1/1", "c": "forged"}, "generation": -1}
    kept = rollup.keep_entry("b", "kept-lie", lie)
    assert kept == {"states": {"b": "1/1"}}
    assert lie["states"] == {"b": "1/1", "c": "forged"}  # the child's entry is not edited
    assert rollup.keep_entry("b", "kept-lie", ["not", "a", "mapping"]) is None


def test_a_fold_of_kept_entries_equals_a_fold_of_raw_entries():
    raw = siblings_failing({"states": {"b": "1/1", "x/y": "1/1"}, "generation": 3})
    kept = {
        child: {"connected": True, "kept": {"m": rollup.keep_entry(child, "m", v["missions"]["m"])}}
        for child, v in raw.items()
    }
    kept["z"] = {"connected": True, "kept": {}}  # a child that has not reported
    raw["z"] = {"connected": True, "missions": {}}
    assert rollup.fold("m", kept, generation=3) == rollup.fold("m", raw, generation=3)

"""The parent's cache of its children's reports: equal entries of a child are one object."""

from __future__ import annotations

import json

from fornax_agent.reportinformer import RECENT, ReportInformer

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names


def report(name: str, missions: dict) -> dict:
    """A ClusterReport as the API server sends it (decoded afresh: no object shared)."""
    return json.loads(
        json.dumps(
            {
                "apiVersion": names.API_VERSION,
                "kind": "ClusterReport",
                "metadata": {"name": name, "resourceVersion": "9", "managedFields": [{}]},
                "spec": {"missionCount": len(missions), "missions": missions},
            }
        )
    )


def entry(state: str, generation: int = 1) -> dict:
    return {"generation": generation, "states": {"b": state, "b/c": state}}


def informer() -> ReportInformer:
    return ReportInformer("clusterreports", lambda: None, names.CLUSTERREPORTS, lambda *_: None)


def test_equal_entries_of_one_child_are_one_object_and_only_the_report_is_kept():
    cache = informer()
    first = cache.shape(report("b.0", {f"m{i}": entry("applied") for i in range(50)}))
    second = cache.shape(report("b.1", {"x": entry("applied"), "y": entry("failed: no")}))
    kept = [*first["spec"]["missions"].values(), second["spec"]["missions"]["x"]]
    assert all(e is kept[0] for e in kept) and kept[0] == entry("applied")
    assert second["spec"]["missions"]["y"] == entry("failed: no")
    assert first["metadata"] == {"name": "b.0", "resourceVersion": "9"}  # no managed fields
    other = informer()
    assert other.shape(report("c.0", {"m0": entry("applied")}))["spec"]["missions"]["m0"] == (
        entry("applied")
    )


def test_children_never_share_entries_and_few_are_remembered():
    cache = informer()
    b = cache.shape(report("b.0", {"m": entry("applied")}))["spec"]["missions"]["m"]
    c = cache.shape(report("c.0", {"m": entry("applied")}))["spec"]["missions"]["m"]
    assert b == c and b is not c  # a lying child can never stand in for another
    cache.shape(report("b.2", {f"m{i}": entry("applied", i) for i in range(3 * RECENT)}))
    assert len(cache.recent["b"]) == RECENT


def test_malformed_reports_pass_through_for_the_parent_side_to_judge():
    cache = informer()
    assert cache.shape({"metadata": "x"}) == {"metadata": "x"}
    odd = cache.shape(report("b.0", {}) | {"spec": {"missions": ["not", "a", "map"]}})
    assert odd["spec"]["missions"] == ["not", "a", "map"]


def test_a_shard_in_groups_is_taken_apart_into_shared_entries():
    cache = informer()
    grouped = report("b.0", {})
    grouped["spec"]["groups"] = [
        {"states": {"b": "applied", "b/c": "applied"}, "missions": {f"m{i}": 1 for i in range(9)}}
    ]
    missions = cache.shape(grouped)["spec"]["missions"]
    assert missions["m0"] == entry("applied") and missions["m0"] is missions["m8"]
    plain = cache.shape(report("b.1", {"x": entry("applied")}))["spec"]["missions"]
    assert plain["x"] is missions["m0"]  # one object with the child's entries one by one

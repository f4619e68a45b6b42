"""The parent side: a child's shards and whole report merged, what a child's health may say.

Pure logic (no API server): the folding of real reports on real clusters is tested in
tests/integration (fornax_tree, test_untrusted_reports, test_confinement).
"""

from __future__ import annotations

from fornax_agent.parentside import Reports, child_sub_states, content_kind

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import limits, names


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

"""The CRDs carry the limits of limits.py and states.py: the API server refuses what a parent
would drop, and a limit changed in one place fails here until the other follows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import limits
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st

CRDS = Path(__file__).resolve().parents[3] / "crds"
COUNT_KEYS = (*st.FOLDED_COUNTS, "notMatch")


def schema(name: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / name).read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def dig(node: dict[str, Any], *path: str) -> dict[str, Any]:
    for key in path:
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
    return node


def rules(node: dict[str, Any]) -> list[str]:
    return [" ".join(r["rule"].split()) for r in node.get("x-kubernetes-validations", [])]


MISSION = schema("mission.yaml")
REPORT = schema("clusterreport.yaml")
EDGECLUSTER = schema("edgecluster.yaml")
GROUP = dig(REPORT, "spec", "groups")["items"]
STATE_MAPS = [
    dig(MISSION, "status", "states"),
    dig(REPORT, "spec", "missions", "*", "states"),
    dig(GROUP, "states"),
]
SUMMARY_MAPS = [
    dig(MISSION, "status", "subtreeSummaries"),
    dig(REPORT, "spec", "missions", "*", "subtreeSummaries"),
    dig(GROUP, "subtreeSummaries"),
]


@pytest.mark.parametrize("node", STATE_MAPS, ids=["mission", "report", "group"])
def test_state_maps_are_bounded_like_the_rollup(node):
    assert node["maxProperties"] == limits.MAX_PATHS
    assert node["additionalProperties"] == {"type": "string", "maxLength": limits.MAX_STATE_LENGTH}


@pytest.mark.parametrize("node", SUMMARY_MAPS, ids=["mission", "report", "group"])
def test_summary_maps_are_bounded_like_the_rollup(node):
    assert node["maxProperties"] == limits.MAX_PATHS
    counts = node["additionalProperties"]["properties"]
    assert tuple(counts) == st.FOLDED_COUNTS


def test_mission_status_keys_and_counts_are_checked_at_admission():
    assert rules(dig(MISSION, "status", "states")) == [
        limits.cel_all_keys_match(limits.PATH_PATTERN)
    ]
    summaries = dig(MISSION, "status", "subtreeSummaries")
    assert rules(summaries) == [limits.cel_all_keys_match(limits.SUMMARY_PATH_PATTERN)]
    # No rule per bucket: its CEL cost ~30 % of each status write on a busy parent (up to 100
    # buckets a write); the agent writes counts through states.clamp_counts, which agree.
    assert rules(summaries["additionalProperties"]) == []
    assert tuple(dig(MISSION, "status", "summary")["properties"]) == COUNT_KEYS


def test_subcluster_maps_hold_at_most_the_largest_tree():
    node = dig(EDGECLUSTER, "status", "subEdgeClusterStates")
    assert node["maxProperties"] == limits.MAX_CLUSTERS


def counts_anywhere(node: Any, found: list) -> list:
    """Every integer property named like a count, anywhere in a schema."""
    if isinstance(node, dict):
        for key, value in (node.get("properties") or {}).items():
            if key in COUNT_KEYS:
                found.append(value)
        for value in node.values():
            counts_anywhere(value, found)
    elif isinstance(node, list):
        for value in node:
            counts_anywhere(value, found)
    return found


@pytest.mark.parametrize(
    "part", [dig(MISSION, "status"), dig(REPORT, "spec")], ids=["mission", "report"]
)
def test_every_count_is_between_zero_and_the_largest_tree(part):
    found = counts_anywhere(part, [])
    assert len(found) >= 5
    for count in found:
        assert count == {"type": "integer", "minimum": 0, "maximum": limits.MAX_CLUSTERS}


def test_generations_are_not_negative():
    assert dig(MISSION, "status", "observedGeneration")["minimum"] == 0
    assert dig(REPORT, "spec", "missions", "*", "generation")["minimum"] == 0
    assert dig(REPORT, "spec", "missionCount")["minimum"] == 0
    assert dig(GROUP, "missions", "*")["minimum"] == 0


def test_a_report_shard_holds_at_most_the_groups_a_parent_takes():
    assert dig(REPORT, "spec", "groups")["maxItems"] == limits.MAX_REPORT_GROUPS


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("b", True),
        ("b/c-1/d", True),
        ("0/101/on", True),
        ("/".join(["x"] * limits.MAX_PATH_SEGMENTS), True),
        ("/".join(["x"] * (limits.MAX_PATH_SEGMENTS + 1)), False),
        ("a" * limits.NAME_MAX, True),
        ("a" * (limits.NAME_MAX + 1), False),
        ("-b", False),
        ("b/", False),
        ("B", False),
        ("b/*", False),
    ],
)
def test_the_path_rule(path, ok):
    assert (st.path_problem(path) is None) is ok
    # a summary key may also be the bucket below a path that leaves room for one more segment
    room = path.count("/") + 1 < limits.MAX_PATH_SEGMENTS
    assert (st.path_problem(path + "/*", summary=True) is None) is (ok and room)


def test_the_longest_path_fits_the_length_limit():
    longest = "/".join(["a" * limits.NAME_MAX] * limits.MAX_PATH_SEGMENTS)
    assert len(longest) == limits.MAX_PATH_LENGTH
    assert st.path_problem(longest) is None

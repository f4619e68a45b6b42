"""Merge patches: smallest difference, nulls for removals, round trip."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.patch import (
    apply_merge_patch,
    merge_patch,
)

CASES = [
    ({}, {}),
    ({"a": 1}, {"a": 1}),
    ({"a": 1}, {"a": 2}),
    ({"a": 1, "b": 2}, {"a": 1}),
    ({"m": {"s": {"b": "1/1", "b/c": "pending"}}}, {"m": {"s": {"b": "1/1", "b/c": "2/2"}}}),
    ({"m": {"x": 1}, "n": {"y": 2}}, {"n": {"y": 2}, "o": {"z": [1, 2]}}),
    ({"l": [1, 2]}, {"l": [2]}),
    ({"d": {"k": 1}}, {"d": "scalar now"}),
]


@pytest.mark.parametrize(("old", "new"), CASES)
def test_round_trip(old, new):
    assert apply_merge_patch(old, merge_patch(old, new)) == new


def test_patch_carries_only_what_changed():
    old = {f"m{i}": {"states": {"b": "1/1"}} for i in range(1000)}
    new = dict(old, m7={"states": {"b": "2/2"}})
    del new["m9"]
    assert merge_patch(old, new) == {"m7": {"states": {"b": "2/2"}}, "m9": None}
    assert merge_patch(old, old) == {}

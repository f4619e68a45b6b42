"""The types of a Mission's spec fields, checked once for the module and the agent."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.mission_spec import (
    NEEDS_CONTENT,
    placement_problem,
    spec_problem,
)

CONTENT = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


@pytest.mark.parametrize(
    "spec",
    [
        {"missionresource": CONTENT},
        {"missioncommand": {"command": "true", "runwhentriggersucceed": False}},
        {
            "missionresource": CONTENT,
            "placement": {"clusters": [{"name": "c"}], "matchlabels": {"zone": "a"}},
            "statecheck": {"command": "echo ok"},
            "missioncommand": None,
        },
    ],
)
def test_good_specs(spec):
    assert spec_problem(spec) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("x", "spec: 'x' is a str, not a mapping"),
        ({"missionresource": {"kind": "Pod"}}, "spec.missionresource: {'kind': 'Pod'} is a dict"),
        ({"missionresource": CONTENT, "placement": "c"}, "spec.placement: 'c' is a str"),
        ({"missionresource": CONTENT, "placement": {"clusters": "c"}}, "spec.placement.clusters:"),
        (
            {"missionresource": CONTENT, "placement": {"clusters": [{"name": 3}]}},
            "spec.placement.clusters[0].name: 3 is a int, not a string",
        ),
        (
            {"missionresource": CONTENT, "placement": {"matchlabels": {"zone": 1}}},
            "spec.placement.matchlabels.zone: 1 is a int, not a string",
        ),
        ({"missionresource": CONTENT, "statecheck": ["echo"]}, "spec.statecheck: ['echo'] is a"),
        (
            {"missionresource": CONTENT, "statecheck": {"command": ["echo"]}},
            "spec.statecheck.command: ['echo'] is a list, not a string",
        ),
        ({"missioncommand": "true"}, "spec.missioncommand: 'true' is a str, not a mapping"),
        ({"missioncommand": {"command": 1}}, "spec.missioncommand.command: 1 is a int"),
        (
            {"missioncommand": {"command": "x", "runwhentriggersucceed": "yes"}},
            "spec.missioncommand.runwhentriggersucceed: 'yes' is a str, not a boolean",
        ),
        ({}, NEEDS_CONTENT),
        ({"missionresource": "  "}, NEEDS_CONTENT),
    ],
)
def test_bad_specs_name_the_field(spec, message):
    found = spec_problem(spec)
    assert found is not None and found.startswith(message), found


def test_long_values_are_shortened():
    found = placement_problem("x" * 500)
    assert found is not None and len(found) < 120

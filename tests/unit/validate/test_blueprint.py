"""Blueprints: the shipped one is valid, every bad name fails before anything runs, the plan."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.validate import catalog
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.blueprint import (
    BlueprintError,
    load_blueprint,
    merge,
    plan,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.fleet import (
    fleet_from_members,
)


def test_the_shipped_blueprint_names_every_test_of_the_catalog(shipped):
    blueprint = load_blueprint(shipped, "shipped")
    assert {test.id for test, _settings in blueprint.entries()} == set(catalog.BY_ID)
    disruptive = [t for t, s in blueprint.entries() if t.disruptive]
    assert disruptive and all(s["optional"] for t, s in blueprint.entries() if t.disruptive)


@pytest.mark.parametrize(
    ("layers", "problem"),
    [
        ({"storage": {"x": {"y": {}}}}, "layers.storage: unknown layer (known: k8s, fornax"),
        ({"k8s": {"disks": {"y": {}}}}, "layers.k8s.disks: unknown suite of layer k8s"),
        ({"k8s": {"nodes": {"ready": {}}}}, "layers.k8s.nodes.ready: unknown test of suite"),
        (
            {"k8s": {"nodes": {"nodes_ready": {"show_stoper": True}}}},
            "layers.k8s.nodes.nodes_ready.show_stoper: unknown setting",
        ),
        (
            {"k8s": {"nodes": {"nodes_ready": {"optional": "yes"}}}},
            "layers.k8s.nodes.nodes_ready.optional: 'yes' must be true or false",
        ),
        (
            {"security": {"tls": {"cert_expiry": {"params": {"min_day": 3}}}}},
            "layers.security.tls.cert_expiry.params.min_day: unknown parameter",
        ),
        (
            {"security": {"tls": {"cert_expiry": {"params": {"min_days": "soon"}}}}},
            "layers.security.tls.cert_expiry.params.min_days: 'soon' is not a int",
        ),
        (
            {"k8s": {"nodes": {"nodes_ready": {"timeout": -1}}}},
            "layers.k8s.nodes.nodes_ready.timeout: -1 must be a number of seconds > 0",
        ),
        ({}, "layers: must be a non-empty mapping"),
    ],
)
def test_a_bad_blueprint_names_the_place(layers, problem):
    with pytest.raises(BlueprintError) as raised:
        load_blueprint({"blueprint": "bad", "layers": layers}, "bad.yml")
    assert problem in str(raised.value), str(raised.value)
    assert str(raised.value).startswith("blueprint bad.yml:")


def test_every_problem_is_reported_at_once():
    with pytest.raises(BlueprintError) as raised:
        load_blueprint(
            {"blueprint": "", "extra": 1, "layers": {"k8s": {"x": {}}, "y": {}}}, "b.yml"
        )
    assert len(raised.value.problems) == 4, raised.value.problems


def test_overrides_merge_key_by_key_and_are_checked(shipped):
    changed = load_blueprint(
        shipped,
        "shipped",
        {"layers": {"security": {"tls": {"cert_expiry": {"params": {"min_days": 1}}}}}},
    )
    settings = changed.layers["security"]["tls"]["cert_expiry"]
    assert settings["params"] == {"min_days": 1}
    assert changed.layers["k8s"]["control_plane"]["readyz"]["show_stopper"] is True
    with pytest.raises(BlueprintError) as raised:
        load_blueprint(shipped, "shipped", {"layers": {"k8s": {"api": {"crdz": {}}}}})
    assert "layers.k8s.api.crdz: unknown test" in str(raised.value)
    assert "with the operator's overrides" in str(raised.value)
    with pytest.raises(BlueprintError, match=r"overrides\.blueprint: only params and layers"):
        load_blueprint(shipped, "shipped", {"blueprint": "other"})


def test_merge_leaves_its_inputs_alone():
    base = {"a": {"b": 1}}
    assert merge(base, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}
    assert base == {"a": {"b": 1}}


def test_the_plan_expands_tests_per_target(shipped, wide_members):
    fleet = fleet_from_members(wide_members)
    suites = {s.id: s for s in plan(load_blueprint(shipped, "shipped"), fleet)}
    readyz = [t.target for t in suites["k8s/control_plane"].tests if t.test.name == "readyz"]
    assert readyz == ["root", "region", "site-a", "site-b"]
    registered = [
        t.target for t in suites["fornax/registration"].tests if t.test.name == "registered"
    ]
    assert registered == ["region", "site-a", "site-b"]
    lynis = [t.target for t in suites["security/os"].tests if t.test.name == "lynis_hardening"]
    assert lynis == ["root-cp", "region-cp", "site-a-cp", "site-b-cp", "site-b-gw"]
    xdp = [t.target for t in suites["network/xdp"].tests if t.test.name == "maps_consistent"]
    assert xdp == ["site-b-gw"]
    assert all(t.runs for t in suites["k8s/control_plane"].tests)
    disrupt = suites["fornax/disruption"].tests
    assert all(not t.runs and "validate_destructive" in t.reason for t in disrupt)


def test_options_select_layers_optional_and_destructive(shipped, chain_members):
    fleet = fleet_from_members(chain_members)
    blueprint = load_blueprint(
        shipped,
        "shipped",
        {"layers": {"security": {"os": {"lynis_warnings": {"optional": True}}}}},
    )
    suites = plan(blueprint, fleet, layers=["fornax"], destructive=True)
    assert {s.layer for s in suites} == {"fornax"}
    assert all(t.runs for s in suites for t in s.tests), "destructive selects the disruptive"
    suites = plan(blueprint, fleet, layers=["security"], optional=["security/os"])
    os_tests = next(s for s in suites if s.suite == "os").tests
    # the loopback-like chain has audited hosts here (audit true): both run
    assert all(t.runs for t in os_tests)
    suites = plan(blueprint, fleet, layers=["security"])
    os_tests = next(s for s in suites if s.suite == "os").tests
    assert [t.runs for t in os_tests if t.test.name == "lynis_warnings"] == [False] * 4


def test_unknown_options_fail(shipped, chain_members):
    fleet = fleet_from_members(chain_members)
    blueprint = load_blueprint(shipped, "shipped")
    with pytest.raises(BlueprintError, match="layers: unknown layer 'storage'"):
        plan(blueprint, fleet, layers=["storage"])
    with pytest.raises(BlueprintError, match="optional: unknown name 'k8s/disks'"):
        plan(blueprint, fleet, optional=["k8s/disks"])
    only_k8s = load_blueprint(
        {"blueprint": "x", "layers": {"k8s": {"nodes": {"nodes_ready": {}}}}}, "x"
    )
    with pytest.raises(BlueprintError, match="layer 'fornax' is not in blueprint x"):
        plan(only_k8s, fleet, layers=["fornax"])


def test_a_scope_without_targets_is_one_skipped_test_saying_why(shipped, chain_members):
    for record in chain_members:
        record["audit"] = False
    suites = {
        s.id: s for s in plan(load_blueprint(shipped, "s"), fleet_from_members(chain_members))
    }
    [lynis, _warnings] = suites["security/os"].tests
    assert not lynis.runs and "no audited hosts" in lynis.reason
    [attached, _maps] = suites["network/xdp"].tests
    assert not attached.runs and "no gateway hosts" in attached.reason

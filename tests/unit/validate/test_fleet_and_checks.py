"""The fleet model, and the checks' pure parts: expectations, picks, evidence, verdicts."""

from __future__ import annotations

import json

import pytest
from validate_fleets import member

from ansible_collections.centaurus.fornax.plugins.module_utils.validate import (
    catalog,
    checks_fornax,
    checks_network,
    checks_security,
    keywords,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.base import (
    CheckFailed,
    CheckSkipped,
    Validation,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.checks_k8s import (
    crd_differences,
    parse_version,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.fleet import (
    FleetError,
    fleet_from_members,
)


def test_the_fleet_is_a_tree_in_inventory_order(wide_members):
    fleet = fleet_from_members(list(reversed(wide_members)))
    assert fleet.root == "root"
    assert fleet.names() == ["root", "region", "site-a", "site-b"]
    assert fleet.non_root() == ["region", "site-a", "site-b"]
    assert fleet.rel_path("site-b", "root") == "region/site-b"
    assert fleet.rel_path("site-b", "region") == "site-b"
    assert [h.name for h in fleet["site-b"].hosts] == ["site-b-gw", "site-b-cp"]
    assert fleet["site-b"].control_host == "site-b-cp", "the control-plane host speaks for it"
    assert [h.name for h in fleet.gateway_hosts()] == ["site-b-gw"]
    assert fleet.top_ancestor("site-a") == "region"


def test_a_limited_run_is_the_subtree(chain_members):
    fleet = fleet_from_members(chain_members[1:])  # --limit subtree_b
    assert fleet.root == "b"
    assert fleet.non_root() == ["c", "d"]
    assert fleet.depth("d") == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.clear(), "no Fornax hosts in the inventory"),
        (lambda m: m[2].update(parent="x"), "form 2 separate trees"),
        (lambda m: m[0].update(api_endpoint="http://a:80"), "is not an https:// URL"),
        (
            lambda m: m[0].update(controls={"agent": {"halt": ["x"]}}),
            "validate_controls.agent.halt: unknown action",
        ),
        (
            lambda m: m[0].update(controls={"agent": {"stop": "systemctl stop x"}}),
            "must be a non-empty list of strings",
        ),
    ],
)
def test_fleet_problems_are_named(chain_members, change, message):
    change(chain_members)
    with pytest.raises(FleetError, match=message):
        fleet_from_members(chain_members)


def validation(members) -> Validation:
    return Validation(fleet_from_members(members), "20261202T000000Z-abcdef12", log=lambda _m: None)


def test_expected_states_follow_the_placement_rule(chain_members):
    v = validation(chain_members)
    assert checks_fornax.expected_states(v, None, "1/1") == {
        "b": "1/1",
        "b/c": "1/1",
        "b/c/d": "1/1",
    }
    by_label = {"matchlabels": {"company": "futurewei"}}
    assert checks_fornax.expected_states(v, by_label, "1/1") == {
        "b": "not match",
        "b/c": "not match",
        "b/c/d": "1/1",
    }
    assert checks_fornax.expected_states(v, None, "1/1", top="c") == {"d": "1/1"}


def test_picks_match_the_original_plan_on_the_chain(chain_members):
    v = validation(chain_members)
    assert checks_fornax.pick_named(v) == "c", "scenario 12: name placement of C"
    assert checks_fornax.pick_label(v) == {"matchlabels": {"company": "futurewei"}}, "13"
    assert checks_fornax.pick_middle(v) == "b", "scenarios 2, 3, 5, 6: B"
    assert checks_fornax.pick_leaf(v) == "d", "scenario 20: D"


def test_picks_on_a_tree_without_labels(chain_members):
    for record in chain_members:
        record["labels"] = {}
    v = validation(chain_members)
    assert checks_fornax.pick_label(v) == {"matchlabels": {"kubernetes.io/hostname": "d"}}


def test_state_differences_name_the_clusters(chain_members):
    v = validation(chain_members)
    v.get_or_none = lambda *_a, **_k: {  # type: ignore[method-assign]
        "metadata": {"generation": 2},
        "status": {"states": {"b": "1/1", "b/c": "0/1"}, "observedGeneration": 2},
    }
    ok, detail, affects = checks_fornax.states_probe(
        v, "a", "m", checks_fornax.expected_states(v, None, "1/1"), {}
    )
    assert not ok
    assert "b/c: 0/1 (want 1/1)" in detail and "b/c/d: missing (want 1/1)" in detail
    assert affects == ["c", "d"]


def test_the_mission_pod_meets_the_restricted_profile(chain_members):
    v = validation(chain_members)
    spec = checks_fornax.pod_spec({"image": "x"})
    assert spec["securityContext"]["runAsNonRoot"] is True
    container = spec["containers"][0]["securityContext"]
    assert container == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    mission = checks_fornax.mission_object(
        v, "m", checks_fornax.deployment(v, "m", {"image": "x", "namespace": "default"})
    )
    assert mission["metadata"]["labels"] == {"edgeclusters.kubeedge.io/validation": "abcdef12"}
    assert "kind: Deployment" in mission["spec"]["missionresource"]


def evidence(tmp_path, layer, suite, host, data) -> None:
    where = tmp_path / layer / suite / "evidence"
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{host}.json").write_text(json.dumps(data))


REPORT = """# Lynis Report
lynis_version=3.0.8
hardening_index=62
warning[]=FIRE-4512|iptables module(s) loaded, but no rules active|-|-|
warning[]=LOGG-2138|klogd is not running|-|-|
suggestion[]=SSH-7408|Consider hardening SSH configuration|-|-|
"""


def test_lynis_evidence_is_judged(tmp_path, wide_members):
    v = validation(wide_members)
    v.evidence_dir = str(tmp_path)
    evidence(tmp_path, "security", "os", "root-cp", {"host": "root-cp", "report": REPORT})
    assert "hardening index 62" in checks_security.lynis_hardening(v, "root-cp", {"min_index": 50})
    with pytest.raises(CheckFailed, match="62 is below min_index 70") as raised:
        checks_security.lynis_hardening(v, "root-cp", {"min_index": 70})
    assert raised.value.affects == ["root"]
    with pytest.raises(CheckFailed, match=r"FIRE-4512 .*LOGG-2138"):
        checks_security.lynis_warnings(v, "root-cp", {"allowed": []})
    waived = checks_security.lynis_warnings(v, "root-cp", {"allowed": ["FIRE-4512", "LOGG-2138"]})
    assert "allowed: FIRE-4512, LOGG-2138" in waived
    evidence(tmp_path, "security", "os", "site-a-cp", {"error": "unreachable: timed out"})
    with pytest.raises(CheckFailed, match="site-a-cp: unreachable: timed out"):
        checks_security.lynis_hardening(v, "site-a-cp", {"min_index": 50})
    with pytest.raises(CheckFailed, match="no evidence collected") as raised:
        checks_security.lynis_hardening(v, "region-cp", {"min_index": 50})
    assert raised.value.affects == ["region"]


def test_gateway_evidence_is_judged(tmp_path, wide_members):
    v = validation(wide_members)
    v.evidence_dir = str(tmp_path)
    good = {
        "programs": [
            {"interface": "eth0", "changed": False, "attached": True},
            {"interface": "eth1", "changed": False, "attached": True},
        ],
        "maps": {"changed": False, "diff": {}},
    }
    evidence(tmp_path, "network", "xdp", "site-b-gw", good)
    assert "attached to eth0, eth1" in checks_network.programs_attached(v, "site-b-gw", {})
    assert "as the inventory says" in checks_network.maps_consistent(v, "site-b-gw", {})
    bad = {
        "programs": [{"interface": "eth1", "changed": True, "attached": True}],
        "maps": {"changed": True, "diff": {"before": "x", "after": "y"}},
    }
    evidence(tmp_path, "network", "xdp", "site-b-gw", bad)
    with pytest.raises(CheckFailed, match="eth1: not attached, or another program"):
        checks_network.programs_attached(v, "site-b-gw", {})
    with pytest.raises(CheckFailed, match="maps differ from the inventory"):
        checks_network.maps_consistent(v, "site-b-gw", {})


def test_pod_to_pod_says_why_it_cannot_run(wide_members):
    with pytest.raises(CheckSkipped, match="1 cluster\\(s\\) have a gateway"):
        checks_network.pod_to_pod(validation(wide_members), "fleet", {})


def test_versions_and_crds_compare_what_the_collection_defines():
    assert parse_version("v1.34.4") == (1, 34, 4)
    assert parse_version("v1.30.2+k3s1") == (1, 30, 2)
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        parse_version("latest")
    shipped = {
        "spec": {
            "group": "g",
            "scope": "Cluster",
            "names": {"kind": "M", "plural": "ms"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"x": 1}}],
        }
    }
    live = json.loads(json.dumps(shipped))
    live["spec"]["names"]["listKind"] = "MList"  # the API server adds it
    live["spec"]["conversion"] = {"strategy": "None"}
    assert crd_differences(shipped, live) == []
    live["spec"]["versions"][0]["schema"] = {"x": 2}
    live["spec"]["versions"].append({"name": "v2"})
    assert crd_differences(shipped, live) == [
        "version v1: schema differs from the shipped CRD",
        "versions the collection does not ship: v2",
    ]


def test_every_catalog_test_has_a_check_and_a_keyword():
    assert set(keywords.CHECKS) == set(catalog.BY_ID)
    for test in catalog.TESTS:
        method = getattr(keywords.FornaxValidation, keywords.method_name(test.keyword))
        assert method.__doc__.startswith(test.doc[:20])
        assert test.scope in catalog.SCOPES
        assert test.layer in catalog.LAYERS
        assert (test.layer, test.suite) in catalog.SUITE_DOCS
    assert len(catalog.keywords()) == len(catalog.TESTS), "keyword names are unique"


def test_a_fleet_member_of_the_role_is_what_the_fleet_reads():
    record = member("x", None, "x", [])
    assert fleet_from_members([record])["x"].kubeconfig == "/nowhere/x.kubeconfig"

"""Pure logic behind the modules: apply projection, placement preview, waits, trees, specs."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (
    child_link,
    cluster_view,
    mission_spec,
    names,
    preview,
    progress,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s import apply, waiter
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.ansible_module import (
    error_message,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.args_common import (
    AUTH_ARG_SPEC,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeUnreachable,
)

# -- apply: only the applied fields count ----------------------------------------------------

LIVE = {
    "apiVersion": "v1",
    "kind": "X",
    "metadata": {
        "name": "a",
        "resourceVersion": "9",
        "labels": {"mine": "1", "theirs": "2"},
        "managedFields": [
            {
                "manager": "me",
                "operation": "Apply",
                "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:mine": {}, "f:old": {}}},
                    "f:spec": {"f:list": {'k:{"name":"x"}': {".": {}}}},
                },
            },
            {"manager": "me", "operation": "Apply", "subresource": "status", "fieldsV1": {}},
            {"manager": "agent", "operation": "Update", "fieldsV1": {"f:status": {}}},
        ],
    },
    "spec": {"list": [{"name": "x"}], "defaulted": True},
    "status": {"ok": True},
}


def test_owned_fields_follow_maps_and_treat_lists_as_leaves():
    assert apply.owned_fields(LIVE, "me") == {
        "metadata": {"labels": {"mine": {}, "old": {}}},
        "spec": {"list": {}},
    }
    assert apply.owned_fields(LIVE, "nobody") == {}


def test_projection_ignores_status_defaults_and_other_owners():
    desired = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "labels": {"mine": "1"}}}
    tree = apply.merge_trees(apply.shape_of(desired), apply.owned_fields(LIVE, "me"))
    projected = apply.project(LIVE, tree)
    assert projected == {
        "apiVersion": "v1",
        "kind": "X",
        "metadata": {"name": "a", "labels": {"mine": "1"}},
        "spec": {"list": [{"name": "x"}]},
    }


def test_merge_trees_a_leaf_wins():
    assert apply.merge_trees({"a": {"b": {}}}, {"a": {}}) == {"a": {}}
    assert apply.merge_trees({"a": {"b": {}}}, {"a": {"c": {}}}) == {"a": {"b": {}, "c": {}}}


class FakeClient:
    def __init__(self, live, answer):
        self.live, self.answer, self.calls = live, answer, []

    def get_or_none(self, path):
        return self.live

    def apply(self, path, obj, **kwargs):
        self.calls.append(kwargs)
        return self.answer


def test_apply_object_reports_no_change_for_status_only_differences():
    answer = dict(LIVE, status={"ok": False})
    desired = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "labels": {"mine": "1"}}}
    client = FakeClient(LIVE, answer)
    outcome = apply.apply_object(client, "/p", desired, field_manager="me", dry_run=True)
    assert outcome.changed is False
    assert client.calls == [{"field_manager": "me", "force": False, "dry_run": True}]
    created = apply.apply_object(FakeClient(None, answer), "/p", desired, field_manager="me")
    assert created.changed is True and created.before is None


# -- placement preview ---------------------------------------------------------------------------


def ec(name, labels=None, sub=None, distro="k8s", health="healthy"):
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"kubeDistro": distro},
        "status": {"healthStatus": health, "subEdgeClusterStates": sub or {}},
    }


TREE = preview.known_clusters(
    [ec("b", {"company": "futurewei"}, {"c": "healthy", "c/d": "unhealthy"}), ec("e", distro="k3s")]
)


def test_known_clusters_reach_any_depth():
    assert [(c["path"], c["name"], c["depth"]) for c in TREE] == [
        ("b", "b", 1),
        ("b/c", "c", 2),
        ("b/c/d", "d", 3),
        ("e", "e", 1),
    ]
    assert TREE[2]["labels"] is None and TREE[2]["health"] == "unhealthy"


@pytest.mark.parametrize(
    ("placement", "run", "not_match", "unknown"),
    [
        (None, ["b", "b/c", "b/c/d", "e"], [], []),
        ({"clusters": [{"name": "d"}]}, ["b/c/d"], ["b", "b/c", "e"], []),
        ({"matchlabels": {"company": "futurewei"}}, ["b"], ["e"], ["b/c", "b/c/d"]),
        (
            {"matchlabels": {"edgeclusters.kubeedge.io/kubedistro": "k3s"}},
            ["e"],
            ["b"],
            ["b/c", "b/c/d"],
        ),
        ({"matchlabels": {"kubernetes.io/hostname": "c"}}, ["b/c"], ["b", "b/c/d", "e"], []),
        (
            {"clusters": [{"name": "c"}], "matchlabels": {"zone": "x"}},
            ["b/c"],
            ["b", "e"],
            ["b/c/d"],
        ),
    ],
)
def test_preview_decides_what_it_can_see(placement, run, not_match, unknown):
    result = preview.preview(placement, TREE)
    assert (result["run"], result["not_match"], result["unknown"]) == (run, not_match, unknown)


def test_unknown_names_are_warnings_naming_the_field():
    placement = {"clusters": [{"name": "c"}, {"name": "ghost"}]}
    result = preview.preview(placement, TREE)
    assert result["unknown_names"] == ["ghost"]
    [warning] = preview.unknown_name_warnings(placement, result)
    assert warning.startswith("spec.placement.clusters[1].name: 'ghost' is not a cluster known")


# -- waits -----------------------------------------------------------------------------------


def mission(states, generation=1, observed=None, folded=None):
    status = {"states": states}
    if observed is not None:
        status["observedGeneration"] = observed
    if folded:
        status["subtreeSummaries"] = folded
    return {"metadata": {"name": "m", "generation": generation}, "status": status}


STATES = {"b": "2/2", "b/c": "1/2", "b/c/d": "cluster unreachable", "e": "not match", "f": "done"}


def test_wait_for_named_clusters_and_exact_states():
    m = mission(STATES)
    assert progress.evaluate(m, clusters=["b", "f"])["met"] is True
    verdict = progress.evaluate(m, clusters=["b", "b/c", "x"])
    assert verdict["met"] is False
    assert verdict["behind"] == [{"path": "b/c", "state": "1/2"}, {"path": "x", "state": None}]
    assert progress.evaluate(m, clusters=["b/c"], state="1/2")["met"] is True


def test_wait_for_a_share_of_a_subtree():
    m = mission(STATES)
    # selected: b, b/c, b/c/d (unreachable counts against), f; ready: b, f
    assert progress.evaluate(m, min_ready="50%")["met"] is True
    verdict = progress.evaluate(m, min_ready="51%")
    assert verdict["met"] is False
    assert verdict["detail"] == "2 of 4 selected clusters of the tree are ready, need 3"
    assert progress.evaluate(m, subtree="b", min_ready=1)["met"] is True
    assert progress.evaluate(m, subtree="b", min_ready=2)["met"] is False
    assert progress.evaluate(m, subtree="b/c")["met"] is False
    assert progress.evaluate(mission({}), min_ready="0%")["met"] is False  # nothing reported


def test_wait_counts_folded_subtrees_and_checks_generation():
    folded = {"g": {"clusters": 10, "matched": 10, "ready": 10, "failed": 0, "unreachable": 0}}
    m = mission({"g": "2/2"}, folded=folded)
    assert progress.evaluate(m, min_ready=11)["met"] is True
    stale = mission({"b": "2/2"}, generation=3, observed=2)
    verdict = progress.evaluate(stale, clusters=["b"])
    assert verdict["met"] is False and "generation 2" in verdict["detail"]


def test_jmespath_conditions_test_field_values_of_the_status():
    m = mission(STATES)
    m["status"]["summary"] = {"ready": 2, "failed": 0}
    holds = progress.compile_condition("summary.failed == `0` && summary.ready >= `2`")
    assert progress.evaluate_condition(m, holds) == {
        "met": True,
        "value": True,
        "behind": [],
        "detail": "condition 'summary.failed == `0` && summary.ready >= `2`' is True",
    }
    assert progress.evaluate_condition(m, progress.compile_condition('states."b/c"'))["value"] == (
        "1/2"
    )
    assert (
        progress.evaluate_condition(m, progress.compile_condition("summary.ready > `5`"))["met"]
        is False
    )
    # 0 is true in JMESPath, an empty list is not; a stale status never meets a condition
    assert progress.evaluate_condition(m, progress.compile_condition("summary.failed"))["met"]
    assert not progress.evaluate_condition(m, progress.compile_condition("missing[]"))["met"]
    stale = mission({"b": "2/2"}, generation=3, observed=2)
    assert not progress.evaluate_condition(stale, progress.compile_condition("states.b"))["met"]


@pytest.mark.parametrize("bad", ["summary.ready >=", "", "[?"])
def test_bad_jmespath_conditions_name_the_field(bad):
    with pytest.raises(progress.WaitSpecError, match=r"^wait_for\.condition: "):
        progress.compile_condition(bad)


@pytest.mark.parametrize("bad", ["most", "-1", "150%", "x%"])
def test_min_ready_must_be_a_count_or_percentage(bad):
    with pytest.raises(progress.WaitSpecError, match=r"wait_for\.min_ready"):
        progress.parse_min_ready(bad)


def test_states_tree_and_merge_of_a_child_view():
    tree = progress.states_tree({"b/c": "1/1", "b": "2/2"})
    assert tree == {
        "b": {
            "state": "2/2",
            "class": "ready",
            "children": {"c": {"state": "1/1", "class": "ready", "children": {}}},
        }
    }
    states, folded = progress.merge_child_view(
        {"b": "2/2", "b/c": "pending", "e": "done"},
        {"b/c": {"clusters": 3}, "e/f": {"clusters": 1}},
        "b",
        {"status": {"states": {"c": "1/1", "c/d": "failed: x"}, "subtreeSummaries": {}}},
    )
    assert states == {"b": "2/2", "e": "done", "b/c": "1/1", "b/c/d": "failed: x"}
    assert folded == {"e/f": {"clusters": 1}}


def test_poll_is_bounded_and_counts_looks():
    now = [0.0]
    values = iter([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    outcome = waiter.poll(
        lambda: next(values),
        lambda v: v >= 3,
        timeout=100,
        sleep=1,
        clock=lambda: now[0],
        pause=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert outcome.met and outcome.value == 3 and outcome.looks == 3
    now[0] = 0.0
    outcome = waiter.poll(
        lambda: 0,
        lambda v: False,
        timeout=2,
        sleep=1,
        clock=lambda: now[0],
        pause=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert not outcome.met and outcome.elapsed >= 2


# -- specs -----------------------------------------------------------------------------------


def test_mission_from_options_round_trips_resource_mappings():
    resource = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    m = mission_spec.checked(
        mission_spec.from_options(
            "m",
            resource=resource,
            clusters=["b"],
            match_labels={"zone": 1},
            statecheck="echo ok",
            command={"command": "true", "trigger": None},
        )
    )
    assert m["spec"]["placement"] == {"clusters": [{"name": "b"}], "matchlabels": {"zone": "1"}}
    assert m["spec"]["missioncommand"] == {"command": "true"}
    assert mission_spec.check_resource(m["spec"]["missionresource"]) == [resource]
    two = mission_spec.from_options("m", resource=[resource, resource])
    assert len(mission_spec.check_resource(two["spec"]["missionresource"])) == 2


@pytest.mark.parametrize(
    ("mission", "message"),
    [
        ({"metadata": {"name": "m"}}, "spec: missing or not a mapping"),
        ({"metadata": {"name": "m"}, "spec": {}}, "spec: a Mission needs a resource"),
        (
            {"metadata": {"name": "m"}, "spec": {"missionresource": "a: [\n"}},
            "spec.missionresource: not valid YAML",
        ),
        (
            {"metadata": {"name": "m"}, "spec": {"missionresource": "- 1\n"}},
            "spec.missionresource document 1: expected a mapping",
        ),
        ({"spec": {"missioncommand": {"command": "x"}}}, "metadata.name: missing"),
        ({"kind": "Deployment", "metadata": {"name": "m"}}, "definition: apiVersion/kind"),
    ],
)
def test_bad_missions_name_the_field(mission, message):
    with pytest.raises(mission_spec.MissionSpecError, match=message.replace("[", r"\[")):
        mission_spec.checked(mission)


def test_definition_text_must_hold_one_mission():
    with pytest.raises(mission_spec.MissionSpecError, match="definition: holds 2 documents"):
        mission_spec.load_definition("a: 1\n---\nb: 2\n")
    with pytest.raises(mission_spec.MissionSpecError, match="src: cannot read '/nope'"):
        mission_spec.load_src("/nope")


# -- cluster views, link objects, errors ---------------------------------------------------------


def test_cluster_entries_tree_and_health_counts():
    now = datetime.datetime(2026, 11, 22, 8, 0, 30, tzinfo=datetime.UTC)
    b = ec("b", sub={"c": "healthy", "c/d": "disconnected"})
    b["status"]["lastHeartbeat"] = "2026-11-22T08:00:00Z"
    entries = [
        cluster_view.cluster_entry(b, now),
        cluster_view.cluster_entry({"metadata": {"name": "e"}}),
    ]
    assert entries[0]["heartbeat_age_seconds"] == 30.0
    assert entries[1]["health"] == "unknown" and entries[1]["heartbeat_age_seconds"] is None
    tree = cluster_view.cluster_tree(entries)
    assert tree["b"]["children"]["c"]["children"]["d"]["health"] == "disconnected"
    assert cluster_view.health_counts(entries) == {
        "healthy": 2,
        "unhealthy": 0,
        "disconnected": 1,
        "unknown": 1,
        "clusters": 4,
    }


def test_link_objects_carry_the_documented_names_and_labels():
    objects = child_link.link_objects("b", {"zone": "x"}, "k3s")
    assert [child_link.describe(o) for o in objects] == [
        "Namespace/fornax-system",
        "ConfigMap/fornax-system/fornax-child-tokens",
        "ValidatingAdmissionPolicy/fornax-child-tokens",
        "ValidatingAdmissionPolicyBinding/fornax-child-tokens",
        "ServiceAccount/fornax-system/child-b",
        "EdgeCluster/b",
        "ClusterReport/b",
        *(f"ClusterReport/b.{i}" for i in range(names.REPORT_SHARDS)),
        "ClusterRole/fornax:child:b",
        "ClusterRoleBinding/fornax:child:b",
        "Role/fornax-system/fornax:child:b",
        "RoleBinding/fornax-system/fornax:child:b",
    ]
    shared = len(child_link.shared_objects())
    for obj in objects[shared:]:
        assert obj["metadata"]["labels"][child_link.CHILD_LABEL] == "b"
    for obj in objects[:shared]:  # shared by every child: unlink leaves them
        assert child_link.CHILD_LABEL not in obj["metadata"]["labels"]
    assert objects[shared + 1]["metadata"]["labels"]["zone"] == "x"
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    assert child_link.object_path(role) == (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/fornax%3Achild%3Ab"
    )
    assert child_link.token_claims("not-a-jwt") == {}


def test_error_messages_name_status_and_fields():
    body = {"details": {"causes": [{"field": "spec.x", "message": "Invalid value"}]}}
    exc = KubeApiError(422, "Unprocessable Entity", "Mission is invalid", body)
    assert error_message(exc, "mission m") == (
        "mission m: the API server answered 422 Unprocessable Entity: Mission is invalid "
        "(spec.x: Invalid value)"
    )
    assert "api_retries" in error_message(KubeUnreachable("gone"))
    assert AUTH_ARG_SPEC["api_key"]["no_log"] is True

"""The agent's content rules against a real API server: rights, ownership, records, namespaces.

One shared cluster (no agent process: the Content class the agent uses, driven directly); the
same rules end to end, with agents and a tree, are in fornax_tree/test_hostile.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fornax_agent.content import (
    NOT_YET,
    Applied,
    Content,
    ContentConflict,
    MissionFailure,
    NotAllowed,
)

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.policy import parse_policy
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)

COUNTER = itertools.count()


@pytest.fixture
def namespace(cluster):
    """A fresh namespace for the test's objects (deleted afterwards)."""
    name = f"content-{next(COUNTER)}"
    with cluster.client() as client:
        client.create("/api/v1/namespaces", {"metadata": {"name": name}})
    yield name
    with cluster.client() as client:
        client.delete_if_exists(f"/api/v1/namespaces/{name}")


@pytest.fixture
def content(cluster):
    client = cluster.client()
    yield Content(client, "b", parse_policy(None))
    client.close()


def configmap(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def records() -> tuple[list[Applied], Any]:
    seen: list[Applied] = []

    def record(applied: Applied) -> None:
        seen.append(Applied.from_json(applied.to_json()))

    return seen, record


def test_one_refused_object_refuses_the_whole_mission(content, namespace):
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "take-over"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "x"},
        "subjects": [],
    }
    seen, record = records()
    with pytest.raises(NotAllowed) as refused:
        content.apply("m", 1, [configmap("first", namespace), binding], None, record)
    assert str(refused.value).startswith("not allowed here: ClusterRoleBinding/- ")
    assert seen == [], "nothing recorded: nothing was applied"
    assert content.client.get_or_none(f"/api/v1/namespaces/{namespace}/configmaps/first") is None


def test_an_object_belongs_to_one_mission(content, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps/shared"
    _seen, record = records()
    first = content.apply("mission-a", 1, [configmap("shared", namespace, v="a")], None, record)
    assert list(first.objects) == [path]
    with pytest.raises(ContentConflict) as conflict:
        content.apply("mission-b", 1, [configmap("shared", namespace, v="b")], None, record)
    assert str(conflict.value) == f"ConfigMap/{namespace}/shared belongs to Mission mission-a"
    assert content.client.get(path)["data"] == {"v": "a"}, "not taken over"
    other = Applied(1, {path: 0})
    assert content.remove("mission-b", other) == []
    assert content.client.get_or_none(path) is not None, "B's removal leaves A's object"
    content.client.create(
        f"/api/v1/namespaces/{namespace}/configmaps", configmap("users", namespace)
    )
    with pytest.raises(ContentConflict, match=r"ConfigMap/.*/users exists and was not created by"):
        content.apply("mission-a", 2, [configmap("users", namespace)], first, record)


def test_a_half_done_apply_is_recorded_and_removed(content, namespace):
    seen, record = records()
    objects = [configmap("ok", namespace), configmap("Not_A_Name", namespace)]
    with pytest.raises(
        MissionFailure,
        match=r"ConfigMap/.*/Not_A_Name \(1 applied before it, removed with the Mission\): ",
    ):
        content.apply("half", 1, objects, None, record)
    ok = f"/api/v1/namespaces/{namespace}/configmaps/ok"
    assert seen[0].objects == {ok: NOT_YET, f"{ok[:-2]}Not_A_Name": NOT_YET}, "before the apply"
    last = seen[-1]
    assert not last.complete and last.objects[ok] == 0, "after: ok was applied"
    assert content.client.get_or_none(ok) is not None
    content.remove("half", last)
    assert content.client.get_or_none(ok) is None


def test_a_namespace_is_deleted_only_when_it_holds_nothing_else(content, cluster):
    _seen, record = records()
    name = f"mission-ns-{next(COUNTER)}"
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        configmap("settings", name),
    ]
    applied = content.apply("ns-mission", 1, objects, None, record)
    client = content.client
    try:
        client.create(f"/api/v1/namespaces/{name}/configmaps", configmap("users-own", name))
        kept = content.remove("ns-mission", applied)
        assert kept == [
            (
                name,
                f"namespace {name} kept: it holds ConfigMap users-own, which Mission "
                "ns-mission did not create",
            )
        ]
        live = client.get(f"/api/v1/namespaces/{name}")
        assert "deletionTimestamp" not in live["metadata"]
        assert live["metadata"]["annotations"][names.KEPT_ANNOTATION] == kept[0][1]
        assert client.get_or_none(f"/api/v1/namespaces/{name}/configmaps/settings") is None
        assert client.get_or_none(f"/api/v1/namespaces/{name}/configmaps/users-own") is not None

        client.delete(f"/api/v1/namespaces/{name}/configmaps/users-own")
        assert content.remove("ns-mission", applied) == []
        gone = client.get_or_none(f"/api/v1/namespaces/{name}")
        assert gone is None or gone["metadata"].get("deletionTimestamp"), "being deleted"
    finally:
        client.delete_if_exists(f"/api/v1/namespaces/{name}")


def test_what_the_agent_cannot_see_keeps_the_namespace(cluster):
    """An identity that may manage only namespaces and ConfigMaps cannot tell what else a
    namespace holds: it keeps the namespace rather than guess."""
    rules = [
        {
            "apiGroups": [""],
            "resources": ["namespaces", "configmaps"],
            "verbs": ["get", "list", "watch", "create", "patch", "delete"],
        }
    ]
    role = {"metadata": {"name": "content-limited"}, "rules": rules}
    binding = {
        "metadata": {"name": "content-limited"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "content-limited",
        },
        "subjects": [{"kind": "User", "name": "content-limited"}],
    }
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    name = f"limited-ns-{next(COUNTER)}"
    with cluster.client() as admin:
        admin.create(f"{rbac}/clusterroles", role)
        admin.create(f"{rbac}/clusterrolebindings", binding)
        try:
            settings = settings_from_kubeconfig(str(cluster.user_kubeconfig("content-limited")))
            with KubeClient(settings) as limited:
                content = Content(limited, "b", parse_policy(None))
                _seen, record = records()
                objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}]
                applied = content.apply("limited", 1, objects, None, record)
                [(namespace, reason)] = content.remove("limited", applied)
            assert namespace == name
            assert reason.startswith(f"namespace {name} kept: this agent may not list ")
            assert "deletionTimestamp" not in admin.get(f"/api/v1/namespaces/{name}")["metadata"]
        finally:
            admin.delete_if_exists(f"/api/v1/namespaces/{name}")
            admin.delete_if_exists(f"{rbac}/clusterrolebindings/content-limited")
            admin.delete_if_exists(f"{rbac}/clusterroles/content-limited")

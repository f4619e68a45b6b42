"""KubeClient.write_whole against a real API server: a create when the writer knows of no object,
a replace at the version it knows otherwise, exact (nothing an earlier write set survives), a
stale version or an object that appeared meanwhile read back once, a live object the caller may
not take left alone, and a Mission's status untouched by a replace of the Mission."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeApiError

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, labels: dict, data: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": data,
    }


def test_create_then_replace_exactly_at_the_known_version(cluster):
    with cluster.client() as client:
        first = client.write_whole(CONFIGMAPS, configmap("whole-a", {"x": "1"}, {"a": "1"}), None)
        version = first["metadata"]["resourceVersion"]
        second = client.write_whole(CONFIGMAPS, configmap("whole-a", {}, {"b": "2"}), version)
        live = client.get(f"{CONFIGMAPS}/whole-a")
    assert second["metadata"]["resourceVersion"] != version
    assert live["data"] == {"b": "2"}  # nothing the first write set survives
    assert not live["metadata"].get("labels")


def test_a_stale_version_or_an_unknown_object_is_read_back_once(cluster):
    with cluster.client() as client:
        made = client.write_whole(CONFIGMAPS, configmap("whole-b", {}, {"a": "1"}), None)
        client.patch(f"{CONFIGMAPS}/whole-b", {"data": {"other": "writer"}})
        stale = made["metadata"]["resourceVersion"]
        client.write_whole(CONFIGMAPS, configmap("whole-b", {}, {"a": "2"}), stale)
        assert client.get(f"{CONFIGMAPS}/whole-b")["data"] == {"a": "2"}
        # The cache knew of none, the server has one: 409 on the create, then a replace.
        client.write_whole(CONFIGMAPS, configmap("whole-b", {}, {"a": "3"}), None)
        assert client.get(f"{CONFIGMAPS}/whole-b")["data"] == {"a": "3"}
        # The cache knew one that went: 404 on the replace, then a create.
        client.delete(f"{CONFIGMAPS}/whole-b")
        client.write_whole(CONFIGMAPS, configmap("whole-b", {}, {"a": "4"}), stale)
        assert client.get(f"{CONFIGMAPS}/whole-b")["data"] == {"a": "4"}


def test_a_live_object_the_caller_may_not_take_is_left_alone(cluster):
    with cluster.client() as client:
        client.create(CONFIGMAPS, configmap("whole-c", {"owner": "someone"}, {"a": "theirs"}))
        refused = client.write_whole(
            CONFIGMAPS,
            configmap("whole-c", {}, {"a": "mine"}),
            None,
            lambda live: live["metadata"]["labels"].get("owner") != "someone",
        )
        live = client.get(f"{CONFIGMAPS}/whole-c")
    assert refused is None
    assert live["data"] == {"a": "theirs"}


def test_a_second_conflict_is_raised_as_transient(cluster):
    with cluster.client() as client:
        client.write_whole(CONFIGMAPS, configmap("whole-d", {}, {"a": "1"}), None)

        def meanwhile(live: dict) -> bool:  # another writer lands between the read and the put
            client.patch(f"{CONFIGMAPS}/whole-d", {"data": {"a": "other"}})
            return True

        with pytest.raises(KubeApiError) as caught:
            client.write_whole(CONFIGMAPS, configmap("whole-d", {}, {"a": "2"}), "1", meanwhile)
    assert caught.value.status == 409 and caught.value.transient


def test_replacing_a_mission_keeps_its_status(cluster):
    mission = {
        "apiVersion": names.API_VERSION,
        "kind": "Mission",
        "metadata": {"name": "whole-m", "labels": {"team": "a"}},
        "spec": {
            "missionresource": "kind: ConfigMap\n",
            "placement": {"clusters": [{"name": "b"}]},
        },
    }
    with cluster.client() as client:
        made = client.write_whole(names.MISSIONS, mission, None)
        client.patch(names.mission_path("whole-m", status=True), {"status": {"contentKind": "X"}})
        live = client.get(names.mission_path("whole-m"))
        lean = {
            **mission,
            "metadata": {"name": "whole-m"},
            "spec": {"missioncommand": {"command": "true"}},
        }
        client.write_whole(names.MISSIONS, lean, live["metadata"]["resourceVersion"])
        after = client.get(names.mission_path("whole-m"))
    assert made["metadata"]["generation"] == 1
    assert after["spec"] == {"missioncommand": {"command": "true"}}  # placement gone
    assert not after["metadata"].get("labels")
    assert after["status"] == {"contentKind": "X"}

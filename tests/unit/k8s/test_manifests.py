"""Manifests (missionresource and CRD files) to objects, with errors that say where and why."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import resource_path
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.resource import (
    ManifestError,
    load_manifests,
)

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
"""


def test_several_documents_and_empty_ones():
    text = DEPLOYMENT + "---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"
    objects = load_manifests(text)
    assert [o["kind"] for o in objects] == ["Deployment", "ConfigMap"]


def test_json_is_accepted():
    assert load_manifests('{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}')


def test_quotes_and_percent_signs_survive():
    text = DEPLOYMENT + "spec:\n  note: \"it's 100% 'quoted' %s %d\"\n"
    assert load_manifests(text)[0]["spec"]["note"] == "it's 100% 'quoted' %s %d"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [unclosed", "missionresource: not valid YAML"),
        ("- a\n- b\n", "document 1: expected a mapping .* got list"),
        ("just words", "document 1: expected a mapping .* got str"),
        ("kind: Deployment\nmetadata: {name: x}\n", "document 1: apiVersion is missing"),
        ("apiVersion: v1\nkind: ConfigMap\n", "document 1: metadata.name is missing"),
        (DEPLOYMENT + "---\napiVersion: v1\n", "document 2: kind is missing"),
        ("", "holds no object"),
        ("---\n---\n", "holds no object"),
    ],
)
def test_bad_manifests(text, message):
    with pytest.raises(ManifestError, match=message):
        load_manifests(text, where="missionresource")


def test_resource_paths():
    assert resource_path("v1", "pods", "p", "ns") == "/api/v1/namespaces/ns/pods/p"
    assert (
        resource_path("apps/v1", "deployments", namespace="x")
        == "/apis/apps/v1/namespaces/x/deployments"
    )
    assert (
        resource_path("edgeclusters.kubeedge.io/v1", "missions", "m", subresource="status")
        == "/apis/edgeclusters.kubeedge.io/v1/missions/m/status"
    )
    assert resource_path("v1", "configmaps", "a/b", "n") == "/api/v1/namespaces/n/configmaps/a%2Fb"

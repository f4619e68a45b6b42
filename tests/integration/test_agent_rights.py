"""The API server's half of Mission rights: the agent's own identity gets only what is granted.

Two clusters run as the roles set them up: the security flags and Pod Security admission of
module_utils/fornax/security.py, and each agent with its least-privilege identity (RBAC and
admission policy from security.agent_manifests, exactly what the hub role applies). Cluster a
grants the defaults; cluster w widens its grant to RBAC bindings, webhooks and CRDs. Each
attempt below is made with the agent's own credentials, read from the configuration its
running agent uses.
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names, security
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)
from fornax_harness.tree import start_tree

WIDE = {
    "extraResources": [
        "clusterrolebindings.rbac.authorization.k8s.io",
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        "customresourcedefinitions.apiextensions.k8s.io",
    ]
}
RBAC = "/apis/rbac.authorization.k8s.io/v1"
ADMISSION = "/apis/admissionregistration.k8s.io/v1"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "probe-binding"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:basic-user",
    },
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "probe"}],
}
WEBHOOK = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": "probe-webhook"},
    "webhooks": [
        {
            "name": "probe.fornax.invalid",
            "clientConfig": {"url": "https://127.0.0.1:9/never"},
            "rules": [
                {
                    "apiGroups": ["example.com"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["nothings"],
                }
            ],
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }
    ],
}
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object"}},
            }
        ],
    },
}
PROBES = [
    (f"{RBAC}/clusterrolebindings", BINDING),
    (f"{ADMISSION}/validatingwebhookconfigurations", WEBHOOK),
    (CRDS, CRD),
]


@pytest.fixture(scope="module")
def clusters(k8s_bin, tmp_path_factory):
    tree = start_tree(
        tmp_path_factory.mktemp("rights"), {"a": None, "w": None}, policies={"w": WIDE}
    )
    try:
        for name in ("a", "w"):
            with tree.client(name) as admin:  # an ordinary namespace (no controllers here:
                admin.create("/api/v1/namespaces", namespace("shop"))  # its account by hand)
                admin.create(
                    "/api/v1/namespaces/shop/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
                )
        yield tree
    finally:
        tree.destroy()


def namespace(name: str, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, **labels_of(labels)},
    }


def labels_of(labels: dict | None) -> dict:
    return {"labels": labels} if labels else {}


def agent(tree, name: str) -> KubeClient:
    """A client with the credentials the running agent of ``name`` uses on its own cluster."""
    config = yaml.safe_load((tree.members[name].config_path).read_text())
    assert config["kubeconfig"] != str(tree[name].kubeconfig_path), "the agent runs as admin"
    return KubeClient(settings_from_kubeconfig(config["kubeconfig"]), connect_retries=0)


def refused(call, *args) -> KubeApiError:
    with pytest.raises(KubeApiError) as caught:
        call(*args)
    assert caught.value.status == 403, caught.value
    return caught.value


def pod(name: str, **security_context) -> dict:
    container = {"name": "c", "image": "registry.invalid/c:1"}
    if security_context:
        container["securityContext"] = security_context
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], "automountServiceAccountToken": False},
    }


def volume(name: str, source: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], **source},
    }


def test_the_default_grant_refuses_rbac_webhooks_and_crds(clusters):
    with agent(clusters, "a") as a:
        a.get(names.MISSIONS)  # its own needs are met
        for path, obj in PROBES:
            assert "is forbidden" in str(refused(a.create, path, obj))
        refused(a.create, f"{RBAC}/clusterroles", {**BINDING, "kind": "ClusterRole", "rules": []})
        refused(a.get, "/apis/rbac.authorization.k8s.io/v1/clusterroles")


def test_a_widened_grant_allows_them(clusters):
    with agent(clusters, "w") as w:
        for path, obj in PROBES:
            w.create(path, obj)
            w.delete(f"{path}/{obj['metadata']['name']}")
        # Only what was granted: roles themselves stay out of reach.
        refused(w.create, f"{RBAC}/clusterroles", {**BINDING, "kind": "ClusterRole", "rules": []})


def test_privileged_and_host_access_pods_are_refused(clusters):
    pods = "/api/v1/namespaces/shop/pods"
    with agent(clusters, "a") as a:
        # Privileged containers: refused outright below a privileged grant (--allow-privileged).
        with pytest.raises(KubeApiError) as caught:
            a.create(pods, pod("root", privileged=True))
        assert "privileged: Forbidden" in str(caught.value)
        # Host access: Pod Security admission at the grant's level (baseline).
        host = pod("host", capabilities={"add": ["NET_ADMIN"]})
        host["spec"].update(hostNetwork=True, volumes=[{"name": "r", "hostPath": {"path": "/"}}])
        denied = refused(a.create, pods, host)
        assert 'violates PodSecurity "baseline:latest"' in str(denied)
        for part in ("host namespaces", "hostPath volumes", "non-default capabilities"):
            assert part in str(denied)
        a.create(pods, pod("plain"))  # ordinary pods are fine
        a.delete(f"{pods}/plain")


def test_the_admission_policy_closes_what_pod_security_does_not_see(clusters):
    with agent(clusters, "a") as a:
        loose = namespace("loose", {"pod-security.kubernetes.io/enforce": "privileged"})
        denied = refused(a.create, "/api/v1/namespaces", loose)
        assert "a Pod Security label looser than baseline" in str(denied)
        a.create(
            "/api/v1/namespaces",
            namespace("strict", {"pod-security.kubernetes.io/enforce": "restricted"}),
        )
        a.delete("/api/v1/namespaces/strict")
        host = volume("host", {"hostPath": {"path": "/"}})
        assert "gives pods host access" in str(refused(a.create, "/api/v1/persistentvolumes", host))
        ordinary = volume("ordinary", {"csi": {"driver": "probe.invalid", "volumeHandle": "v"}})
        a.create("/api/v1/persistentvolumes", ordinary)
        a.delete("/api/v1/persistentvolumes/ordinary")
        # The cluster's own namespaces are not granted: no writes there, whatever the kind.
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}}
        denied = refused(a.create, "/api/v1/namespaces/kube-system/configmaps", config)
        assert "namespace kube-system is not granted" in str(denied)
        refused(a.create, "/api/v1/namespaces", namespace("kube-public"))
        a.create("/api/v1/namespaces/shop/configmaps", config)
        a.delete("/api/v1/namespaces/shop/configmaps/probe")
    with clusters.client("a") as admin:  # the admin is not bound by the agent's policy
        admin.create("/api/v1/persistentvolumes", volume("host", {"hostPath": {"path": "/"}}))
        admin.delete("/api/v1/persistentvolumes/host")


def test_the_api_servers_run_the_collections_security_flags(clusters):
    for name in ("a", "w"):
        cluster = clusters[name]
        argv = cluster.processes["kube-apiserver"].argv
        flags = security.apiserver_security_args(
            cluster.server, str(cluster.admission_config_path), cluster.policy
        )
        assert "--allow-privileged=false" in flags
        assert all(flag in argv for flag in flags)

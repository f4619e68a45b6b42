"""The Mission rights a cluster grants (plugins/module_utils/fornax/policy.py)."""

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.policy import (
    DEFAULT_RESOURCES,
    MissionPolicy,
    PolicyError,
    admission_configuration,
    agent_rules,
    content_rules,
    parse_policy,
    pod_security_problems,
)

DEFAULT = parse_policy(None)


def deployment(pod_spec, namespace="shop"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"template": {"spec": pod_spec}},
    }


PLAIN_POD = {"containers": [{"name": "web", "image": "busybox"}]}


def test_defaults_grant_ordinary_content_only():
    assert MissionPolicy() == DEFAULT
    assert DEFAULT.allows_resource("deployments", "apps")
    assert DEFAULT.allows_resource("configmaps", "")
    assert DEFAULT.allows_resource("namespaces", "")
    assert DEFAULT.allows_resource("persistentvolumes", "")
    for plural, group in [
        ("clusterrolebindings", "rbac.authorization.k8s.io"),
        ("roles", "rbac.authorization.k8s.io"),
        ("validatingwebhookconfigurations", "admissionregistration.k8s.io"),
        ("customresourcedefinitions", "apiextensions.k8s.io"),
        ("apiservices", "apiregistration.k8s.io"),
        ("missions", "edgeclusters.kubeedge.io"),
        ("nodes", ""),
        ("priorityclasses", "scheduling.k8s.io"),
    ]:
        assert not DEFAULT.allows_resource(plural, group), plural
    assert DEFAULT.allows_namespace("shop")
    assert not DEFAULT.allows_namespace("kube-system")
    assert DEFAULT.pod_security == "baseline"


def test_widening_is_explicit():
    wide = parse_policy(
        {
            "extraResources": ["roles.rbac.authorization.k8s.io", "*.example.com"],
            "namespaces": ["shop", "kube-system"],
            "podSecurity": "privileged",
        }
    )
    assert wide.allows_resource("roles", "rbac.authorization.k8s.io")
    assert not wide.allows_resource("clusterroles", "rbac.authorization.k8s.io")
    assert wide.allows_resource("widgets", "example.com")
    assert wide.allows_resource("deployments", "apps")  # extra adds to the defaults
    assert wide.allows_namespace("kube-system") and not wide.allows_namespace("other")
    only = parse_policy({"resources": ["configmaps"]})
    assert only.resources == ("configmaps",)
    everything = parse_policy({"resources": ["*"]})
    assert everything.allows_resource("clusterrolebindings", "rbac.authorization.k8s.io")
    assert parse_policy(wide.to_dict()) == wide  # the exported form reads back the same


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("all", "mission_policy: 'all' must be a mapping"),
        ({"resource": []}, "mission_policy.resource: unknown field"),
        ({"resources": "pods"}, "mission_policy.resources: 'pods' must be a list of strings"),
        ({"resources": ["Deployment"]}, "mission_policy.resources: 'Deployment' is not"),
        ({"extraResources": [3]}, "mission_policy.extraResources: [3] must be a list"),
        ({"namespaces": ["Shop"]}, "mission_policy.namespaces: 'Shop' is neither"),
        ({"podSecurity": "none"}, "mission_policy.podSecurity: 'none' is not one of"),
    ],
)
def test_bad_grants_name_the_field(data, message):
    with pytest.raises(PolicyError) as caught:
        parse_policy(data)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("obj", "plural", "group", "namespace", "reason"),
    [
        (
            {"kind": "ClusterRoleBinding", "metadata": {"name": "x"}},
            "clusterrolebindings",
            "rbac.authorization.k8s.io",
            None,
            "not allowed here: ClusterRoleBinding/- "
            "(clusterrolebindings.rbac.authorization.k8s.io is not granted)",
        ),
        (
            deployment(PLAIN_POD, "kube-system"),
            "deployments",
            "apps",
            "kube-system",
            "not allowed here: Deployment/kube-system (namespace 'kube-system' is not granted)",
        ),
        (
            deployment({"containers": [{"name": "x", "securityContext": {"privileged": True}}]}),
            "deployments",
            "apps",
            "shop",
            "not allowed here: Deployment/shop: container 'x' is privileged (podSecurity: baseline)",
        ),
        (
            {
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {
                    "containers": [],
                    "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
                },
            },
            "pods",
            "",
            "shop",
            "volume 'root' mounts a host path",
        ),
        (
            {
                "kind": "CronJob",
                "metadata": {"name": "c"},
                "spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostPID": True}}}}},
            },
            "cronjobs",
            "batch",
            "shop",
            "hostPID: true shares the host's namespace",
        ),
        (
            {"kind": "PersistentVolume", "metadata": {"name": "v"}, "spec": {"hostPath": {}}},
            "persistentvolumes",
            "",
            None,
            "a hostPath PersistentVolume gives pods host access",
        ),
        (
            {
                "kind": "Namespace",
                "metadata": {
                    "name": "shop",
                    "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
                },
            },
            "namespaces",
            "",
            None,
            "label pod-security.kubernetes.io/enforce=privileged loosens Pod Security",
        ),
        (
            {"kind": "Namespace", "metadata": {"name": "kube-system"}},
            "namespaces",
            "",
            None,
            "namespace 'kube-system' is not granted",
        ),
    ],
)
def test_refused_objects_say_why(obj, plural, group, namespace, reason):
    found = DEFAULT.problem(obj, plural, group, namespace)
    assert found is not None and reason in found
    assert found.startswith("not allowed here: ")


def test_ordinary_content_passes():
    assert DEFAULT.problem(deployment(PLAIN_POD), "deployments", "apps", "shop") is None
    namespace = {
        "kind": "Namespace",
        "metadata": {
            "name": "shop",
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
        },
    }
    assert DEFAULT.problem(namespace, "namespaces", "", None) is None  # stricter is fine
    privileged = parse_policy({"podSecurity": "privileged"})
    hostile = deployment({"hostNetwork": True, "containers": [{"name": "x"}]})
    assert privileged.problem(hostile, "deployments", "apps", "shop") is None


def test_pod_security_levels():
    caps = {
        "containers": [
            {"name": "x", "securityContext": {"capabilities": {"add": ["NET_ADMIN", "CHOWN"]}}}
        ]
    }
    assert pod_security_problems(caps, "baseline") == [
        "container 'x' adds capabilities ['NET_ADMIN']"
    ]
    assert pod_security_problems(caps, "privileged") == []
    strict = pod_security_problems(PLAIN_POD, "restricted")
    assert "container 'web' must set allowPrivilegeEscalation: false" in strict
    good = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "x",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    assert pod_security_problems(good, "restricted") == []


def test_rbac_follows_the_grant():
    rules = content_rules(DEFAULT)
    apps = next(r for r in rules if r["apiGroups"] == ["apps"])
    assert apps["resources"] == ["daemonsets", "deployments", "replicasets", "statefulsets"]
    flat = {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}
    assert len(flat) == len(DEFAULT_RESOURCES)
    assert not any(g == "rbac.authorization.k8s.io" or "*" in (g, r) for g, r in flat)
    wide = parse_policy({"extraResources": ["*.example.com"]})
    example = next(r for r in content_rules(wide) if r["apiGroups"] == ["example.com"])
    assert example["resources"] == ["*"]
    everything = content_rules(parse_policy({"resources": ["*"]}))
    assert everything[0]["apiGroups"] == ["*"] and everything[0]["resources"] == ["*"]
    own = agent_rules(DEFAULT)
    assert own[0]["apiGroups"] == ["edgeclusters.kubeedge.io"]
    assert all(rule.get("apiGroups") != ["*"] for rule in own)


def test_admission_configuration_follows_the_level():
    config = admission_configuration(parse_policy({"podSecurity": "restricted"}))
    defaults = config["plugins"][0]["configuration"]["defaults"]
    assert defaults["enforce"] == "restricted"
    assert "kube-system" in config["plugins"][0]["configuration"]["exemptions"]["namespaces"]

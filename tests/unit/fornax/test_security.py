"""The tree's API-server hardening and the agent's rights (module_utils/fornax/security.py),
the filters the roles read them through, and the child-token bounds of child_link."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.centaurus.fornax.plugins.filter.security import FilterModule
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (
    child_link,
    policy,
    security,
)

ISSUER = "https://10.0.0.1:6443"


def test_apiserver_flags():
    flags = security.apiserver_security_args(ISSUER, "/etc/kubernetes/admission.yaml")
    for flag in (
        "--anonymous-auth=false",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--tls-min-version=VersionTLS12",
        f"--service-account-issuer={ISSUER}",
        f"--api-audiences={ISSUER}",
        "--service-account-max-token-expiration=86400s",
        "--service-account-extend-token-expiration=false",
        "--admission-control-config-file=/etc/kubernetes/admission.yaml",
        "--allow-privileged=false",
    ):
        assert flag in flags
    wide = security.apiserver_security_args(ISSUER, "a.yaml", {"podSecurity": "privileged"})
    assert "--allow-privileged=true" in wide
    assert len({flag.split("=", maxsplit=1)[0] for flag in flags}) == len(flags)  # each flag once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("http://10.0.0.1:6443", "a.yaml"), "issuer: 'http://10.0.0.1:6443' must be an https://"),
        ((ISSUER, "a.yaml", None, 60), "max_token_seconds: 60 must be an integer from 3600"),
    ],
)
def test_bad_flag_inputs_name_the_field(args, message):
    with pytest.raises(security.SecurityError, match=message):
        security.apiserver_security_args(*args)


def test_agent_rbac_follows_the_grant():
    role, binding = security.agent_rbac()
    assert role["metadata"]["name"] == binding["roleRef"]["name"] == security.AGENT_ROLE
    assert role["rules"] == policy.agent_rules(policy.parse_policy(None))
    assert not any("*" in rule.get("resources", []) for rule in role["rules"])
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": security.AGENT_GROUP}
    ]
    everything = security.agent_rbac({"resources": ["*"]})[0]
    assert any(rule.get("resources") == ["*"] for rule in everything["rules"])


def test_agent_subjects_are_checked():
    extra = [{"kind": "ServiceAccount", "name": "agent", "namespace": "fornax-system"}]
    subjects = security.agent_subjects("fornax:agents", extra)
    assert subjects[1] == extra[0]
    with pytest.raises(security.SecurityError, match=r"extra_subjects\[0\]: 'x' must be"):
        security.agent_subjects("g", ["x"])
    with pytest.raises(security.SecurityError, match=r"extra_subjects\[0\].namespace"):
        security.agent_subjects("g", [{"kind": "ServiceAccount", "name": "a"}])


def test_agent_admission_policy_states_the_grant():
    vap, vapb = security.agent_admission_policy()
    assert vapb["spec"]["policyName"] == vap["metadata"]["name"] == security.AGENT_POLICY
    condition = vap["spec"]["matchConditions"][0]["expression"]
    assert condition == '"fornax:agents" in request.userInfo.groups'
    expressions = [v["expression"] for v in vap["spec"]["validations"]]
    assert (
        '!(request.namespace in ["kube-system", "kube-public", "kube-node-lease"])'
        in (expressions[0])
    )
    assert '["baseline", "restricted"]' in expressions[2]
    assert "hostPath" in expressions[3]
    assert all(v["reason"] == "Forbidden" for v in vap["spec"]["validations"])
    listed = security.agent_admission_policy(
        {"namespaces": ["shop", "kube-system"], "podSecurity": "privileged"}
    )[0]
    expressions = [v["expression"] for v in listed["spec"]["validations"]]
    assert 'request.namespace in ["kube-system", "shop"]' in expressions[0]
    assert len(expressions) == 3  # privileged: no hostPath rule
    named = security.namespace_allowed_cel(
        policy.parse_policy({"namespaces": ["*", "kube-public"]}), "n"
    )
    assert named == '!(n in ["kube-system", "kube-node-lease"])'


def test_filters_give_the_roles_the_same_values():
    filters = FilterModule().filters()
    assert filters["mission_policy"](None) == policy.parse_policy(None).to_dict()
    assert filters["admission_configuration"](None) == policy.admission_configuration(
        policy.parse_policy(None)
    )
    manifests = filters["agent_manifests"](None, "", [])
    assert [m["kind"] for m in manifests] == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    assert filters["apiserver_security_args"](ISSUER, "a.yaml") == (
        security.apiserver_security_args(ISSUER, "a.yaml")
    )
    with pytest.raises(AnsibleFilterError, match=r"fornax_mission_policy\.podSecurity: 'none'"):
        filters["mission_policy"]({"podSecurity": "none"})
    with pytest.raises(AnsibleFilterError, match=r"hub_agent_extra_subjects\[0\]"):
        filters["agent_manifests"](None, "", ["x"])
    with pytest.raises(AnsibleFilterError, match="fornax_api_endpoint as the issuer"):
        filters["apiserver_security_args"]("http://x", "a.yaml")


@pytest.mark.parametrize(
    ("grant", "name", "labels"),
    [
        (None, "fornax-policy-probe", {"pod-security.kubernetes.io/enforce": "privileged"}),
        (
            {"podSecurity": "restricted", "namespaces": ["lab"]},
            "fornax-policy-probe",
            {"pod-security.kubernetes.io/enforce": "privileged"},
        ),
        ({"podSecurity": "privileged", "namespaces": ["lab"]}, "fornax-policy-probe", {}),
        ({"podSecurity": "privileged"}, "kube-system", {}),
        ({"podSecurity": "privileged", "namespaces": ["*", "kube-system"]}, "kube-public", {}),
    ],
)
def test_the_policy_probe_is_a_namespace_the_grant_refuses(grant, name, labels):
    probe = security.agent_policy_probe(grant)
    assert probe == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels},
    }
    # What the agent's own check says of it, as the admission policy must too.
    assert policy.parse_policy(grant).problem(probe, "namespaces", "", None)


@pytest.mark.parametrize(
    "grant",
    [
        {"podSecurity": "privileged", "namespaces": ["*", *policy.PROTECTED_NAMESPACES]},
        {"resources": ["configmaps"]},
    ],
)
def test_no_probe_when_the_policy_refuses_no_namespace_write(grant):
    assert security.agent_policy_probe(grant) is None
    assert FilterModule().filters()["agent_policy_probe"](grant) is None


def test_the_policy_probe_filter_and_the_denial():
    probe = FilterModule().filters()["agent_policy_probe"](None, "site:agents")
    assert probe == {
        "object": security.agent_policy_probe(None),
        "user": "fornax-agent",
        "group": "site:agents",
        "denial": "ValidatingAdmissionPolicy 'fornax-agent-content'",
    }
    denied = (
        'namespaces "fornax-policy-probe" is forbidden: ValidatingAdmissionPolicy '
        "'fornax-agent-content' with binding 'fornax-agent-content' denied request: ..."
    )
    assert security.agent_policy_denied(403, denied)
    assert not security.agent_policy_denied(409, denied)
    assert not security.agent_policy_denied(403, 'namespaces is forbidden: User "x" cannot')
    assert not security.agent_policy_denied(201, "accepted")


def test_the_kubelet_client_identity_has_the_kubelet_api_only():
    identity = security.kubelet_client("/etc/kubernetes/pki/")
    assert identity["certificate"] == {
        "name": "apiserver-kubelet-client",
        "cn": "kube-apiserver-kubelet-client",
        "usage": ["clientAuth"],
    }
    assert "org" not in identity["certificate"]  # no group: never system:masters
    assert identity["args"] == [
        "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
        "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
        # the kubelets' serving certificates are verified: the cluster's CA, never skipped
        "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    ]
    [binding] = identity["manifests"]
    assert binding["kind"] == "ClusterRoleBinding"
    assert binding["roleRef"]["name"] == "system:kubelet-api-admin"
    assert binding["subjects"] == [
        {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "User",
            "name": identity["certificate"]["cn"],
        }
    ]
    filters = FilterModule().filters()
    assert filters["kubelet_client"]("/etc/kubernetes/pki") == identity
    with pytest.raises(
        AnsibleFilterError, match="kubelet_client pki_dir: 'pki' must be an absolute"
    ):
        filters["kubelet_client"]("pki")


def test_the_kubelet_serving_certificate_names_every_address_the_kubelet_reports():
    serving = security.kubelet_serving("edge-1", "198.18.0.21")
    assert serving == {
        "name": "kubelet-serving",
        "cn": "system:node:edge-1",
        "org": "system:nodes",
        "usage": ["serverAuth"],  # a serving certificate only: no client identity
        # InternalIP (the --node-ip value) and Hostname (the node name): KUBELET_ADDRESS_TYPES
        "sans": ["IP:198.18.0.21", "DNS:edge-1"],
        "node_ip": "198.18.0.21",
    }
    assert set(security.KUBELET_ADDRESS_TYPES) >= {"InternalIP", "Hostname"}
    # dual stack: one address per family, normalized; a node named by its address: one SAN
    dual = security.kubelet_serving("edge-2", " 198.18.0.22, 2001:DB8::0:22")
    assert dual["sans"] == ["IP:198.18.0.22", "IP:2001:db8::22", "DNS:edge-2"]
    assert dual["node_ip"] == "198.18.0.22,2001:db8::22"
    assert security.kubelet_serving("198.18.0.23", "198.18.0.23")["sans"] == ["IP:198.18.0.23"]
    assert security.kubelet_serving("198.18.0.24", "198.18.0.23")["sans"] == [
        "IP:198.18.0.23",
        "IP:198.18.0.24",
    ]


@pytest.mark.parametrize(
    ("name", "node_ip", "message"),
    [
        ("n", "", r"kubelet_node_ip: '' is empty and the host has no default IPv4 address"),
        ("n", None, r"kubelet_node_ip: None is empty"),
        (
            "n",
            "node-1.example",
            r"kubelet_node_ip: 'node-1.example': 'node-1.example' is not an IP",
        ),
        ("n", "127.0.0.1", r"kubelet_node_ip: '127.0.0.1': 127.0.0.1 is not an address other"),
        ("n", "0.0.0.0", r"kubelet_node_ip: '0.0.0.0': 0.0.0.0 is not an address other hosts"),
        (
            "n",
            "10.0.0.1,10.0.0.2",
            r"kubelet_node_ip: '10.0.0.1,10.0.0.2' must be one address, or one IPv4 and one IPv6",
        ),
        ("", "10.0.0.1", r"kubelet_node_name: '' must be a non-empty string"),
    ],
)
def test_a_kubelet_serving_certificate_for_an_unusable_address_is_refused(name, node_ip, message):
    with pytest.raises(security.SecurityError, match=message):
        security.kubelet_serving(name, node_ip)
    with pytest.raises(AnsibleFilterError, match=f"kubelet_serving {message}"):
        FilterModule().filters()["kubelet_serving"](name, node_ip)


def test_the_kubelet_serving_filter_is_the_function():
    filters = FilterModule().filters()
    assert filters["kubelet_serving"]("edge-1", "198.18.0.21") == security.kubelet_serving(
        "edge-1", "198.18.0.21"
    )


class FakeParent:
    """Just enough of a KubeClient for the horizon bookkeeping of child_link."""

    def __init__(self, data=None):
        self.data = data

    def get_or_none(self, _path):
        return None if self.data is None else {"data": dict(self.data)}

    def patch(self, _path, body):
        self.data = {**(self.data or {}), **body["data"]}


def test_the_link_horizon():
    parent = FakeParent()
    assert child_link.link_due(parent, "b", 300, now=1000) is None  # a new link
    first = child_link.ensure_token_bounds(parent, "b", 300, ["https://a"], now=1000)
    assert first["changed"] and first["after"] == {
        "audiences": "https://a",
        "horizon.child-b": "1970-01-01T00:21:40Z",
    }
    assert child_link.link_due(parent, "b", 300, now=1099) is False
    assert child_link.link_due(parent, "b", 300, now=1101) is True  # a third has passed
    again = child_link.ensure_token_bounds(parent, "b", 300, ["https://a"], now=1101)
    assert not again["changed"]  # due is the caller's to act on: it re-makes the link
    remade = child_link.ensure_token_bounds(parent, "b", 300, new_horizon=True, now=1101)
    assert remade["after"] == {"horizon.child-b": "1970-01-01T00:23:21Z"}
    with pytest.raises(child_link.LinkError, match="link_ttl: 0 must be a positive integer"):
        child_link.link_due(parent, "b", 0)
    with pytest.raises(child_link.LinkError, match="token_ttl: 86401 must be an integer"):
        child_link.check_token_ttl(86401)


def test_the_child_token_policy():
    config, vap, vapb = child_link.token_policy_objects()
    assert config["data"] == {"maxExpirationSeconds": str(security.MAX_TOKEN_SECONDS)}
    assert vapb["spec"]["paramRef"]["name"] == config["metadata"]["name"]
    assert vapb["spec"]["paramRef"]["parameterNotFoundAction"] == "Deny"
    assert vap["spec"]["matchConditions"][0]["expression"] == (
        "'system:serviceaccounts:fornax-system' in request.userInfo.groups"
    )
    assert len(vap["spec"]["validations"]) == 5

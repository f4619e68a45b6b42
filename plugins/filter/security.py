# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Filters giving the roles the hardening of module_utils/fornax (security.py, policy.py).

The control_plane, kubelet, hub and cascade roles write what these return, and the test
harness calls the same functions, so a rollout and the tests run the same settings. Each
filter is documented in the YAML file of its name next to this one.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import policy, security


def _grant(data: Any) -> policy.MissionPolicy:
    try:
        return policy.parse_policy(data, "fornax_mission_policy")
    except policy.PolicyError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def mission_policy(data: Any) -> dict:
    """The cluster's grant in its normal form (None or an omitted variable: the defaults)."""
    return _grant(data).to_dict()


def admission_configuration(data: Any) -> dict:
    """The API server's AdmissionConfiguration: Pod Security admission at the grant's level."""
    return policy.admission_configuration(_grant(data))


def agent_manifests(data: Any, group: str = "", extra_subjects: Any = None) -> list:
    """The agent's ClusterRole, binding and admission policy on its own cluster."""
    try:
        return security.agent_manifests(
            _grant(data), group or security.AGENT_GROUP, list(extra_subjects or [])
        )
    except security.SecurityError as exc:
        raise AnsibleFilterError(f"hub_agent_{exc}") from exc


def agent_policy_probe(data: Any, group: str = "") -> Any:
    """How to learn that the API server enforces the agent's admission policy: the Namespace to
    send as the agent (``user``, ``group``) in a server-side dry run, and the words its refusal
    carries (``denial``); None when the grant leaves the policy nothing to refuse a Namespace."""
    probe = security.agent_policy_probe(_grant(data))
    if probe is None:
        return None
    return {
        "object": probe,
        "user": security.AGENT_USER,
        "group": group or security.AGENT_GROUP,
        "denial": security.AGENT_POLICY_DENIAL,
    }


def apiserver_security_args(issuer: Any, admission_config_file: str, grant: Any = None) -> list:
    """The kube-apiserver security flags of every cluster of the tree."""
    try:
        return security.apiserver_security_args(issuer, admission_config_file, _grant(grant))
    except security.SecurityError as exc:
        raise AnsibleFilterError(f"fornax_api_endpoint as the {exc}") from exc


def kubelet_client(pki_dir: Any) -> dict:
    """The API server's identity towards the kubelets: certificate, flags, RBAC binding."""
    try:
        return security.kubelet_client(pki_dir)
    except security.SecurityError as exc:
        raise AnsibleFilterError(f"kubelet_client {exc}") from exc


def kubelet_serving(node_name: Any, node_ip: Any) -> dict:
    """The kubelet's serving certificate from the cluster's CA: name, subject, usage, SANs."""
    try:
        return security.kubelet_serving(node_name, node_ip)
    except security.SecurityError as exc:
        raise AnsibleFilterError(f"kubelet_serving {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {
            "mission_policy": mission_policy,
            "admission_configuration": admission_configuration,
            "agent_manifests": agent_manifests,
            "agent_policy_probe": agent_policy_probe,
            "apiserver_security_args": apiserver_security_args,
            "kubelet_client": kubelet_client,
            "kubelet_serving": kubelet_serving,
        }

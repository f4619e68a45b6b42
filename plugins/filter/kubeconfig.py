# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Kubeconfigs in roles, through the one reader and writer of module_utils/k8s/config.py.

``{{ name | centaurus.fornax.kubeconfig(server=..., ...) }}`` builds one (the context, cluster
and user all named ``name`` unless ``user`` is given); ``{{ config |
centaurus.fornax.kubeconfig_yaml }}`` writes it as YAML that kubectl reads back unchanged (a
cluster named ``101`` or ``n`` is quoted), after the reader's checks.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    KubeConfigError,
    kubeconfig_dict,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (
    kubeconfig_text,
)


def kubeconfig(
    name: str,
    server: str,
    *,
    certificate_authority: Optional[str] = None,
    client_certificate: Optional[str] = None,
    client_key: Optional[str] = None,
    user: Optional[str] = None,
    token: Optional[str] = None,
    namespace: Optional[str] = None,
) -> dict:
    """A kubeconfig dict for one cluster and one identity (certificates referenced by path)."""
    if not isinstance(name, str) or not name:
        raise AnsibleFilterError(f"kubeconfig: the name must be a non-empty string, got {name!r}")
    return kubeconfig_dict(  # plain types: see kubeconfig_yaml
        name,
        server,
        ca_file=certificate_authority,
        client_cert_file=client_certificate,
        client_key_file=client_key,
        user=user,
        token=token,
        namespace=namespace,
    )


def kubeconfig_yaml(config: Any) -> str:
    """The YAML text of a kubeconfig dict, checked by the reader first."""
    if not isinstance(config, dict):
        raise AnsibleFilterError(f"kubeconfig_yaml: expected a kubeconfig dict, got {config!r}")
    try:
        # Plain dicts, lists and strings (Ansible hands over its own subclasses of them).
        return kubeconfig_text(json.loads(json.dumps(config)))
    except KubeConfigError as exc:
        raise AnsibleFilterError(f"kubeconfig_yaml: {exc}") from exc


class FilterModule:
    def filters(self) -> dict:
        return {"kubeconfig": kubeconfig, "kubeconfig_yaml": kubeconfig_yaml}

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""What a fleet needs in its bundle, from the inventory's hosts and the roles' defaults.

bundle_build collects exactly this and bundle_verify checks a bundle against it, so the rule
lives here once.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle.manifest import BundleError
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import safe_load

# The host variables the plan reads (a host's own value wins over its role's default).
HOST_KEYS = (
    "control_plane_version",
    "control_plane_kwok",
    "control_plane_mode",
    "prerequisites_packages",
    "prerequisites_extra_packages",
    "containerd_packages",
    "containerd_images",
    "gateway_packages",
    "gateway_install_packages",
)
# The roles whose defaults hold them (roles/<role>/defaults/main.yml).
DEFAULT_ROLES = ("control_plane", "prerequisites", "containerd", "gateway")
# The binaries the control_plane role installs (its vars/main.yml __control_plane_components)
# and the ones a node runs (kubelet, kube-proxy: scripts/k8s-binaries.sh builds both).
CONTROL_PLANE_BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
)
NODE_BINARIES = ("kubelet", "kube-proxy", "kubectl")
CONTROL_PLANE, GATEWAY, EDGE_NODE = "control_plane", "gateway", "edge_node"
_TRUE = ("true", "yes", "on", "1")


def role_defaults(roles_dir: str) -> dict[str, Any]:
    """The HOST_KEYS that the roles' defaults set with plain (untemplated) values."""
    found = {}
    for role in DEFAULT_ROLES:
        path = os.path.join(roles_dir, role, "defaults", "main.yml")
        if not os.path.isfile(path):
            continue
        with open(path) as handle:
            data = safe_load(handle.read()) or {}
        for key in HOST_KEYS:
            if key in data and "{{" not in str(data[key]):
                found[key] = data[key]
    return found


def _value(host: dict[str, Any], defaults: dict[str, Any], key: str, fallback: Any) -> Any:
    value = host.get("vars", {}).get(key)
    return defaults.get(key, fallback) if value is None else value


def _version(hosts: list[dict[str, Any]], defaults: dict[str, Any]) -> Optional[str]:
    versions: dict[str, list[str]] = {}
    for host in hosts:
        if {CONTROL_PLANE, EDGE_NODE} & set(host.get("roles", [])):
            version = str(_value(host, defaults, "control_plane_version", ""))
            versions.setdefault(version, []).append(host["name"])
    versions.pop("", None)
    if len(versions) > 1:
        asked = ", ".join(f"{v} ({', '.join(sorted(h))})" for v, h in sorted(versions.items()))
        raise BundleError(
            f"one bundle holds one Kubernetes version; the inventory asks for {asked}"
        )
    return next(iter(versions), None)


def _host_needs(host: dict[str, Any], defaults: dict[str, Any], needs: dict[str, set]) -> None:
    roles = host.get("roles", [])

    def value(key: str, fallback: Any) -> Any:
        return _value(host, defaults, key, fallback)

    needs["packages"].update(
        value("prerequisites_packages", []) + value("prerequisites_extra_packages", [])
    )
    if CONTROL_PLANE in roles and value("control_plane_mode", "install") == "install":
        needs["binaries"].update(CONTROL_PLANE_BINARIES)
        if str(value("control_plane_kwok", False)).lower() in _TRUE:
            needs["binaries"].add("kwok")
    if EDGE_NODE in roles:
        needs["binaries"].update(NODE_BINARIES)
        needs["packages"].update(value("containerd_packages", []))
        needs["images"].update(i["archive"] for i in value("containerd_images", []))
    if GATEWAY in roles and str(value("gateway_install_packages", True)).lower() in _TRUE:
        needs["packages"].update(value("gateway_packages", []))


def fleet_needs(hosts: list[dict[str, Any]], defaults: dict[str, Any]) -> dict[str, Any]:
    """[{name, roles, vars}] -> kubernetes_version, binaries, packages, images, gateways."""
    needs: dict[str, set] = {"binaries": set(), "packages": set(), "images": set()}
    for host in hosts:
        _host_needs(host, defaults, needs)
    result: dict[str, Any] = {kind: sorted(names) for kind, names in needs.items()}
    result["kubernetes_version"] = _version(hosts, defaults)
    result["gateways"] = any(GATEWAY in h.get("roles", []) for h in hosts)
    return result

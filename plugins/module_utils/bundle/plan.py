# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""What a fleet needs in its bundle, from the inventory's hosts and the roles' defaults.

bundle_build collects exactly this and bundle_verify checks a bundle against it, so the rule
lives here once. Python 3.8-compatible.
"""

from __future__ import annotations

import os

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle.manifest import BundleError

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
CONTROL_PLANE_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
NODE_BINARIES = ("kubelet", "kube-proxy")
CONTROL_PLANE, GATEWAY, EDGE_NODE = "control_plane", "gateway", "edge_node"


def role_defaults(roles_dir):
    """The HOST_KEYS that the roles' defaults set with plain (untemplated) values."""
    found = {}
    for role in DEFAULT_ROLES:
        path = os.path.join(roles_dir, role, "defaults", "main.yml")
        if not os.path.isfile(path):
            continue
        with open(path) as handle:
            data = yaml.safe_load(handle) or {}
        for key in HOST_KEYS:
            if key in data and "{{" not in str(data[key]):
                found[key] = data[key]
    return found


def _host_value(host, defaults, key, fallback):
    value = host.get("vars", {}).get(key)
    if value is None:
        value = defaults.get(key, fallback)
    return value


def _version(hosts, defaults):
    versions = {}
    for host in hosts:
        if CONTROL_PLANE in host.get("roles", []) or EDGE_NODE in host.get("roles", []):
            versions.setdefault(str(_host_value(host, defaults, "control_plane_version", "")), []).append(
                host["name"]
            )
    versions.pop("", None)
    if len(versions) > 1:
        raise BundleError(
            "one bundle holds one Kubernetes version; the inventory asks for %s"
            % ", ".join("%s (%s)" % (v, ", ".join(sorted(h))) for v, h in sorted(versions.items()))
        )
    return next(iter(versions), None)


def _host_needs(host, defaults, binaries, packages, images):
    def value(key, fallback):
        return _host_value(host, defaults, key, fallback)

    roles = host.get("roles", [])
    packages.update(value("prerequisites_packages", []) + value("prerequisites_extra_packages", []))
    if CONTROL_PLANE in roles and value("control_plane_mode", "install") == "install":
        binaries.update(CONTROL_PLANE_BINARIES)
        if str(value("control_plane_kwok", False)).lower() in ("true", "yes", "1"):
            binaries.add("kwok")
    if EDGE_NODE in roles:
        binaries.update(NODE_BINARIES + ("kubectl",))
        packages.update(value("containerd_packages", []))
        images.update(i["archive"] for i in value("containerd_images", []))
    if GATEWAY in roles and str(value("gateway_install_packages", True)).lower() in ("true", "yes", "1"):
        packages.update(value("gateway_packages", []))


def fleet_needs(hosts, defaults):
    """hosts: [{name, roles, vars}] -> {kubernetes_version, binaries, packages, images, gateways}."""
    binaries, packages, images = set(), set(), set()
    for host in hosts:
        _host_needs(host, defaults, binaries, packages, images)
    return {
        "kubernetes_version": _version(hosts, defaults),
        "binaries": sorted(binaries),
        "packages": sorted(packages),
        "images": sorted(images),
        "gateways": any(GATEWAY in h.get("roles", []) for h in hosts),
    }

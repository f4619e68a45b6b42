# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Name rules: Kubernetes names and labels, host names, Ansible group names."""

from __future__ import annotations

import re
from typing import Optional

DNS1123_LABEL_MAX = 63
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS1123_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z"
)
_LABEL_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?\Z")
_HOST_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INTERFACE = re.compile(r"[-A-Za-z0-9_.@]{1,15}\Z")


def dns1123_label_problem(name: str) -> Optional[str]:
    """Why ``name`` is not a DNS-1123 label (a Kubernetes object name), or None."""
    if len(name) > DNS1123_LABEL_MAX:
        return f"{name!r} is longer than {DNS1123_LABEL_MAX} characters (DNS-1123 label)"
    if not _DNS1123_LABEL.match(name):
        return (
            f"{name!r} is not a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None


def label_problem(key: str, value: str) -> Optional[str]:
    """Why ``key: value`` is not a valid Kubernetes label, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return f"label key {key!r}: prefix {prefix!r} is not a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return f"label key {key!r} is not a valid label name"
    if len(value) > 63 or not _LABEL_NAME.match(value):
        return f"label {key!r}: value {value!r} is not a valid label value"
    return None


def host_name_problem(name: str) -> Optional[str]:
    if not _HOST_NAME.match(name):
        return f"host name {name!r} may hold only letters, digits, '-', '_' and '.'"
    return None


def variable_name_problem(name: str) -> Optional[str]:
    if not _VAR_NAME.match(name):
        return f"{name!r} is not a valid Ansible variable name"
    return None


def interface_problem(name: str) -> Optional[str]:
    if not _INTERFACE.match(name):
        return f"{name!r} is not a network interface name (1-15 of A-Z a-z 0-9 - _ . @)"
    return None


def group_safe(name: str) -> str:
    """A DNS-1123 label as part of an Ansible group name ('-' is not allowed there)."""
    return name.replace("-", "_")


def cluster_group(name: str) -> str:
    """The group holding the hosts of cluster ``name``."""
    return "cluster_" + name.replace("-", "_")


def subtree_group(name: str) -> str:
    """The group holding cluster ``name`` and every cluster below it."""
    return "subtree_" + name.replace("-", "_")


def tier_group(tier: int) -> str:
    return f"tier_{tier}"

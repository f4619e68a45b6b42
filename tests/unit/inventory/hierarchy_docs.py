"""Shared builders for the hierarchy inventory tests: a small valid tree to break in one place.

(A plain module rather than conftest.py: tests import its helpers by name.)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.errors import (
    HierarchyError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.load import (
    load_hierarchy,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "inventories" / "examples"

BASE: dict[str, Any] = {
    "plugin": "centaurus.fornax.hierarchy",
    "defaults": {"kubeDistro": "k8s", "hostVars": {"ansible_user": "debian"}},
    "clusters": [
        {
            "name": "root",
            "hosts": [
                {"name": "root-cp", "roles": ["control_plane"], "address": "198.18.0.10"},
                {"name": "root-gw", "roles": ["gateway"], "address": "198.18.0.2"},
            ],
            "gateway": {"wanAddress": "192.0.2.1", "lanInterface": "eth0"},
        },
        {
            "name": "east",
            "parent": "root",
            "hosts": [
                {"name": "east-cp", "roles": ["control_plane"], "address": "198.18.1.10"},
                {"name": "east-gw", "roles": ["gateway"], "address": "198.18.1.2"},
            ],
            "gateway": {"wanAddress": "192.0.2.2"},
        },
        {
            "name": "west",
            "parent": "root",
            "hosts": [{"name": "west-cp", "roles": ["control_plane"], "address": "198.18.2.10"}],
        },
    ],
    "vpcs": [
        {
            "name": "blue",
            "vni": 1001,
            "clusters": [
                {"cluster": "root", "subnets": ["10.200.0.0/24"]},
                {"cluster": "east", "subnets": ["10.200.1.0/24"], "vni": 2001},
            ],
        }
    ],
}


def base_document() -> dict[str, Any]:
    """A fresh copy of the valid base document, free to modify."""
    return copy.deepcopy(BASE)


def cluster(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in document["clusters"] if item["name"] == name)


def error_of(document: Any) -> str:
    """The HierarchyError message for ``document``; fails the test when it loads fine."""
    with pytest.raises(HierarchyError) as caught:
        load_hierarchy(document, source="fornax.yml")
    return str(caught.value)

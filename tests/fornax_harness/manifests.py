"""Manifests the tests and benchmarks put into Missions."""

from __future__ import annotations

from typing import Any

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names


def deployment(name: str, replicas: int = 2) -> str:
    """YAML of a small Deployment in namespace default (its pods run on kwok nodes)."""
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
                },
            },
        }
    )


def mission(name: str, resource: str | None = None, **spec: Any) -> dict[str, Any]:
    """A Mission object; ``resource`` becomes spec.missionresource."""
    if resource is not None:
        spec["missionresource"] = resource
    return {
        "apiVersion": names.API_VERSION,
        "kind": "Mission",
        "metadata": {"name": name},
        "spec": spec,
    }

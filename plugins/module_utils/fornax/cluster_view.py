# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""EdgeClusters as operators read them: health, heartbeat age, the subtree as a tree."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from .names import HEALTH_STATES as HEALTH


def parse_time(value: Any) -> Optional[datetime.datetime]:
    """An RFC 3339 time of the API server (``...Z``) as an aware datetime; None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)  # noqa: UP017


def heartbeat_age(value: Any, now: Optional[datetime.datetime] = None) -> Optional[float]:
    beat = parse_time(value)
    if beat is None:
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 - Python 3.8 targets
    return round(max(0.0, (now - beat).total_seconds()), 1)


def cluster_entry(ec: Mapping[str, Any], now: Optional[datetime.datetime] = None) -> dict:
    """One EdgeCluster, flattened for a playbook."""
    meta = ec.get("metadata") or {}
    spec = ec.get("spec") or {}
    status = ec.get("status") or {}
    return {
        "name": meta.get("name"),
        "labels": dict(meta.get("labels") or {}),
        "kube_distro": spec.get("kubeDistro"),
        "kubeconfig": spec.get("kubeconfig"),
        "health": status.get("healthStatus") or "unknown",
        "last_heartbeat": status.get("lastHeartbeat"),
        "heartbeat_age_seconds": heartbeat_age(status.get("lastHeartbeat"), now),
        "sub_clusters": dict(status.get("subEdgeClusterStates") or {}),
        "received_missions": list(status.get("receivedMissions") or []),
        "active_missions": list(status.get("activeMissions") or []),
        "nodes": list(status.get("nodes") or []),
        "edge_nodes": list(status.get("edgeNodes") or []),
        "agent_version": status.get("agentVersion"),
        "message": status.get("message"),
    }


def cluster_tree(entries: Iterable[Mapping[str, Any]]) -> dict:
    """name -> {health, heartbeat_age_seconds, children: {name -> {health, children}}}."""
    tree: dict = {}
    for entry in entries:
        node = {
            "health": entry["health"],
            "heartbeat_age_seconds": entry["heartbeat_age_seconds"],
            "children": {},
        }
        tree[entry["name"]] = node
        for path in sorted(entry["sub_clusters"], key=lambda p: (p.count("/"), p)):
            parent = node
            for part in path.split("/"):
                parent = parent["children"].setdefault(part, {"health": None, "children": {}})
            parent["health"] = entry["sub_clusters"][path]
    return tree


def health_counts(entries: Iterable[Mapping[str, Any]]) -> dict:
    """How many clusters of the whole known tree are in each health state."""
    counts = {state: 0 for state in (*HEALTH, "unknown")}
    for entry in entries:
        for health in [entry["health"], *entry["sub_clusters"].values()]:
            key = health if health in counts else "unknown"
            counts[key] += 1
    counts["clusters"] = sum(counts.values())
    return counts

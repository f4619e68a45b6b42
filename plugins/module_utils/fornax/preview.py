# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The known tree of clusters below one cluster, and where a placement would run a Mission.

The cluster a playbook talks to sees its children as EdgeClusters (labels and distro known) and
deeper clusters only as paths in ``status.subEdgeClusterStates`` of each child (their labels are
not visible). The preview decides what it can with the one placement rule (placement.py) and
says "unknown" where a decision needs labels it cannot see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Optional

from .placement import (
    EDGECLUSTER_ROLE_LABEL,
    HOSTNAME_LABEL,
    placement_is_empty,
    placement_matches,
    placement_names,
)
from .states import NOT_MATCH, join_path

RUN = "run"
UNKNOWN = "unknown (labels not visible from here)"


def known_clusters(edgeclusters: Iterable[Mapping[str, Any]]) -> list:
    """Every cluster below this one as {path, name, depth, labels, distro, health}, by path.

    ``labels`` and ``distro`` are None for clusters deeper than the direct children.
    """
    found = []
    for ec in edgeclusters:
        meta = ec.get("metadata") or {}
        name = meta.get("name") or ""
        status = ec.get("status") or {}
        found.append(
            {
                "path": name,
                "name": name,
                "depth": 1,
                "labels": dict(meta.get("labels") or {}),
                "distro": (ec.get("spec") or {}).get("kubeDistro") or "k8s",
                "health": status.get("healthStatus") or "unknown",
            }
        )
        for sub, health in sorted((status.get("subEdgeClusterStates") or {}).items()):
            path = join_path(name, sub)
            found.append(
                {
                    "path": path,
                    "name": path.rsplit("/", 1)[-1],
                    "depth": path.count("/") + 1,
                    "labels": None,
                    "distro": None,
                    "health": health,
                }
            )
    return sorted(found, key=lambda c: c["path"])


def decide(placement: Optional[Mapping[str, Any]], cluster: Mapping[str, Any]) -> str:
    """RUN, NOT_MATCH or UNKNOWN for one known cluster."""
    name = cluster["name"]
    if cluster.get("labels") is not None:
        matched = placement_matches(
            placement, name, cluster["labels"], cluster.get("distro") or "k8s"
        )
        return RUN if matched else NOT_MATCH
    # A deeper cluster: its name and the built-in name/role labels are known, nothing else.
    if placement_is_empty(placement):
        return RUN
    wanted = dict((placement or {}).get("matchlabels") or {})
    visible = {k: v for k, v in wanted.items() if k in (HOSTNAME_LABEL, EDGECLUSTER_ROLE_LABEL)}
    reduced = {"clusters": (placement or {}).get("clusters") or [], "matchlabels": visible}
    if not placement_is_empty(reduced) and placement_matches(reduced, name, {}):
        return RUN
    return UNKNOWN if len(visible) < len(wanted) else NOT_MATCH


def preview(placement: Optional[Mapping[str, Any]], clusters: Iterable[Mapping[str, Any]]) -> dict:
    """Where the placement would run, over the known clusters, plus names it does not know."""
    clusters = list(clusters)
    decisions = {c["path"]: decide(placement, c) for c in clusters}
    known_names = {c["name"] for c in clusters}
    return {
        "run": [p for p, d in decisions.items() if d == RUN],
        "not_match": [p for p, d in decisions.items() if d == NOT_MATCH],
        "unknown": [p for p, d in decisions.items() if d == UNKNOWN],
        "clusters": {
            c["path"]: {"decision": decisions[c["path"]], "health": c["health"]} for c in clusters
        },
        "unknown_names": [n for n in placement_names(placement) if n not in known_names],
    }


def unknown_name_warnings(placement: Optional[Mapping[str, Any]], result: Mapping) -> list:
    """One warning per placement name that is not a known cluster, naming its field."""
    names = placement_names(placement)
    warnings = []
    for name in result.get("unknown_names") or []:
        index = names.index(name)
        warnings.append(
            f"spec.placement.clusters[{index}].name: {name!r} is not a cluster known here "
            "(not registered yet, or a typo); the Mission runs there once it registers"
        )
    return warnings

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Status roll-up between the layers of the tree, with a bound on its size.

Upward, each child composes one report for its parent: for every Mission, its own state under
its own name plus its subtree's states under ``<name>/...``. Paths beyond ``max_paths`` are
folded: whole subtrees become counts under ``subtreeSummaries`` (largest subtrees first), so a
Mission's status stays bounded at any fleet size while small trees keep every path.

At the parent, ``fold`` merges the reports of all children into one Mission status, trusting a
report only for paths under that child's name, and marking silent children unreachable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from .states import PENDING, UNREACHABLE, join_path, prefixed, summarize, under

DEFAULT_MAX_PATHS = 100
FOLDED_COUNTS = ("clusters", "matched", "ready", "failed", "unreachable")


def _subtree_root(path: str, depth: int) -> str:
    return "/".join(path.split("/")[:depth])


def bound(
    states: Mapping[str, str],
    summaries: Mapping[str, Mapping[str, int]],
    max_paths: int,
    keep: Optional[str] = None,
) -> tuple[dict, dict]:
    """Fold subtrees into counts until at most ``max_paths`` per-path entries remain.

    Subtrees are folded at the shallowest level below ``keep`` first (e.g. b/c before b/c/d),
    the largest first; ``keep`` itself (the reporting cluster's own path) is never folded.
    """
    states = dict(states)
    summaries = {k: dict(v) for k, v in summaries.items()}
    depth = (keep.count("/") + 2) if keep else 1
    while len(states) > max_paths:
        roots: dict[str, int] = {}
        for path in states:
            if path != keep and path.count("/") + 1 >= depth:
                root = _subtree_root(path, depth)
                roots[root] = roots.get(root, 0) + 1
        if not roots:
            depth += 1
            if depth > 64:
                break
            continue
        root = max(roots, key=lambda r: (roots[r], r))
        folded = {p: s for p, s in states.items() if under(root, p)}
        inner = [v for k, v in summaries.items() if under(root, k)]
        counts = summarize(folded, inner)
        for path in folded:
            del states[path]
        for key in [k for k in summaries if under(root, k)]:
            del summaries[key]
        summaries[root] = {
            k: counts[k] for k in ("clusters", "matched", "ready", "failed", "unreachable")
        }
    return states, summaries


def compose_report(
    cluster: str,
    own_states: Mapping[str, str],
    local_status: Mapping[str, Mapping[str, Any]],
    generations: Mapping[str, int],
    max_paths: int = DEFAULT_MAX_PATHS,
) -> dict:
    """The ``spec.missions`` of this cluster's ClusterReport on its parent.

    ``own_states``: Mission -> this cluster's own state; ``local_status``: Mission -> status of
    the local copy (its subtree, keyed relative to this cluster); ``generations``: Mission -> the
    parent generation this cluster and its whole subtree have acted on (see ``caught_up``).
    """
    missions = {}
    for name in sorted(set(own_states) | set(local_status)):
        status = local_status.get(name) or {}
        states = {cluster: own_states.get(name, PENDING)}
        states.update(prefixed(cluster, status.get("states") or {}))
        summaries = {
            join_path(cluster, path): counts
            for path, counts in (status.get("subtreeSummaries") or {}).items()
        }
        states, summaries = bound(states, summaries, max_paths, keep=cluster)
        entry: dict[str, Any] = {"states": states}
        if summaries:
            entry["subtreeSummaries"] = summaries
        if name in generations:
            entry["generation"] = int(generations[name])
        missions[name] = entry
    return missions


def caught_up(
    parent_generation: int, local_generation: int, executed: Optional[int], observed: Optional[int]
) -> int:
    """The parent generation to report: the current one once this cluster executed its copy's
    generation and its subtree observed it; one less while either lags."""
    current = executed == local_generation and (observed or 0) >= local_generation
    return parent_generation if current else parent_generation - 1


def fold(
    mission: str,
    children: Mapping[str, Mapping[str, Any]],
    max_paths: int = DEFAULT_MAX_PATHS,
    generation: int = 0,
) -> dict:
    """The status of Mission ``mission`` (at its ``generation``) at a parent, from its children.

    ``children``: child name -> {"connected": bool, "missions": spec.missions of its report}.
    A connected child that has not reported the Mission yet shows ``pending``; a disconnected
    child shows ``cluster unreachable`` and nothing below it. ``observedGeneration`` is the
    generation every connected child's whole subtree has acted on: while one lags, it stays
    behind ``generation``, so a wait cannot be satisfied by the previous generation's states.
    """
    states: dict[str, str] = {}
    summaries: dict[str, dict] = {}
    observed = generation
    for child, view in sorted(children.items()):
        if not view.get("connected", True):
            states[child] = UNREACHABLE
            continue
        entry = (view.get("missions") or {}).get(mission)
        if entry is None:
            states[child] = PENDING
            observed = min(observed, generation - 1)
            continue
        observed = min(observed, int(entry.get("generation", generation - 1)))
        for path, state in (entry.get("states") or {}).items():
            if under(child, path):
                states[path] = state
        for path, counts in (entry.get("subtreeSummaries") or {}).items():
            if under(child, path) and path != child:
                summaries[path] = dict(counts)
        states.setdefault(child, PENDING)
    states, summaries = bound(states, summaries, max_paths)
    status: dict[str, Any] = {
        "states": states,
        "summary": summarize(states, summaries.values()),
        "observedGeneration": max(observed, 0),
    }
    status["subtreeSummaries"] = summaries
    return status

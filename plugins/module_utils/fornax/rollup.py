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


OTHERS = "*"  # the path segment of the bucket that holds the smallest folded subtrees


def _subtree_root(path: str, depth: int) -> str:
    return "/".join(path.split("/")[:depth])


def _folded(counts: Mapping[str, int]) -> dict:
    return {k: int(counts.get(k, 0)) for k in FOLDED_COUNTS}


def _add_counts(total: dict, counts: Mapping[str, int]) -> None:
    for key in FOLDED_COUNTS:
        total[key] = total.get(key, 0) + int(counts.get(key, 0))


def bound(
    states: Mapping[str, str],
    summaries: Mapping[str, Mapping[str, int]],
    max_paths: int,
    keep: Optional[str] = None,
) -> tuple[dict, dict]:
    """Fold subtrees into counts until at most ``max_paths`` per-path entries remain.

    Subtrees are folded at the shallowest level below ``keep`` (e.g. b/c before b/c/d), the
    largest first; ``keep`` itself (the reporting cluster's own path) is never folded. The
    summaries are bounded too: past ``max_paths`` of them, the smallest are merged into one
    bucket ``<keep>/*`` (``*`` at the top), so the whole status stays bounded at any fan-out.
    Linear in the number of paths, plus sorting the subtrees of one level.
    """
    states = dict(states)
    summaries = {k: _folded(v) for k, v in summaries.items()}
    depth = (keep.count("/") + 2) if keep else 1
    if len(states) > max_paths:
        # Every path at ``depth`` or deeper belongs to exactly one subtree rooted at ``depth``;
        # folding one subtree leaves the others' sizes unchanged, so one sort gives the order.
        members: dict[str, list[str]] = {}
        for path in states:
            if path != keep and path.count("/") + 1 >= depth:
                members.setdefault(_subtree_root(path, depth), []).append(path)
        inner: dict[str, list[str]] = {}
        for key in summaries:
            if key.count("/") + 1 >= depth:
                inner.setdefault(_subtree_root(key, depth), []).append(key)
        for root in sorted(members, key=lambda r: (len(members[r]), r), reverse=True):
            if len(states) <= max_paths:
                break
            folded = {p: states.pop(p) for p in members[root]}
            counts = summarize(folded, [summaries.pop(k) for k in inner.get(root, [])])
            summaries[root] = _folded(counts)
    return states, _bound_summaries(summaries, max_paths, keep)


def _bound_summaries(summaries: dict, max_paths: int, keep: Optional[str]) -> dict:
    """At most ``max_paths`` summaries: the smallest merge into the ``*`` bucket."""
    if len(summaries) <= max_paths:
        return summaries
    bucket = join_path(keep or "", OTHERS)
    merged = _folded(summaries.pop(bucket, {}))
    by_size = sorted(summaries, key=lambda k: (summaries[k]["clusters"], k), reverse=True)
    for key in by_size[max_paths - 1 :]:
        _add_counts(merged, summaries.pop(key))
    summaries[bucket] = merged
    return summaries


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
    return ReportComposer(cluster, max_paths).compose(own_states, local_status, generations)


def _report_entry(
    cluster: str,
    own_state: str,
    status: Mapping[str, Any],
    generation: Optional[int],
    max_paths: int,
) -> dict:
    states = {cluster: own_state}
    states.update(prefixed(cluster, status.get("states") or {}))
    summaries = {
        join_path(cluster, path): counts
        for path, counts in (status.get("subtreeSummaries") or {}).items()
    }
    states, summaries = bound(states, summaries, max_paths, keep=cluster)
    entry: dict[str, Any] = {"states": states}
    if summaries:
        entry["subtreeSummaries"] = summaries
    if generation is not None:
        entry["generation"] = int(generation)
    return entry


class ReportComposer:
    """``compose_report`` for a cluster that reports again and again: a Mission's entry is
    recomputed only when its own state, generation or local status changed (the status is
    compared by identity first: informers replace changed objects rather than edit them), so a
    report of a thousand Missions where one changed costs one entry, not a thousand.
    """

    def __init__(self, cluster: str, max_paths: int = DEFAULT_MAX_PATHS) -> None:
        self.cluster = cluster
        self.max_paths = max_paths
        self._cache: dict[str, tuple[str, Optional[int], Mapping[str, Any], dict]] = {}

    def compose(
        self,
        own_states: Mapping[str, str],
        local_status: Mapping[str, Mapping[str, Any]],
        generations: Mapping[str, int],
    ) -> dict:
        missions = {}
        cache = {}
        for name in sorted(set(own_states) | set(local_status)):
            own = own_states.get(name, PENDING)
            status = local_status.get(name) or {}
            generation = generations.get(name)
            known = self._cache.get(name)
            if (
                known is not None
                and known[0] == own
                and known[1] == generation
                and (known[2] is status or known[2] == status)
            ):
                entry = known[3]
            else:
                entry = _report_entry(self.cluster, own, status, generation, self.max_paths)
            cache[name] = (own, generation, status, entry)
            missions[name] = entry
        self._cache = cache
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

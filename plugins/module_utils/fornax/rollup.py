# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Status roll-up between the layers of the tree, with a bound on its size.

Upward, each child composes one report for its parent: for every Mission, its own state under
its own name plus its subtree's states under ``<name>/...``. Paths beyond ``max_paths`` are
folded: whole subtrees become counts under ``subtreeSummaries`` (largest subtrees first), so a
Mission's status stays bounded at any fleet size while small trees keep every path.

At the parent, ``fold`` merges the reports of all children into one Mission status and marks
silent children unreachable. Children are not trusted: whatever a child's entry for a Mission
holds goes through ``clamp_entry`` first, the one place that decides what a parent keeps of it
(paths under the child's own name, valid and within the limits of limits.py; states cut to
length; counts made non-negative, consistent and bounded by what the child may claim). A lie
can change what a child says about its own subtree, never a sibling's entries, the counts of
the rest of the tree, or the size of the parent's status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Optional

from .limits import MAX_CLUSTERS, MAX_PATHS, MAX_REPORT_GROUPS, OTHERS
from .states import (
    CLUSTERS,
    FOLDED_COUNTS,
    MATCHED,
    NOT_MATCHED,
    PENDING,
    UNREACHABLE,
    UNREACHABLE_CLASS,
    clamp_counts,
    clamp_state,
    join_path,
    path_problem,
    prefixed,
    summarize,
)

DEFAULT_MAX_PATHS = 100
log = logging.getLogger(__name__)


def _subtree_root(path: str, depth: int) -> str:
    return "/".join(path.split("/")[:depth])


def _folded(counts: Mapping[str, int]) -> dict:
    return clamp_counts(counts)


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
    by_size = sorted(summaries, key=lambda k: (summaries[k][CLUSTERS], k), reverse=True)
    for key in by_size[max_paths - 1 :]:
        _add_counts(merged, summaries.pop(key))
    summaries[bucket] = clamp_counts(merged)
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
    # What the parent would drop is not sent (and an honest report always passes admission).
    clean, _dropped = clamp_entry(cluster, {"states": states, "subtreeSummaries": summaries})
    states = clean["states"]
    states.setdefault(cluster, PENDING)
    states, summaries = bound(states, clean.get("subtreeSummaries") or {}, max_paths, keep=cluster)
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
        self.max_paths = min(max_paths, MAX_PATHS)  # a parent keeps no more
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


# -- a report shard on the wire: entries alike go as one group ----------------------------------

_ENTRY_KEYS = frozenset(("states", "subtreeSummaries", "generation"))


def _content_key(entry: Mapping[str, Any]) -> Any:
    """What makes two entries alike (all but the generation), hashable."""
    states = tuple(sorted((entry.get("states") or {}).items()))
    summaries = entry.get("subtreeSummaries") or {}
    return states, tuple(sorted((k, tuple(sorted(v.items()))) for k, v in summaries.items()))


def _groupable(entry: Any) -> bool:
    if not isinstance(entry, Mapping) or not set(entry) <= _ENTRY_KEYS:
        return False
    generation = entry.get("generation")
    return isinstance(generation, int) and not isinstance(generation, bool) and generation >= 0


def group_entries(missions: Mapping[str, Any]) -> tuple:
    """(groups, rest): a shard's entries (Mission -> entry, as ``compose_report`` makes them)
    as ``spec.groups`` and ``spec.missions`` of its ClusterReport.

    Missions whose entries differ only in their generation form one group, ``{"states",
    "subtreeSummaries", "missions": {Mission: generation}}``, in the order of their first
    Mission; at most MAX_REPORT_GROUPS groups. An entry without a generation, or alike none of
    the groups when there are that many, goes one by one in ``rest``.
    """
    groups: list = []
    rest: dict = {}
    index: dict = {}
    for name, entry in missions.items():
        if not _groupable(entry):
            rest[name] = entry
            continue
        key = _content_key(entry)
        at = index.get(key)
        if at is None:
            if len(groups) >= MAX_REPORT_GROUPS:
                rest[name] = entry
                continue
            at = index[key] = len(groups)
            group: dict = {"states": entry.get("states") or {}, "missions": {}}
            if entry.get("subtreeSummaries"):
                group["subtreeSummaries"] = entry["subtreeSummaries"]
            groups.append(group)
        groups[at]["missions"][name] = entry["generation"]
    return groups, rest


def report_entries(child: str, report: str, spec: Mapping[str, Any]) -> dict:
    """Mission -> entry of ClusterReport ``report`` of ``child`` (its ``spec``): the entries of
    ``spec.missions``, then those of each of ``spec.groups`` (the group's states and summaries,
    the Mission's generation). Entries are not checked here (``keep_entry`` does that); a group
    that is not a mapping with a mapping of Missions, a group past MAX_REPORT_GROUPS and a
    Mission named a second time are ignored, and logged once. Entries of one group and
    generation are one object: keep them shared, never edit one in place.
    """
    found = _Findings(child)
    raw = spec.get("missions")
    entries = dict(raw) if isinstance(raw, Mapping) else {}
    if raw is not None and not isinstance(raw, Mapping):
        found.add(f"missions: {_shown(raw)} is not a mapping: ignored")
    groups = spec.get("groups")
    if groups is not None and not isinstance(groups, list):
        found.add(f"groups: {_shown(groups)} is not a list: ignored")
        groups = []
    for i, group in enumerate(groups or []):
        if i >= MAX_REPORT_GROUPS:
            found.add(f"groups: more than {MAX_REPORT_GROUPS}: the rest ignored", len(groups) - i)
            break
        _expand_group(i, group, entries, found)
    lines = found.result()
    if lines:
        _report(None, [f"report {report}: {line}" for line in lines])
    return entries


def _expand_group(i: int, group: Any, entries: dict, found: _Findings) -> None:
    members = group.get("missions") if isinstance(group, Mapping) else None
    if not isinstance(members, Mapping):
        found.add(f"groups[{i}]: {_shown(group)} holds no mapping of Missions: ignored")
        return
    shared = {k: group[k] for k in ("states", "subtreeSummaries") if k in group}
    made: dict = {}  # generation -> the entry of this group at that generation
    for name, generation in members.items():
        if name in entries:
            found.add(f"groups[{i}]: Mission {_shown(name)} named twice: the first kept")
            continue
        hashable = isinstance(generation, int) and not isinstance(generation, bool)
        entry = made.get(generation) if hashable else None
        if entry is None:
            entry = {**shared, "generation": generation}
            if hashable:
                made[generation] = entry
        entries[name] = entry


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
    problems: Optional[list] = None,
) -> dict:
    """The status of Mission ``mission`` (at its ``generation``) at a parent, from its children.

    ``children``: child name -> {"connected": bool, "missions": spec.missions of its report},
    or, from a caller that keeps its children's entries as they arrive, {"connected": bool,
    "kept": {mission: what ``keep_entry`` returned}} (its problems were told then).
    A connected child that has not reported the Mission yet shows ``pending``; a disconnected
    child shows ``cluster unreachable`` and nothing below it. ``observedGeneration`` is the
    generation every connected child's whole subtree has acted on: while one lags, it stays
    behind ``generation``, so a wait cannot be satisfied by the previous generation's states.

    Each child's raw entry goes through ``clamp_entry``; what it dropped or changed is appended
    to ``problems`` (one line each), or logged once per distinct line when ``problems`` is None.
    """
    max_paths = min(max_paths, MAX_PATHS)
    states: dict[str, str] = {}
    summaries: dict[str, dict] = {}
    observed = generation
    for child, view in sorted(children.items()):
        if not view.get("connected", True):
            states[child] = UNREACHABLE
            continue
        entry = _entry_of(child, mission, view, problems)
        if entry is None:
            states[child] = PENDING
            observed = min(observed, generation - 1)
            continue
        observed = min(observed, entry.get("generation", generation - 1))
        states.update(entry["states"])
        summaries.update(entry.get("subtreeSummaries") or {})
        states.setdefault(child, PENDING)
    states, summaries = bound(states, summaries, max_paths)
    status: dict[str, Any] = {
        "states": states,
        "summary": _summary(states, summaries),
        "observedGeneration": max(observed, 0),
    }
    status["subtreeSummaries"] = summaries
    return status


def _entry_of(child: str, mission: str, view: Mapping[str, Any], problems: Optional[list]) -> Any:
    """What ``fold`` takes of ``child``'s entry for ``mission`` (None: not reported)."""
    if "kept" in view:
        return (view.get("kept") or {}).get(mission)
    raw = (view.get("missions") or {}).get(mission)
    if raw is None:
        return None
    entry, found = clamp_entry(child, raw)
    if found:
        _report(problems, [f"Mission {mission}: {line}" for line in found])
    return entry


def keep_entry(child: str, mission: str, raw: Any) -> Optional[dict]:
    """What a parent keeps of ``child``'s entry for ``mission`` (``clamp_entry``), taken once
    when the entry arrives and handed to ``fold`` as ``kept``; what was dropped is logged once.

    An honest entry (clamping changes nothing) is returned as itself, not as a copy, so keeping
    every child's entries costs no memory beyond the entries themselves, at any fan-out. The
    entry is then shared: replace a changed entry, never edit one in place.
    """
    entry, found = clamp_entry(child, raw)
    if found:
        _report(None, [f"Mission {mission}: {line}" for line in found])
    elif entry == raw:
        return raw
    return entry


def _summary(states: Mapping[str, str], summaries: Mapping[str, Mapping[str, int]]) -> dict:
    """The counts over everything, within MAX_CLUSTERS even if children claimed more."""
    counts = summarize(states, summaries.values())
    if counts[CLUSTERS] <= MAX_CLUSTERS:
        return counts
    counts = clamp_counts(counts)
    counts[NOT_MATCHED] = counts[CLUSTERS] - counts[MATCHED] - counts[UNREACHABLE_CLASS]
    return counts


# -- what a parent keeps of a child's report ---------------------------------------------------

_MAX_DETAILS = 5  # problems listed one by one per entry; the rest are counted


class _Findings:
    """What clamping one entry dropped or changed: the first few in full, the rest counted."""

    def __init__(self, child: str) -> None:
        self.child = child
        self.lines: list[str] = []
        self.more = 0

    def add(self, line: str, count: int = 1) -> None:
        if len(self.lines) < _MAX_DETAILS:
            self.lines.append(f"child {self.child}: {line}")
            count -= 1
        self.more += count

    def result(self) -> list:
        if self.more:
            return [*self.lines, f"child {self.child}: ... and {self.more} more"]
        return self.lines


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def clamp_entry(child: str, entry: Any) -> tuple:
    """(what a parent keeps of ``child``'s report entry for one Mission, what it dropped).

    The first is None when ``entry`` is not a mapping (the child counts as not having reported
    the Mission); otherwise ``{"states", "subtreeSummaries", "generation"}`` (the last two only
    when there is something to keep), where:

    - every path lies under ``child`` and is a valid state path (states.path_problem);
    - every state is a string, cut to MAX_STATE_LENGTH (states.clamp_state);
    - at most MAX_PATHS states and MAX_PATHS summaries (the child's own path always kept);
    - a summary stands for a whole subtree: one at the child itself, one inside another, or one
      whose subtree holds a reported state would count clusters twice, and is dropped;
    - counts go through states.clamp_counts, and all of them together claim at most
      MAX_CLUSTERS clusters, the size of the largest tree, states included;
    - ``generation`` is kept only when it is an integer >= 0.

    The second is a list of lines naming the child and what was dropped or changed. The child's
    agent applies the same function to its own report before sending it, so an honest report is
    kept whole (and within the limits the CRDs enforce).
    """
    found = _Findings(child)
    if not isinstance(entry, Mapping):
        found.add(f"its entry is {_shown(entry)}, not a mapping: ignored")
        return None, found.result()
    states = _kept_states(child, entry.get("states"), found)
    kept: dict[str, Any] = {"states": states}
    summaries = _kept_summaries(child, entry.get("subtreeSummaries"), states, found)
    if summaries:
        kept["subtreeSummaries"] = summaries
    generation = entry.get("generation")
    if isinstance(generation, int) and not isinstance(generation, bool) and generation >= 0:
        kept["generation"] = generation
    elif generation is not None:
        found.add(f"generation {_shown(generation)} is not an integer >= 0: ignored")
    return kept, found.result()


def _kept_states(child: str, raw: Any, found: _Findings) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        found.add(f"states: {_shown(raw)} is not a mapping: ignored")
        return {}
    kept: dict[str, str] = {}
    prefix = child + "/"
    own = raw.get(child)
    if own is not None:
        _keep_state(kept, child, own, found)
    for seen, (path, state) in enumerate(raw.items()):
        if len(kept) >= MAX_PATHS:
            found.add(f"states: more than {MAX_PATHS} paths: the rest dropped", len(raw) - seen)
            break
        if path == child:
            continue
        if not isinstance(path, str) or not path.startswith(prefix):
            found.add(f"states[{_shown(path)}]: not under {child}/: dropped")
            continue
        reason = path_problem(path)
        if reason:
            found.add(f"states: {reason}: dropped")
            continue
        _keep_state(kept, path, state, found)
    return kept


def _keep_state(kept: dict, path: str, state: Any, found: _Findings) -> None:
    clean = clamp_state(state)
    if clean is None:
        found.add(f"states[{path!r}]: {_shown(state)} is not a string: dropped")
        return
    if clean != state:
        found.add(f"states[{path!r}]: a state of {len(state)} characters, cut or cleaned")
    kept[path] = clean


def _ancestors(path: str) -> list:
    """``path`` and the paths above it: 'b/c/d' -> ['b/c/d', 'b/c', 'b']."""
    found = [path]
    cut = path.rfind("/")
    while cut > 0:
        path = path[:cut]
        found.append(path)
        cut = path.rfind("/")
    return found


def _kept_summaries(child: str, raw: Any, states: Mapping[str, str], found: _Findings) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        found.add(f"subtreeSummaries: {_shown(raw)} is not a mapping: ignored")
        return {}
    prefix = child + "/"
    candidates: dict[str, Any] = {}
    for seen, (path, counts) in enumerate(raw.items()):
        if len(candidates) >= MAX_PATHS:
            found.add(
                f"subtreeSummaries: more than {MAX_PATHS} paths: the rest dropped",
                len(raw) - seen,
            )
            break
        if not isinstance(path, str) or not path.startswith(prefix):
            found.add(f"subtreeSummaries[{_shown(path)}]: not below {child}/: dropped")
            continue
        reason = path_problem(path, summary=True)
        if reason:
            found.add(f"subtreeSummaries: {reason}: dropped")
            continue
        candidates[path] = counts
    if not candidates:
        return {}
    overlapping = {a for path in states for a in _ancestors(path) if a in candidates}
    overlapping.update(
        path for path in candidates if any(a in candidates for a in _ancestors(path)[1:])
    )
    for path in sorted(overlapping):
        found.add(f"subtreeSummaries[{path!r}]: overlaps other reported paths: dropped")
    budget = MAX_CLUSTERS - len(states)
    kept = {}
    for path in sorted(candidates):
        if path in overlapping:
            continue
        counts = candidates[path]
        clean = clamp_counts(counts, budget)
        budget -= clean[CLUSTERS]
        if not isinstance(counts, Mapping) or any(
            clean[key] != counts.get(key, 0) for key in FOLDED_COUNTS
        ):
            found.add(f"subtreeSummaries[{path!r}]: {_shown(counts)} clamped to {clean}")
        kept[path] = clean
    return kept


# Problems already logged (when fold has no list to give them to): each is logged once.
_LOGGED: dict = {}
_LOGGED_MAX = 4096


def _report(problems: Optional[list], lines: list) -> None:
    if problems is not None:
        problems.extend(lines)
        return
    for line in lines:
        if line in _LOGGED:
            continue
        if len(_LOGGED) >= _LOGGED_MAX:
            del _LOGGED[next(iter(_LOGGED))]
        _LOGGED[line] = None
        log.warning("report not taken as it is: %s", line)

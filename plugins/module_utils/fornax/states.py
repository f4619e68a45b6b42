# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Mission state strings, state paths and their roll-up: one definition for agent and modules.

A Mission held by cluster X keeps ``status.states``: path below X -> state string. Paths are
cluster names joined by '/', relative to X (on a with b below it, c below b: ``b``, ``b/c``).

State strings the agent writes:

| content | state |
| --- | --- |
| Deployment, StatefulSet, ReplicaSet | ``<ready>/<desired>`` (e.g. ``2/3``) |
| DaemonSet | ``<ready>/<desired>`` of its pods |
| Job | ``complete``, ``running <succeeded>/<completions>`` or ``failed: <reason>`` |
| any other kind | ``applied`` |
| missioncommand | ``done``, ``skipped`` (trigger said no) or ``failed: <reason>`` |
| statecheck.command | its output, as it is |
| placement does not select the cluster | ``not match`` |
| child stopped reporting | ``cluster unreachable`` |
| content could not be applied | ``failed: <reason>`` |
| not acted on yet | ``pending`` |

Nothing a child reports is taken as it is (its parent checks it with these functions, see
rollup.clamp_entry): a state is a string of at most ``MAX_STATE_LENGTH`` characters without
control characters (``clamp_state``), a path is made of DNS-1123 labels, at most one per tier
(``path_problem``), and folded counts are integers >= 0 that agree with each other
(``clamp_counts``). Gates and summaries are computed from states and clamped counts only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from .limits import (
    MAX_CLUSTERS,
    MAX_PATH_LENGTH,
    MAX_PATH_SEGMENTS,
    MAX_STATE_LENGTH,
    PATH_PATTERN,
    SUMMARY_PATH_PATTERN,
)

NOT_MATCH = "not match"
UNREACHABLE = "cluster unreachable"
PENDING = "pending"
APPLIED = "applied"
DONE = "done"
SKIPPED = "skipped"
COMPLETE = "complete"
FAILED_PREFIX = "failed: "

# Classes a state falls into; summaries count them under these keys. READY is also the word a
# wait asks for ("ready": classified READY) and a state a statecheck may print.
READY, FAILED, WAITING, NOT_MATCHED, UNREACHABLE_CLASS, OTHER = (
    "ready",
    "failed",
    "pending",
    "notMatch",
    "unreachable",
    "other",
)
# The other keys of a summary: every cluster, and those the placement selects.
CLUSTERS, MATCHED = "clusters", "matched"

_RATIO = re.compile(r"^(\d+)/(\d+)$")
_EXACT = {
    PENDING: WAITING,
    NOT_MATCH: NOT_MATCHED,
    UNREACHABLE: UNREACHABLE_CLASS,
    **{word: READY for word in (APPLIED, DONE, SKIPPED, COMPLETE, READY, "succeeded")},
}


def failed(reason: str) -> str:
    """A failed state, its reason squeezed onto one bounded line."""
    one_line = " ".join(str(reason).split())
    return FAILED_PREFIX + (one_line[:300] + "..." if len(one_line) > 300 else one_line)


def classify(state: Optional[str]) -> str:
    """READY, FAILED, WAITING, NOT_MATCHED, UNREACHABLE_CLASS, or OTHER (statecheck output)."""
    if state is None or state.startswith("running "):
        return WAITING
    if state in _EXACT:
        return _EXACT[state]
    if state.startswith(FAILED_PREFIX.strip()):
        return FAILED
    ratio = _RATIO.match(state)
    if ratio:
        return READY if ratio.group(1) == ratio.group(2) else WAITING
    return OTHER


def join_path(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def prefixed(prefix: str, states: Mapping[str, str]) -> dict:
    """States of a child's subtree as seen one level up: every path gets ``prefix/``."""
    return {join_path(prefix, path): state for path, state in states.items()}


def under(prefix: str, path: str) -> bool:
    """True when ``path`` is ``prefix`` itself or lies below it."""
    return path == prefix or path.startswith(prefix + "/")


_PATH = re.compile(PATH_PATTERN)
_SUMMARY_PATH = re.compile(SUMMARY_PATH_PATTERN)
_CONTROL = re.compile("[\x00-\x1f\x7f]")
# The counts of a folded subtree (status.subtreeSummaries); a summary adds notMatch.
FOLDED_COUNTS = (CLUSTERS, MATCHED, READY, FAILED, UNREACHABLE_CLASS)


def path_problem(path: Any, summary: bool = False) -> Optional[str]:
    """Why ``path`` is not a state path (``summary``: a subtreeSummaries key, which may end in
    the ``*`` bucket), or None."""
    if isinstance(path, str) and (_SUMMARY_PATH if summary else _PATH).fullmatch(path):
        return None
    text = repr(path[:81] if isinstance(path, str) else path)
    shown = text if len(text) <= 80 else text[:77] + "..."
    if not isinstance(path, str):
        return f"{shown} is not a string"
    if len(path) > MAX_PATH_LENGTH:
        return f"{shown} has {len(path)} characters (a path has at most {MAX_PATH_LENGTH})"
    if path.count("/") >= MAX_PATH_SEGMENTS:
        return f"{shown} has more than {MAX_PATH_SEGMENTS} segments (one per tier)"
    return f"{shown} is not a path of DNS-1123 labels joined by '/'"


def clamp_state(state: Any) -> Optional[str]:
    """``state`` as a parent keeps it: control characters become spaces, and a state longer
    than MAX_STATE_LENGTH is cut (ending in "..."); None for a state that is not a string."""
    if not isinstance(state, str):
        return None
    if len(state) > MAX_STATE_LENGTH:
        state = state[: MAX_STATE_LENGTH - 3] + "..."
    if not state.isprintable() and _CONTROL.search(state):
        state = _CONTROL.sub(" ", state)
    return state


def _count(counts: Mapping, key: str) -> int:
    value = counts.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value if value > 0 else 0


def clamp_counts(counts: Any, cap: int = MAX_CLUSTERS) -> dict:
    """Folded counts that can be relied on, whatever was written: integers >= 0, at most
    ``cap`` clusters, matched <= clusters, unreachable <= clusters - matched, failed <= matched
    and ready <= matched - failed. Where they disagree, ``ready`` gives way first: a claim can
    lower what a wait sees as ready, never raise it.
    """
    if not isinstance(counts, Mapping):
        counts = {}
    clusters = min(_count(counts, CLUSTERS), max(cap, 0))
    matched = min(_count(counts, MATCHED), clusters)
    failed = min(_count(counts, FAILED), matched)
    return {
        CLUSTERS: clusters,
        MATCHED: matched,
        READY: min(_count(counts, READY), matched - failed),
        FAILED: failed,
        UNREACHABLE_CLASS: min(_count(counts, UNREACHABLE_CLASS), clusters - matched),
    }


def empty_counts() -> dict:
    return dict.fromkeys((*FOLDED_COUNTS, NOT_MATCHED), 0)


def summarize(
    states: Mapping[str, str], folded: Optional[Iterable[Mapping[str, int]]] = None
) -> dict:
    """Counts over per-path states plus already-folded subtree counts.

    ``matched`` counts clusters the placement selects (everything but ``not match`` and
    ``cluster unreachable``); ``ready`` and ``failed`` are among the matched. Each folded
    summary is taken through ``clamp_counts`` first (its notMatch is derived, never read).
    """
    counts = empty_counts()
    for state in states.values():
        kind = classify(state)
        counts[CLUSTERS] += 1
        if kind in (NOT_MATCHED, UNREACHABLE_CLASS):
            counts[kind] += 1
        else:
            counts[MATCHED] += 1
            if kind in (READY, FAILED):
                counts[kind] += 1
    for extra in folded or ():
        clean = clamp_counts(extra)
        for key in FOLDED_COUNTS:
            counts[key] += clean[key]
        counts[NOT_MATCHED] += clean[CLUSTERS] - clean[MATCHED] - clean[UNREACHABLE_CLASS]
    return counts


def _ratio(ready: object, desired: object) -> str:
    return f"{int(ready or 0)}/{int(desired or 0)}"


def _workload_state(obj: Mapping) -> str:
    desired = (obj.get("spec") or {}).get("replicas", 1)
    status = obj.get("status") or {}
    if status.get("observedGeneration", 0) < (obj.get("metadata") or {}).get("generation", 0):
        return _ratio(0, desired)  # the controller has not seen this generation yet
    return _ratio(status.get("readyReplicas"), desired)


def _job_state(obj: Mapping) -> str:
    status = obj.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") == "Complete":
            return COMPLETE
        if condition.get("status") == "True" and condition.get("type") == "Failed":
            return failed(condition.get("message") or condition.get("reason") or "job failed")
    completions = int((obj.get("spec") or {}).get("completions") or 1)
    return f"running {int(status.get('succeeded') or 0)}/{completions}"


def object_state(obj: Mapping) -> str:
    """The state string of one live object the agent created (see the table above)."""
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return _workload_state(obj)
    if kind == "DaemonSet":
        status = obj.get("status") or {}
        return _ratio(status.get("numberReady"), status.get("desiredNumberScheduled"))
    if kind == "Job":
        return _job_state(obj)
    return APPLIED


def combine(object_states: Iterable[str]) -> str:
    """One state for a Mission whose content has several objects: the first not-ready one."""
    collected = list(object_states)
    for state in collected:
        if classify(state) != READY:
            return state
    ratios = [s for s in collected if _RATIO.match(s)]
    return ratios[0] if ratios else (collected[0] if collected else APPLIED)

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
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Optional

NOT_MATCH = "not match"
UNREACHABLE = "cluster unreachable"
PENDING = "pending"
APPLIED = "applied"
DONE = "done"
SKIPPED = "skipped"
COMPLETE = "complete"
FAILED_PREFIX = "failed: "

# Classes a state falls into; summaries count them.
READY, FAILED, WAITING, NOT_MATCHED, UNREACHABLE_CLASS, OTHER = (
    "ready",
    "failed",
    "pending",
    "notMatch",
    "unreachable",
    "other",
)

_RATIO = re.compile(r"^(\d+)/(\d+)$")
_EXACT = {
    PENDING: WAITING,
    NOT_MATCH: NOT_MATCHED,
    UNREACHABLE: UNREACHABLE_CLASS,
    **{word: READY for word in (APPLIED, DONE, SKIPPED, COMPLETE, "ready", "succeeded")},
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


def empty_counts() -> dict:
    return {"clusters": 0, "matched": 0, "ready": 0, "failed": 0, "unreachable": 0, "notMatch": 0}


def summarize(
    states: Mapping[str, str], folded: Optional[Iterable[Mapping[str, int]]] = None
) -> dict:
    """Counts over per-path states plus already-folded subtree counts.

    ``matched`` counts clusters the placement selects (everything but ``not match`` and
    ``cluster unreachable``); ``ready`` and ``failed`` are among the matched.
    """
    counts = empty_counts()
    for state in states.values():
        kind = classify(state)
        counts["clusters"] += 1
        if kind == NOT_MATCHED:
            counts["notMatch"] += 1
        elif kind == UNREACHABLE_CLASS:
            counts["unreachable"] += 1
        else:
            counts["matched"] += 1
            if kind == READY:
                counts["ready"] += 1
            elif kind == FAILED:
                counts["failed"] += 1
    for extra in folded or ():
        for key in counts:
            counts[key] += int(extra.get(key, 0))
        if "notMatch" not in extra:
            # folded summaries carry no notMatch: derive it
            counts["notMatch"] += max(
                0,
                int(extra.get("clusters", 0))
                - int(extra.get("matched", 0))
                - int(extra.get("unreachable", 0)),
            )
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

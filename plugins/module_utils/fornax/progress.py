# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""How far a Mission has come: waits over clusters or subtrees, and states as a tree.

Pure functions over a Mission object as the API server returns it (status written by the agent:
``status.states`` path -> state, ``status.subtreeSummaries`` path -> counts); every state is
classified by states.classify and counted by states.summarize. Gates are decided from the states
and the folded counts after states.clamp_counts, never from a total someone wrote
(``status.summary`` is not read): a negative or inconsistent count cannot cancel another
cluster's failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from .states import MATCHED, NOT_MATCHED, READY, UNREACHABLE_CLASS, classify, summarize, under

READY_WORD = READY  # a wait for this word waits for states classified READY


class WaitSpecError(ValueError):
    """A wait condition that cannot be evaluated; the message names the field."""


def parse_min_ready(value: Any) -> tuple:
    """'3' -> (3, False); '50%' -> (50.0, True); None -> (100.0, True) (all of them)."""
    if value is None or value == "":
        return 100.0, True
    text = str(value).strip()
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 <= pct <= 100:
                raise ValueError
            return pct, True
        count = int(text)
        if count < 0:
            raise ValueError
        return count, False
    except ValueError as exc:
        raise WaitSpecError(
            f"wait_for.min_ready: {value!r} is neither a count (3) nor a percentage (50%)"
        ) from exc


def _status(mission: Mapping[str, Any]) -> Mapping[str, Any]:
    return mission.get("status") or {}


def generation_lag(mission: Mapping[str, Any]) -> Optional[str]:
    """A reason when the status describes an older generation of the Mission, else None."""
    observed = _status(mission).get("observedGeneration")
    generation = (mission.get("metadata") or {}).get("generation")
    if observed is not None and generation is not None and int(observed) < int(generation):
        return f"status is for generation {observed}, the Mission is at generation {generation}"
    return None


def state_ok(state: Optional[str], wanted: str) -> bool:
    if wanted == READY_WORD:
        return classify(state) == READY if state is not None else False
    return state == wanted


def evaluate(
    mission: Mapping[str, Any],
    *,
    state: str = READY_WORD,
    clusters: Optional[list] = None,
    subtree: Optional[str] = None,
    min_ready: Any = None,
) -> dict:
    """{met, behind: [{path, state}], detail} for one look at the Mission.

    With ``clusters``: each of those paths must be in ``state`` (``ready``: classified READY).
    Otherwise: at least ``min_ready`` (a count or N%) of the clusters of ``subtree`` (all when
    empty) that the placement selects must be in ``state``; unreachable clusters count against.
    """
    states = dict(_status(mission).get("states") or {})
    lag = generation_lag(mission)
    if clusters:
        behind = [
            {"path": p, "state": states.get(p)}
            for p in clusters
            if not state_ok(states.get(p), state)
        ]
        met = not behind and lag is None
        detail = lag or (
            f"{len(clusters) - len(behind)}/{len(clusters)} named clusters are {state}"
        )
        return {"met": met, "behind": behind, "detail": detail}
    prefix = (subtree or "").strip("/")
    inside = {p: s for p, s in states.items() if not prefix or under(prefix, p)}
    folded = [
        counts
        for p, counts in (_status(mission).get("subtreeSummaries") or {}).items()
        if not prefix or under(prefix, p)
    ]
    counts = summarize(inside, folded)
    candidates = counts[MATCHED] + counts[UNREACHABLE_CLASS]
    exact = sum(1 for s in inside.values() if s == state)
    good = counts[READY] if state == READY_WORD else exact
    amount, percent = parse_min_ready(min_ready)
    need = -(-amount * candidates // 100) if percent else amount
    need = int(max(need, 1))  # a wait for "ready" needs at least one cluster that is
    behind = [
        {"path": p, "state": s}
        for p, s in sorted(inside.items())
        if classify(s) != NOT_MATCHED and not state_ok(s, state)
    ]
    where = f"subtree {prefix!r}" if prefix else "the tree"
    detail = lag or f"{good} of {candidates} selected clusters of {where} are {state}, need {need}"
    return {
        "met": lag is None and good >= need,
        "behind": behind,
        "detail": detail,
        "counts": counts,
    }


def compile_condition(expression: Any, field: str = "wait_for.condition") -> Any:
    """A JMESPath expression over a Mission's ``status``, compiled (errors name ``field``).

    jmespath is imported here, not at module load: only a task that uses a condition needs it.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise WaitSpecError(f"{field}: expected a JMESPath expression, got {expression!r}")
    try:
        import jmespath  # noqa: PLC0415 - optional, loaded when a condition is used
        from jmespath.exceptions import JMESPathError  # noqa: PLC0415
    except ImportError as exc:
        raise WaitSpecError(
            f"{field}: needs the jmespath Python package where the module runs "
            "(pip install jmespath, or apt-get install python3-jmespath)"
        ) from exc
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise WaitSpecError(f"{field}: {expression!r} is not a JMESPath expression: {exc}") from exc


def evaluate_condition(mission: Mapping[str, Any], compiled: Any) -> dict:
    """{met, value, detail}: the condition holds when its value is true in JMESPath's sense
    (not null, false, or an empty string, list or object; 0 is true) and the status is for
    the Mission's current generation."""
    from jmespath.exceptions import JMESPathError  # noqa: PLC0415 - compile_condition loaded it

    try:
        value = compiled.search(dict(_status(mission)))
    except JMESPathError as exc:  # e.g. a type error inside a function
        return {"met": False, "value": None, "behind": [], "detail": f"condition failed: {exc}"}
    lag = generation_lag(mission)
    empty = isinstance(value, (str, list, dict)) and not value
    truthy = value is not None and value is not False and not empty
    return {
        "met": truthy and lag is None,
        "value": value,
        "behind": [],
        "detail": lag or f"condition {compiled.expression!r} is {value!r}",
    }


def states_tree(states: Mapping[str, str]) -> dict:
    """{'b': '1/1', 'b/c': 'not match'} -> {'b': {'state': '1/1', 'children': {'c': {...}}}}."""
    tree: dict = {}
    for path in sorted(states, key=lambda p: (p.count("/"), p)):
        node: dict = {"children": tree}
        for part in path.split("/"):
            node = node["children"].setdefault(part, {"state": None, "children": {}})
        node["state"] = states[path]
        node["class"] = classify(states[path])
    return tree


def mission_summary(mission: Mapping[str, Any]) -> dict:
    """Counts over the states and the (clamped) folded subtrees: what the agent's
    ``status.summary`` says when all is well, recomputed rather than taken on trust."""
    status = _status(mission)
    return summarize(status.get("states") or {}, (status.get("subtreeSummaries") or {}).values())


def merge_child_view(
    states: Mapping[str, str],
    folded: Mapping[str, Mapping[str, int]],
    path: str,
    child_mission: Mapping[str, Any],
) -> tuple:
    """Replace what the root keeps below ``path`` with the child's own (finer) view.

    Returns (states, folded): the root's entries strictly below ``path`` and its folded
    summaries at or below ``path`` give way to the child's states and folds, prefixed.
    """
    child_status = _status(child_mission)
    merged = {p: s for p, s in states.items() if not (under(path, p) and p != path)}
    merged_folded = {p: c for p, c in folded.items() if not under(path, p)}
    for sub, state in (child_status.get("states") or {}).items():
        merged[f"{path}/{sub}"] = state
    for sub, counts in (child_status.get("subtreeSummaries") or {}).items():
        merged_folded[f"{path}/{sub}"] = counts
    return merged, merged_folded

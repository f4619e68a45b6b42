"""The agent's cache of its own cluster's Missions, kept in little memory.

A Mission's status holds a state for each of up to ``max_paths`` paths of the subtree; a parent
that folds 1,000 Missions under 200 children holds 1,000 such statuses twice: the status writer
keeps what it last wrote (the base of its next diff, statuswriter.py), and the watch brings the
same status back as a freshly decoded object a moment later. So the cache keeps of a Mission:

- no ``managedFields`` (nothing in the agent reads them);
- as its status, the status writer's own object when the two are equal (one object, not two);
- otherwise a status whose path keys and state strings are interned: the same few hundred
  paths and a handful of states recur in every Mission.

Statuses are shared, never edited in place (the folds build new ones).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from .informer import Informer

Known = Callable[[str], list[dict[str, Any]]]


def _interned_map(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {
        sys.intern(k) if isinstance(k, str) else k: sys.intern(v) if isinstance(v, str) else v
        for k, v in value.items()
    }


def compact_status(status: dict[str, Any]) -> dict[str, Any]:
    """``status`` with the keys and string values of its ``states`` interned, and the keys of
    its ``subtreeSummaries``: equal, and a fraction of the memory over many Missions."""
    compact = dict(status)
    if "states" in compact:
        compact["states"] = _interned_map(compact["states"])
    summaries = compact.get("subtreeSummaries")
    if isinstance(summaries, dict):
        compact["subtreeSummaries"] = {
            sys.intern(k) if isinstance(k, str) else k: v for k, v in summaries.items()
        }
    return compact


class LocalMissions(Informer):
    """The Missions informer of the agent's own cluster (see the module's docstring)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.known: Known | None = None  # Mission -> statuses this agent wrote or is writing

    def shape(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            return obj  # malformed: the informer says so
        meta.pop("managedFields", None)
        status = obj.get("status")
        if isinstance(status, dict) and status:
            obj["status"] = self._shared(meta.get("name"), status)
        return obj

    def _shared(self, name: Any, status: dict[str, Any]) -> dict[str, Any]:
        if self.known is not None and isinstance(name, str):
            for mine in self.known(name):
                if mine == status:
                    return mine
        return compact_status(status)

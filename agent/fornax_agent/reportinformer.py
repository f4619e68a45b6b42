"""The parent's watch of its children's ClusterReports, cached in little memory.

A parent with 200 children and 1,000 Missions holds 200,000 report entries (a child's states,
its subtree's counts, the generation they are for). Decoded from JSON each is a few small dicts
of its own, about 2 kB: 400 MB for entries that are nearly all alike (most Missions of one
child stand in the same few states). So the cache keeps of a report only its name, version and
entries (a shard's groups taken apart into entries: rollup.report_entries), and an entry equal
to one of the last few distinct entries of the same child is replaced by that one: equal
entries are one object. Entries are shared, never edited in place (rollup.keep_entry says the
same of what the parent keeps of them).
"""

from __future__ import annotations

import sys
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.rollup import report_entries

from .informer import Informer

RECENT = 8  # distinct entries remembered per child: the states a child's Missions stand in


class ReportInformer(Informer):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.recent: dict[str, list[Any]] = {}  # child -> its last distinct entries, newest last

    def shape(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata")
        spec = obj.get("spec")
        if not isinstance(meta, dict) or not isinstance(spec, dict):
            return obj  # malformed: the informer and the parent side say so
        missions = spec.get("missions")
        child = names.report_owner(str(meta.get("name") or ""))[0]
        if "groups" in spec:  # a shard of grouped entries: Mission -> entry, as one by one
            missions = report_entries(child, str(meta.get("name")), spec)
        if isinstance(missions, dict):
            missions = {
                sys.intern(k) if isinstance(k, str) else k: self._shared(child, v)
                for k, v in missions.items()
            }
        return {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "metadata": {"name": meta.get("name"), "resourceVersion": meta.get("resourceVersion")},
            "spec": {"missions": missions},
        }

    def _shared(self, child: str, entry: Any) -> Any:
        """``entry``, or an equal one seen lately from ``child`` (the same object)."""
        recent = self.recent.setdefault(child, [])
        for i in range(len(recent) - 1, -1, -1):
            if recent[i] == entry:
                found = recent[i]
                if i != len(recent) - 1:
                    del recent[i]
                    recent.append(found)
                return found
        recent.append(entry)
        if len(recent) > RECENT:
            del recent[0]
        return entry

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Declarative map contents: compare what a pinned map holds with what is wanted, then apply.

``state``: ``present`` adds/updates the given entries, ``absent`` removes the given keys,
``exact`` makes the map hold exactly the given entries. Array maps cannot lose entries; for
them ``absent`` and ``exact`` write zeroes instead of deleting.
"""

from __future__ import annotations

from typing import Any, Optional

from .bpftool import Bpftool
from .layouts import Entry, LayoutError, MapLayout

STATES = ("present", "absent", "exact")


class Plan:
    """What applying a desired state changes in one map, plus before/after views for diff."""

    def __init__(self, layout: MapLayout) -> None:
        self.layout = layout
        self.writes: list[tuple[bytes, bytes]] = []
        self.deletes: list[bytes] = []
        self.before: list[dict[str, Entry]] = []
        self.after: list[dict[str, Entry]] = []

    @property
    def changed(self) -> bool:
        return bool(self.writes or self.deletes)


def _view(layout: MapLayout, raw: dict[bytes, bytes]) -> list[dict[str, Entry]]:
    rows = [{"key": layout.key.decode(k), "value": layout.value.decode(v)} for k, v in raw.items()]
    return sorted(rows, key=lambda row: repr(sorted(row["key"].items())))


def _wanted(layout: MapLayout, entries: list[dict[str, Any]], state: str) -> dict[bytes, Any]:
    """Encoded desired entries: key -> value bytes (None for keys to remove)."""
    wanted: dict[bytes, Optional[bytes]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or "key" not in entry:
            raise LayoutError(f"each entry needs a 'key' (and a 'value' unless absent): {entry!r}")
        key = layout.key.encode(entry["key"])
        if state == "absent":
            wanted[key] = None
            continue
        if "value" not in entry:
            raise LayoutError(f"entry {entry['key']!r} needs a 'value'")
        value = layout.value.encode(entry["value"])
        if wanted.get(key, value) != value:
            raise LayoutError(f"key {entry['key']!r} given twice with different values")
        wanted[key] = value
    return wanted


def plan(
    layout: MapLayout, current: dict[bytes, bytes], entries: list[dict[str, Any]], state: str
) -> Plan:
    """Compute the writes and deletes that bring ``current`` (raw bytes) to the desired state."""
    if state not in STATES:
        raise LayoutError(f"state must be one of {STATES}, got {state!r}")
    if not layout.writable:
        raise LayoutError(f"map {layout.name} is written by the program only")
    result = Plan(layout)
    wanted = _wanted(layout, entries, state)
    zero = bytes(layout.value.size)
    after = dict(current)
    if state == "absent":
        doomed = [k for k in wanted if k in current]
    elif state == "exact":
        doomed = [k for k in current if k not in wanted]
    else:
        doomed = []
    for key in doomed:
        if layout.deletable:
            result.deletes.append(key)
            del after[key]
        elif current[key] != zero:
            result.writes.append((key, zero))
            after[key] = zero
    for key, value in wanted.items():
        if value is not None and current.get(key) != value:
            result.writes.append((key, value))
            after[key] = value
    result.before = _view(layout, current)
    result.after = _view(layout, after)
    return result


def apply(tool: Bpftool, pin: str, todo: Plan) -> None:
    for key in todo.deletes:
        tool.map_delete(pin, key)
    for key, value in todo.writes:
        tool.map_update(pin, key, value)

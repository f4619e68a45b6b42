# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Many Missions for one task: a list of definitions, a multi-document file, a directory.

Every Mission is read and checked (mission_spec.checked: the spec's types and the content
parsed fully) before any is sent; a bad one is named by where it came from (the file and the
document, or the index in the list) and the field, and all bad ones are named at once. Names
must be unique across the set.

A definition that is one mapping, YAML text of one document, or a file of one document is the
single-Mission form the module always had (its errors read as before); everything else is a set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from ..k8s.service import BulkError
from ..k8s.yaml_support import CONTENT_LIMITS, YamlLimitError, require_yaml, safe_load_all
from .mission_spec import MissionSpecError, checked, load_definition, load_src

# The files of a directory src that are read (others are left alone), in name order.
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Sourced:
    source: str  # where it came from: "definition[2]", "src 'a.yaml' document 3"
    mission: dict  # checked, ready to send


class MissionSetError(BulkError):
    """Missions of a set are not valid; ``problems`` names each (source: field: why)."""


def _documents(text: str, where: str) -> list:
    """(label, document) of every non-empty document of ``text`` (1-based numbers)."""
    docs = safe_load_all(text, where, CONTENT_LIMITS)
    return [(f"{where} document {i + 1}", doc) for i, doc in enumerate(docs) if doc is not None]


def _read(path: str, where: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise MissionSpecError(f"{where}: cannot read {path!r}: {exc.strerror}") from exc


def _from_directory(path: str) -> list:
    names = sorted(n for n in os.listdir(path) if n.endswith(SUFFIXES) and not n.startswith("."))
    if not names:
        raise MissionSpecError(f"src: directory {path!r} holds no {'/'.join(SUFFIXES)} file")
    found = []
    for name in names:
        where = f"src {os.path.join(path, name)!r}"
        found.extend(_documents(_read(os.path.join(path, name), where), where))
    return found


def raw_entries(definition: Any, src: Optional[str]) -> Optional[list]:
    """(label, raw Mission) of a set, or None when the input is one Mission (the old form)."""
    require_yaml()
    try:
        if isinstance(definition, list):
            return [(f"definition[{i}]", entry) for i, entry in enumerate(definition)]
        if isinstance(definition, str):
            found = _documents(definition, "definition")
        elif src and os.path.isdir(src):
            return _from_directory(src)
        elif src:
            found = _documents(_read(src, "src"), f"src {src!r}")
        else:
            return None
    except YamlLimitError as exc:
        raise MissionSpecError(str(exc)) from exc
    return found if len(found) > 1 else None


def _check_one(label: str, raw: Any) -> dict:
    try:
        mission = load_definition(raw, label) if isinstance(raw, str) else raw
        if not isinstance(mission, Mapping):
            raise MissionSpecError(f"expected a Mission mapping, got {type(mission).__name__}")
        if not isinstance(mission.get("metadata") or {}, Mapping):
            raise MissionSpecError(f"metadata: {mission['metadata']!r} is not a mapping")
        return checked(mission)
    except MissionSpecError as exc:
        text = str(exc)
        raise MissionSpecError(text if text.startswith(label) else f"{label}: {text}") from exc


def check_set(entries: list) -> list:
    """Sourced Missions of a set; MissionSetError names every bad entry and every duplicate."""
    problems, found, seen = [], [], {}
    for label, raw in entries:
        try:
            mission = _check_one(label, raw)
        except MissionSpecError as exc:
            problems.append(str(exc))
            continue
        name = mission["metadata"]["name"]
        if name in seen:
            problems.append(f"{label}: metadata.name: {name!r} is also {seen[name]}")
            continue
        seen[name] = label
        found.append(Sourced(label, mission))
    if not entries:
        problems.append("definition: an empty list holds no Mission")
    if problems:
        raise MissionSetError(
            f"{len(problems)} problem(s) in {len(entries)} Missions, nothing was sent: "
            + "; ".join(problems),
            problems,
        )
    return found


def single(definition: Any, src: Optional[str], name: Optional[str], options: dict) -> dict:
    """The one Mission of the old form: definition, src or the spec options."""
    from .mission_spec import from_options  # noqa: PLC0415 - the options form only

    if definition is not None:
        mission = load_definition(definition)
    elif src:
        mission = load_src(src)
    else:
        return checked(from_options(name, **options))
    named = (mission.get("metadata") or {}).get("name")
    return checked(mission, None if named else name)


def load_missions(definition: Any, src: Optional[str], name: Optional[str], options: dict) -> tuple:
    """(list of Sourced, is_set): the Missions a task names, all checked before any is sent."""
    entries = raw_entries(definition, src)
    if entries is None:
        source = "definition" if definition is not None else (f"src {src!r}" if src else "options")
        return [Sourced(source, single(definition, src, name, options))], False
    if name:
        raise MissionSpecError(
            "name: names one Mission; in a set each Mission names itself (metadata.name)"
        )
    return check_set(entries), True

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""A Mission object from module options, a definition or a file; checked before it is sent.

The API server's admission checks only patterns (it cannot parse YAML); here the content of
``missionresource`` is parsed fully, so invalid YAML fails the task with the field named.
``spec_problem`` is the one check of the spec's field types: the module runs it before sending a
Mission, and the agent before acting on one (a parent whose CRD predates the schema can hand
down anything).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ..k8s.resource import ManifestError, load_manifests
from ..k8s.yaml_support import (
    CONTENT_LIMITS,
    YamlLimitError,
    require_yaml,
    safe_dump,
    safe_dump_all,
    safe_load_all,
)
from .names import API_VERSION as GROUP_VERSION

KIND = "Mission"


class MissionSpecError(ValueError):
    """The options do not describe a usable Mission; the message names the field."""


NEEDS_CONTENT = (
    "spec: a Mission needs a resource (spec.missionresource) or a command "
    "(spec.missioncommand.command)"
)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _wrong(field: str, value: Any, wanted: str) -> str:
    return f"{field}: {_shown(value)} is a {type(value).__name__}, not {wanted}"


def _strings_problem(mapping: Mapping, field: str, keys: tuple) -> Optional[str]:
    for key in keys:
        value = mapping.get(key)
        if value is not None and not isinstance(value, str):
            return _wrong(f"{field}.{key}", value, "a string")
    return None


def placement_problem(placement: Any) -> Optional[str]:  # noqa: PLR0911 - one per field
    """Why a placement cannot be read (None: its fields have their types)."""
    if not isinstance(placement, Mapping):
        return _wrong("spec.placement", placement, "a mapping")
    clusters = placement.get("clusters")
    if clusters is not None:
        if not isinstance(clusters, list):
            return _wrong("spec.placement.clusters", clusters, "a list")
        for index, entry in enumerate(clusters):
            field = f"spec.placement.clusters[{index}]"
            if not isinstance(entry, Mapping):
                return _wrong(field, entry, "a mapping with a name")
            problem = _strings_problem(entry, field, ("name",))
            if problem:
                return problem
    labels = placement.get("matchlabels")
    if labels is not None:
        if not isinstance(labels, Mapping):
            return _wrong("spec.placement.matchlabels", labels, "a mapping")
        for key, value in labels.items():
            if not isinstance(value, str):
                return _wrong(f"spec.placement.matchlabels.{key}", value, "a string")
    return None


def spec_problem(spec: Any) -> Optional[str]:  # noqa: PLR0911 - one return per field
    """Why a Mission's spec cannot be acted on (None: every field has its type).

    Checks the types of every spec field the agent reads, and that there is something to do;
    the message names the field and shows the value. The content itself is checked by
    ``check_resource``.
    """
    if not isinstance(spec, Mapping):
        return _wrong("spec", spec, "a mapping")
    resource = spec.get("missionresource")
    if resource is not None and not isinstance(resource, str):
        return _wrong("spec.missionresource", resource, "YAML text (a string)")
    command = spec.get("missioncommand")
    if command is not None:
        if not isinstance(command, Mapping):
            return _wrong("spec.missioncommand", command, "a mapping")
        problem = _strings_problem(
            command, "spec.missioncommand", ("trigger", "command", "reversecommand")
        )
        if problem:
            return problem
        when = command.get("runwhentriggersucceed")
        if when is not None and not isinstance(when, bool):
            return _wrong("spec.missioncommand.runwhentriggersucceed", when, "a boolean")
    if spec.get("placement") is not None:
        problem = placement_problem(spec["placement"])
        if problem:
            return problem
    statecheck = spec.get("statecheck")
    if statecheck is not None:
        if not isinstance(statecheck, Mapping):
            return _wrong("spec.statecheck", statecheck, "a mapping")
        problem = _strings_problem(statecheck, "spec.statecheck", ("command",))
        if problem:
            return problem
    has_command = bool(((command or {}).get("command") or "").strip())
    if not (resource or "").strip() and not has_command:
        return NEEDS_CONTENT
    return None


def _yaml_text(value: Any, field: str) -> str:
    """A resource given as a mapping, a list of mappings or YAML text -> YAML text."""
    require_yaml()
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return safe_dump(dict(value))
    if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
        return safe_dump_all([dict(v) for v in value])
    raise MissionSpecError(
        f"{field}: expected a mapping, a list of mappings or YAML text, got {type(value).__name__}"
    )


def check_resource(text: str, field: str = "spec.missionresource") -> list:
    """Parse the content; ManifestError (as MissionSpecError) names ``field`` and the document."""
    try:
        return load_manifests(text, where=field)
    except ManifestError as exc:
        raise MissionSpecError(str(exc)) from exc


def load_definition(definition: Any, field: str = "definition") -> dict:
    """A Mission given as a mapping or YAML text (one document)."""
    require_yaml()
    if isinstance(definition, str):
        try:
            docs = [d for d in safe_load_all(definition, field, CONTENT_LIMITS) if d is not None]
        except YamlLimitError as exc:
            raise MissionSpecError(str(exc)) from exc
        if len(docs) != 1:
            raise MissionSpecError(f"{field}: holds {len(docs)} documents, expected one Mission")
        definition = docs[0]
    if not isinstance(definition, Mapping):
        raise MissionSpecError(
            f"{field}: expected a Mission mapping, got {type(definition).__name__}"
        )
    return dict(definition)


def load_src(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise MissionSpecError(f"src: cannot read {path!r}: {exc.strerror}") from exc
    return load_definition(text, f"src {path!r}")


def from_options(
    name: Optional[str],
    *,
    labels: Optional[Mapping[str, str]] = None,
    resource: Any = None,
    command: Optional[Mapping[str, Any]] = None,
    clusters: Optional[list] = None,
    match_labels: Optional[Mapping[str, Any]] = None,
    statecheck: Optional[str] = None,
) -> dict:
    """The Mission the module options describe."""
    if not name:
        raise MissionSpecError("name: required unless definition or src gives the Mission")
    spec: dict = {}
    if resource is not None:
        spec["missionresource"] = _yaml_text(resource, "resource")
    if command:
        spec["missioncommand"] = {k: v for k, v in command.items() if v is not None}
    placement: dict = {}
    if clusters:
        placement["clusters"] = [{"name": str(c)} for c in clusters]
    if match_labels:
        placement["matchlabels"] = {str(k): str(v) for k, v in match_labels.items()}
    if placement:
        spec["placement"] = placement
    if statecheck:
        spec["statecheck"] = {"command": statecheck}
    metadata: dict = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": GROUP_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def checked(mission: Mapping[str, Any], name: Optional[str] = None) -> dict:
    """Validate (and name) a Mission before it is sent; the content is parsed fully."""
    mission = dict(mission)
    if (
        mission.get("apiVersion", GROUP_VERSION) != GROUP_VERSION
        or mission.get("kind", KIND) != KIND
    ):
        raise MissionSpecError(
            f"definition: apiVersion/kind {mission.get('apiVersion')!r}/{mission.get('kind')!r} "
            f"is not {GROUP_VERSION}/{KIND}"
        )
    mission["apiVersion"], mission["kind"] = GROUP_VERSION, KIND
    metadata = dict(mission.get("metadata") or {})
    if name:
        metadata["name"] = name
    if metadata.get("name") in (None, ""):
        raise MissionSpecError("metadata.name: missing (give name or metadata.name)")
    if not isinstance(metadata["name"], str):
        raise MissionSpecError(
            f"metadata.name: {metadata['name']!r} is a {type(metadata['name']).__name__}, "
            "not a string: quote it"
        )
    for volatile in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        metadata.pop(volatile, None)
    mission["metadata"] = metadata
    mission.pop("status", None)
    spec = mission.get("spec")
    if not isinstance(spec, Mapping):
        raise MissionSpecError("spec: missing or not a mapping")
    problem = spec_problem(spec)
    if problem:
        raise MissionSpecError(problem)
    resource = spec.get("missionresource")
    if resource and resource.strip():
        check_resource(resource)
    return mission

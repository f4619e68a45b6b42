"""A Mission's content in this cluster: apply it, watch it, restore it, remove what we made."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.resource import Discovery

log = logging.getLogger("fornax.agent.content")


class ContentConflict(Exception):
    """An object of the content exists and was not made by this agent: it is left alone."""


@dataclass
class Applied:
    """What the agent created for one Mission generation (persisted across restarts)."""

    generation: int
    objects: dict[str, int] = field(default_factory=dict)  # object path -> metadata.generation
    kinds: list[str] = field(default_factory=list)  # "apiVersion|plural" of the objects

    def to_json(self) -> dict[str, Any]:
        return {"generation": self.generation, "objects": self.objects, "kinds": self.kinds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Applied:
        return cls(int(data["generation"]), dict(data["objects"]), list(data.get("kinds") or []))


def ours(obj: dict[str, Any], cluster: str) -> bool:
    meta = obj.get("metadata") or {}
    return (meta.get("annotations") or {}).get(names.APPLIED_BY_ANNOTATION) == cluster


class Content:
    def __init__(self, client: KubeClient, cluster: str) -> None:
        self.client = client
        self.cluster = cluster
        self.discovery = Discovery(client)

    def marked(self, mission: str, obj: dict[str, Any]) -> dict[str, Any]:
        """The object with the marks that say which Mission and which agent made it."""
        marked = dict(obj)
        meta = dict(marked.get("metadata") or {})
        meta["labels"] = {
            **(meta.get("labels") or {}),
            names.MISSION_LABEL: mission,
            names.MANAGED_BY_LABEL: names.MANAGED_BY,
        }
        meta["annotations"] = {
            **(meta.get("annotations") or {}),
            names.APPLIED_BY_ANNOTATION: self.cluster,
        }
        marked["metadata"] = meta
        return marked

    def apply(self, mission: str, generation: int, objects: list[dict[str, Any]]) -> Applied:
        applied = Applied(generation)
        for obj in objects:
            path = self.discovery.path_of(obj)
            info = self.discovery.lookup(obj["apiVersion"], obj["kind"])
            existing = self.client.get_or_none(path)
            if existing is not None and not ours(existing, self.cluster):
                raise ContentConflict(
                    f"{obj['kind']} {path.rsplit('/', 1)[-1]} exists and was not created by "
                    f"Fornax on {self.cluster}: left alone"
                )
            result = self.client.apply(
                path, self.marked(mission, obj), field_manager=names.FIELD_MANAGER_AGENT, force=True
            )
            applied.objects[path] = int(result["metadata"].get("generation") or 0)
            kind = f"{info.api_version}|{info.plural}"
            if kind not in applied.kinds:
                applied.kinds.append(kind)
        return applied

    def inspect(self, applied: Applied) -> tuple[bool, str]:
        """(drifted, state) from one read of every object we made.

        Drifted: an object is gone, or someone changed its spec since our apply (generation).
        """
        drifted = False
        states = []
        for path, generation in applied.objects.items():
            live = self.client.get_or_none(path)
            if live is None or int(live["metadata"].get("generation") or 0) != generation:
                drifted = True
            states.append(st.object_state(live) if live else st.PENDING)
        return drifted, st.combine(states)

    def state(self, applied: Applied) -> str:
        return self.inspect(applied)[1]

    def remove(self, applied: Applied, keep: set[str] | None = None) -> None:
        """Delete the objects of ``applied`` (but those in ``keep``) that carry our marks."""
        for path in applied.objects:
            if keep and path in keep:
                continue
            live = self.client.get_or_none(path)
            if live is not None and ours(live, self.cluster):
                try:
                    self.client.delete(path, propagation="Background")
                except KubeApiError as exc:
                    if exc.status != 404:
                        raise

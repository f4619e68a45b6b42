"""Lean watches: children watch spec mirrors of their parent's Missions, never the Missions.

A Mission's status holds a state per cluster of its subtree (about 100 kB with 1,000 clusters)
and is rewritten as children report. Every write of it would be sent, whole, to every watch of
Missions: with 200 children watching, a parent folding 1,000 Missions sends 200 x 1,000 such
objects, and every child decodes and caches statuses it never reads. So each cluster's agent
keeps, next to every Mission, a ``MissionSpec`` of the same name holding only what a child
copies (name, labels, spec) and the Mission's generation, and children watch those:

- ``MirrorKeeper`` (the parent's side): work key ``("mirror", m)`` brings the mirror of Mission
  ``m`` to the Mission (written when spec, labels or generation differ; deleted with the
  Mission). A status write changes none of these, so it costs the children nothing. Mirrors are
  kept only while the cluster has children (a leaf writes none); the first child's arrival
  brings them all. The mirror names its Mission as owner, so the garbage collector deletes it
  too when the agent is away. The writes go through ``MIRROR_WRITERS`` writer threads
  (writers.py): a burst of a thousand new Missions on a parent busy with its children's
  reports would otherwise wait a thousand round trips end to end before the children see them.
  The cluster's own execution of a Mission waits while its mirror is being written
  (``passing_on``): the write that passes the Mission down is on the path of every cluster
  below, the execution here on none.
- ``ParentMissions`` (the child's side): an informer of the parent's mirrors, shaped as the
  Missions they mirror (name, labels, ``generation`` = the Mission's, spec). A parent without
  mirrors - no such kind (404), a link that predates them (403), or Missions but no mirror at
  all (an agent that keeps none) - is watched as before, through its Missions (statuses
  dropped from the cache); every ``RECHECK_SECONDS`` it asks whether mirrors are offered now
  (one small GET: a link's RBAC may reach the API server's cache after the agent's first
  list) and, when they are, lists them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
)

from .informer import WATCH_SECONDS, Informer
from .workqueue import WorkQueue
from .writers import KeyedWriters

log = logging.getLogger("fornax.agent.mirrors")
RECHECK_SECONDS = 15  # watching Missions (no mirrors): how often to ask for mirrors again
MIRROR_WRITERS = 4  # mirror writes in flight at once
RETRY_SECONDS = 1.0  # a failed mirror write is decided again after this long


def mirror_of(mission: dict[str, Any]) -> dict[str, Any]:
    """The MissionSpec of a Mission: its name, labels, generation and spec, nothing else."""
    meta = mission.get("metadata") or {}
    owner = {"apiVersion": names.API_VERSION, "kind": "Mission", "name": meta.get("name")}
    if meta.get("uid"):
        owner["uid"] = meta["uid"]
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.MISSIONSPEC_KIND,
        "metadata": {
            "name": meta.get("name"),
            "labels": dict(meta.get("labels") or {}),
            "ownerReferences": [owner] if "uid" in owner else [],
        },
        "missionGeneration": meta.get("generation") or 0,
        "spec": mission.get("spec") if isinstance(mission.get("spec"), dict) else {},
    }


def same_mirror(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    meta, want = current.get("metadata") or {}, desired["metadata"]
    owners = [(o.get("uid"), o.get("name")) for o in meta.get("ownerReferences") or []]
    return (
        current.get("spec") == desired["spec"]
        and current.get("missionGeneration") == desired["missionGeneration"]
        and (meta.get("labels") or {}) == want["labels"]
        and owners == [(o.get("uid"), o.get("name")) for o in want["ownerReferences"]]
    )


def as_mission(obj: dict[str, Any], generation: Any) -> dict[str, Any]:
    """What a child keeps of a parent's Mission (or mirror): no status, no managed fields."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return obj  # malformed: the informer skips it
    return {
        "apiVersion": names.API_VERSION,
        "kind": "Mission",
        "metadata": {
            "name": meta.get("name"),
            "labels": meta.get("labels") or {},
            "generation": generation,
            "resourceVersion": meta.get("resourceVersion"),
        },
        "spec": obj.get("spec"),
    }


class ParentMissions(Informer):
    """The parent's Missions, read from their mirrors when the parent keeps them."""

    def __init__(self, client_factory: Callable[[], KubeClient], on_event: Any, **kw: Any) -> None:
        super().__init__("parent-missions", client_factory, names.MISSIONSPECS, on_event, **kw)
        self.mirrored = True
        self.said = False  # the first choice is logged too

    def _fetch(self, client: KubeClient) -> dict[str, Any]:
        listing = self._get_or_refused(client, names.MISSIONSPECS)
        if listing is not None and (listing.get("items") or not self._any_mission(client)):
            self._use(True)
            return listing
        self._use(False)
        return client.get(names.MISSIONS)

    @staticmethod
    def _get_or_refused(client: KubeClient, path: str, **query: Any) -> dict[str, Any] | None:
        """The list at ``path``; None when the parent has no such kind or refuses it."""
        try:
            return client.get(path, **query)
        except KubeApiError as exc:
            if exc.status not in (403, 404):
                raise
            return None

    def _any_mission(self, client: KubeClient) -> bool:
        """True when the parent has Missions (with no mirror at all: it keeps none)."""
        found = self._get_or_refused(client, names.MISSIONS, limit=1)
        return bool(found and found.get("items"))

    def _use(self, mirrored: bool) -> None:
        if mirrored != self.mirrored or not self.said:
            self.said = True
            log.info("parent's Missions read from %s", "mirrors" if mirrored else "Missions")
        self.mirrored = mirrored
        self.path = names.MISSIONSPECS if mirrored else names.MISSIONS

    def _watch(self, client: KubeClient, version: str) -> str:
        self.watch_seconds = WATCH_SECONDS if self.mirrored else RECHECK_SECONDS
        version = super()._watch(client, version)
        if self.mirrored or not self._mirrors_offered(client):
            return version
        return ""  # list again, from the mirrors

    def _mirrors_offered(self, client: KubeClient) -> bool:
        found = self._get_or_refused(client, names.MISSIONSPECS, limit=1)
        return found is not None and bool(found.get("items") or not self._any_mission(client))

    def shape(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.mirrored:
            return as_mission(obj, obj.get("missionGeneration"))
        meta = obj.get("metadata")
        return as_mission(obj, meta.get("generation") if isinstance(meta, dict) else None)


class MirrorKeeper:
    """Keeps one MissionSpec per Mission of this cluster while it has children."""

    def __init__(
        self,
        queue: WorkQueue,
        *,
        client_factory: Callable[[], KubeClient],
        missions: Informer,
        children: Informer,
        stop: threading.Event,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        """``on_idle()`` runs when the last mirror write in flight has answered."""
        self.queue = queue
        self.on_idle = on_idle
        self.writers = KeyedWriters(
            "mirror", client_factory, MIRROR_WRITERS, self._answered, on_free=self._free
        )
        self.missions = missions
        self.children = children
        self.had_children = False
        self.informer = Informer(
            "missionspecs",
            client_factory,
            names.MISSIONSPECS,
            self._on_mirror,
            on_sync=self.all_later,
            stop=stop,
        )

    def _on_mirror(self, _kind: str, obj: dict[str, Any]) -> None:
        self.queue.add(("mirror", obj["metadata"]["name"]))

    def children_changed(self) -> None:
        """A child came or went: the first one brings every mirror."""
        has = self.children.count() > 0
        if has and not self.had_children:
            self.all_later()
        self.had_children = has

    def all_later(self) -> None:
        if self.informer.synced.is_set():
            for name in set(self.missions.snapshot()) | set(self.informer.snapshot()):
                self.queue.add(("mirror", name))

    def keep(self, name: str) -> None:
        """Bring Mission ``name``'s mirror to the Mission (the sync of either watch asks again)."""
        if not self.missions.synced.is_set():
            self.queue.add(("mirror", name), 0.5)
            return
        if not self.informer.synced.is_set():
            return  # its first list asks for every Mission (never, without the kind here)
        if self.writers.busy(name):
            return  # decided again when that write has answered (_answered)
        mission = self.missions.get(name)
        current = self.informer.get(name)
        path = names.missionspec_path(name)
        if mission is None:
            if current is not None:
                self.writers.submit(name, lambda client: client.delete_if_exists(path))
            return
        if current is None and self.children.count() == 0:
            return  # nobody would read it
        desired = mirror_of(mission)
        if current is None or not same_mirror(current, desired):
            version = None if current is None else current["metadata"].get("resourceVersion")
            self.writers.submit(name, lambda client: self._write(client, desired, version))

    def _write(self, client: KubeClient, desired: dict[str, Any], version: str | None) -> None:
        # The answer is the mirror's version from now on: the next decision replaces at it,
        # even before the watch brings it (not a create refused, or a replace at a stale one).
        self.informer.offer(client.write_whole(names.MISSIONSPECS, desired, version))

    def passing_on(self, name: str, then: Callable[[], None]) -> bool:
        """True while the mirror of Mission ``name`` is being written: ``then()`` runs once the
        write has answered. The cluster's own work on that Mission waits for it (the children's
        copy first), rather than compete with the write for this API server and this process.
        """
        return self.writers.after(name, then)

    def passing_any(self) -> bool:
        """True while any mirror write is in flight: Missions are being passed on."""
        return self.writers.backlog() > 0

    def _free(self) -> None:
        if self.on_idle is not None and not self.passing_any():
            self.on_idle()

    def _answered(self, name: str, failed: bool) -> None:
        """A write of ``name`` answered after it was asked for again, or failed: decide again.

        A write that landed is not checked again here: its watch event brings the key back."""
        self.queue.add(("mirror", name), RETRY_SECONDS if failed else 0.0)

    def close(self) -> None:
        self.writers.close()

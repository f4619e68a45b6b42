"""List, then watch, one collection into a cache; resume after breaks, re-list after 410 Gone.

A write's answer may be offered to the cache before the watch brings it (``Informer.offer``,
like client-go's MutationCache): the agent's own writes then take effect without waiting for
the round trip through its own watch, which is a few milliseconds on every hop of a tree.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
    KubeError,
)

from .faults import FAULTS

Event = Callable[[str, dict[str, Any]], None]
MAX_BACKOFF = 2.0
WATCH_SECONDS = 120


class Malformed(ValueError):
    """An object from a list or a watch that has no usable name: it is skipped."""


def object_key(obj: Any) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise Malformed(f"an object without a name: {str(obj)[:120]}")
    namespace = meta.get("namespace")
    return f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name


class Informer(threading.Thread):
    """Keeps ``cache`` equal to the collection at ``path`` and reports every change.

    ``on_event(type, obj)`` gets ADDED, MODIFIED and DELETED, also for differences found by a
    re-list (what changed while the watch was down); ``on_sync()`` runs after every list.
    A callback that raises is a fault of that one event (logged, counted); a malformed object
    is skipped; neither stops the informer.
    """

    def __init__(
        self,
        name: str,
        client_factory: Callable[[], KubeClient],
        path: str,
        on_event: Event,
        *,
        on_sync: Callable[[], None] | None = None,
        label_selector: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        super().__init__(name=f"informer-{name}", daemon=True)
        self.label = name
        self.client_factory = client_factory
        self.path = path
        self.on_event = on_event
        self.on_sync = on_sync
        self.label_selector = label_selector
        self.stop_event = stop or threading.Event()
        self.lock = threading.Lock()
        self.cache: dict[str, dict[str, Any]] = {}
        # The resource version the list or watch has reached (None: not listed, or a version
        # that is not a number), and the answers offered ahead of the watch: key -> version.
        self.progress: int | None = None
        self.offered: dict[str, int] = {}
        self.synced = threading.Event()
        self.connected = False
        self.watch_seconds = WATCH_SECONDS  # the server ends each watch after this
        self.log = logging.getLogger(f"fornax.agent.{name}")

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return dict(self.cache)

    def count(self) -> int:
        with self.lock:
            return len(self.cache)

    def get(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            return self.cache.get(key)

    def offer(self, obj: Any) -> bool:
        """Take ``obj``, the answer of a write to this collection, before the watch brings it.

        Taken (cached, and reported as ADDED or MODIFIED) only when it is newer than anything
        the list or watch has brought: resource versions of a collection grow with every write,
        so a change or a delete the watch already delivered is never undone. Nothing is taken
        before the first list or when a version is not a number. When the watch then brings
        this same version, it is not reported a second time. False: not taken (the watch will
        bring it, or already has).
        """
        if not isinstance(obj, dict) or not self.synced.is_set():
            return False
        version = _version(obj)
        try:
            obj = self.shape(obj)
            key = object_key(obj)
        except (TypeError, ValueError):  # Malformed is a ValueError too
            return False
        with self.lock:
            if version < 0 or self.progress is None or version <= self.progress:
                return False
            known = self.cache.get(key)
            if known is not None and _version(known) >= version:
                return False
            self.cache[key] = obj
            self.offered[key] = version
        self._deliver("ADDED" if known is None else "MODIFIED", obj)
        return True

    def run(self) -> None:
        backoff = 0.05
        while not self.stop_event.is_set():
            client = None
            try:
                client = self.client_factory()
                version = self._list(client)
                backoff = 0.05
                while version and not self.stop_event.is_set():  # "": list again
                    version = self._watch(client, version)
            except KubeApiError as exc:
                if exc.status != 410:
                    self._lost(exc)
            except (KubeError, OSError, ValueError) as exc:
                self._lost(exc)
            except Exception as exc:  # a bug here must not end the watch for good
                FAULTS.unexpected(f"informer {self.label}", exc)
                self._lost(exc)
            finally:
                if client is not None:
                    client.close()
            if not self.stop_event.is_set():
                # Jitter: when a parent restarts or sheds load, hundreds of children re-list at
                # once; spreading them out keeps the re-list from being the next overload.
                self.stop_event.wait(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _lost(self, exc: Exception) -> None:
        if self.connected:
            self.log.warning("lost %s: %s", self.path, exc)
        self.connected = False

    def _fetch(self, client: KubeClient) -> dict[str, Any]:
        """The list the cache is made of (a subclass may choose among sources here)."""
        return client.get(self.path, labelSelector=self.label_selector)

    def shape(self, obj: dict[str, Any]) -> dict[str, Any]:
        """What the cache keeps of an object (all of it; a subclass may keep less)."""
        return obj

    def _list(self, client: KubeClient) -> str:
        listing = self._fetch(client)
        fresh = {}
        for raw in listing.get("items") or []:
            try:
                item = self.shape(self._with_kind(raw, listing))
                fresh[object_key(item)] = item
            except Malformed as exc:
                self.log.warning("%s: skipped %s", self.path, exc)
        listed = _number((listing.get("metadata") or {}).get("resourceVersion"))
        with self.lock:
            # An answer offered after this list was read is newer than the list: kept.
            ahead = {k: v for k, v in self.offered.items() if listed is None or v > listed}
            for key in ahead:
                if key in self.cache:
                    fresh[key] = self.cache[key]
            old, self.cache = self.cache, fresh
            self.offered, self.progress = ahead, listed
        for key, obj in fresh.items():
            if key not in old:
                self._deliver("ADDED", obj)
            elif old[key].get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self._deliver("MODIFIED", obj)
        for key, obj in old.items():
            if key not in fresh:
                self._deliver("DELETED", obj)
        self.connected = True
        self.synced.set()
        if self.on_sync:
            try:
                self.on_sync()
            except Exception as exc:
                FAULTS.unexpected(f"informer {self.label} (sync)", exc)
        return listing["metadata"]["resourceVersion"]

    def _taken(self, kind: str, key: str, obj: dict[str, Any], version: int | None) -> bool:
        """Cache a watch event; False when an offered answer already reported it (this very
        version) or something newer (an older version: the cache keeps the newer answer)."""
        with self.lock:
            self.progress = version
            ahead = self.offered.get(key)
            if ahead is not None and version is not None and version < ahead:
                return False
            if ahead is not None and version == ahead and kind != "DELETED":
                del self.offered[key]
                self.cache[key] = obj
                return False
            self.offered.pop(key, None)
            if kind == "DELETED":
                self.cache.pop(key, None)
            else:
                self.cache[key] = obj
            return True

    def _deliver(self, kind: str, obj: dict[str, Any]) -> None:
        try:
            self.on_event(kind, obj)
        except Exception as exc:  # one event's fault, never the informer's end
            FAULTS.unexpected(f"informer {self.label}", exc, f"{kind} {object_key(obj)}")

    @staticmethod
    def _with_kind(obj: dict[str, Any], listing: dict[str, Any]) -> dict[str, Any]:
        # Items of a list carry no kind/apiVersion; give them the list's.
        if "kind" not in obj and listing.get("kind", "").endswith("List"):
            obj["kind"] = listing["kind"][: -len("List")]
            obj["apiVersion"] = listing.get("apiVersion")
        return obj

    def _watch(self, client: KubeClient, version: str) -> str:
        for event in client.watch(
            self.path,
            resource_version=version,
            timeout_seconds=self.watch_seconds,
            label_selector=self.label_selector,
        ):
            obj = event.get("object") if isinstance(event, dict) else None
            kind = event.get("type") if isinstance(event, dict) else None
            if not isinstance(obj, dict) or kind not in (
                "ADDED",
                "MODIFIED",
                "DELETED",
                "BOOKMARK",
            ):
                self.log.warning(
                    "%s: skipped a malformed watch event: %s", self.path, str(event)[:200]
                )
                continue
            version = (obj.get("metadata") or {}).get("resourceVersion") or version
            if kind == "BOOKMARK":
                with self.lock:
                    self.progress = _number(version)
                continue
            try:
                obj = self.shape(obj)
                key = object_key(obj)
            except Malformed as exc:
                self.log.warning("%s: skipped %s", self.path, exc)
                continue
            if self._taken(kind, key, obj, _number(version)):
                self._deliver(kind, obj)
            if self.stop_event.is_set():
                break
        return version


def _number(version: Any) -> int | None:
    """A resource version as a number (None when it is not one: nothing is offered then)."""
    try:
        return int(version)
    except (TypeError, ValueError):
        return None


def _version(obj: dict[str, Any]) -> int:
    """An object's resource version as a number (-1 when it has none that is one)."""
    meta = obj.get("metadata")
    found = _number(meta.get("resourceVersion") if isinstance(meta, dict) else None)
    return -1 if found is None else found


def wait_synced(informers: list[Informer], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    return all(i.synced.wait(max(0.0, deadline - time.monotonic())) for i in informers)

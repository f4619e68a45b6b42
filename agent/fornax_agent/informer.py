"""List, then watch, one collection into a cache; resume after breaks, re-list after 410 Gone."""

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

Event = Callable[[str, dict[str, Any]], None]
MAX_BACKOFF = 2.0
WATCH_SECONDS = 120


def object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else meta["name"]


class Informer(threading.Thread):
    """Keeps ``cache`` equal to the collection at ``path`` and reports every change.

    ``on_event(type, obj)`` gets ADDED, MODIFIED and DELETED, also for differences found by a
    re-list (what changed while the watch was down); ``on_sync()`` runs after every list.
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
        self.synced = threading.Event()
        self.connected = False
        self.log = logging.getLogger(f"fornax.agent.{name}")

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return dict(self.cache)

    def get(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            return self.cache.get(key)

    def run(self) -> None:
        backoff = 0.05
        while not self.stop_event.is_set():
            client = None
            try:
                client = self.client_factory()
                version = self._list(client)
                backoff = 0.05
                while not self.stop_event.is_set():
                    version = self._watch(client, version)
            except KubeApiError as exc:
                if exc.status != 410:
                    self._lost(exc)
            except (KubeError, OSError, ValueError) as exc:
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

    def _list(self, client: KubeClient) -> str:
        listing = client.get(self.path, labelSelector=self.label_selector)
        fresh = {object_key(o): self._with_kind(o, listing) for o in listing.get("items") or []}
        with self.lock:
            old, self.cache = self.cache, fresh
        for key, obj in fresh.items():
            if key not in old:
                self.on_event("ADDED", obj)
            elif old[key].get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self.on_event("MODIFIED", obj)
        for key, obj in old.items():
            if key not in fresh:
                self.on_event("DELETED", obj)
        self.connected = True
        self.synced.set()
        if self.on_sync:
            self.on_sync()
        return listing["metadata"]["resourceVersion"]

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
            timeout_seconds=WATCH_SECONDS,
            label_selector=self.label_selector,
        ):
            obj = event["object"]
            version = obj.get("metadata", {}).get("resourceVersion") or version
            kind = event["type"]
            if kind == "BOOKMARK":
                continue
            key = object_key(obj)
            with self.lock:
                if kind == "DELETED":
                    self.cache.pop(key, None)
                else:
                    self.cache[key] = obj
            self.on_event(kind, obj)
            if self.stop_event.is_set():
                break
        return version


def wait_synced(informers: list[Informer], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    return all(i.synced.wait(max(0.0, deadline - time.monotonic())) for i in informers)

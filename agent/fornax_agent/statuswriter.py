"""Mission status writes on this cluster: several at once, never two for one Mission at a time.

Folding is cheap; the write is a round trip (writers.py: why several at once, and why never
two for one Mission). The base of the next diff is what this writer last wrote (the agent is
the only writer of Mission status), not the informer's copy, which lags behind our own writes:
no answer has to be kept until the watch catches up. After a failed write (its answer may have
been lost) the base is the informer's copy again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeClient

from .missioncache import compact_status
from .writers import KeyedWriters


class StatusWriter(KeyedWriters):
    def __init__(
        self,
        client_factory: Callable[[], KubeClient],
        workers: int,
        on_done: Callable[[str, bool], None],
        on_free: Callable[[], None] | None = None,
    ) -> None:
        """``on_done(name, failed)`` runs when Mission ``name`` needs folding again: it was
        asked for during its write, or the write failed; ``on_free()`` after every write (the
        folder waits for the API server's answers, see ``backlog``)."""
        super().__init__("status", client_factory, workers, on_done, on_free)
        self.written: dict[str, dict[str, Any]] = {}  # Mission -> the status last written
        self.pending: dict[str, dict[str, Any]] = {}  # Mission -> the status being written

    def base(self, name: str, cached: dict[str, Any]) -> dict[str, Any]:
        """The status Mission ``name`` has on the server, as far as this agent knows."""
        with self.lock:
            written = self.written.get(name)
        if written is not None:
            return written
        return cached.get("status") or {}

    def known(self, name: str) -> list[dict[str, Any]]:
        """The statuses of Mission ``name`` this writer wrote last or is writing (the cache of
        Missions keeps these objects instead of equal copies, missioncache.py)."""
        with self.lock:
            return [s for s in (self.written.get(name), self.pending.get(name)) if s is not None]

    def forget(self, name: str) -> None:
        with self.lock:
            self.written.pop(name, None)

    def submit_status(self, name: str, patch: dict[str, Any], status: dict[str, Any]) -> None:
        """Write ``patch``; ``status`` is what the Mission's status then holds."""
        status = compact_status(status)  # kept until the next write: its paths interned
        with self.lock:
            self.pending[name] = status
        path = names.mission_path(name, status=True)
        self.submit(name, lambda client: client.patch(path, {"status": patch}))

    def finished(self, name: str, landed: bool, failed: bool) -> None:
        status = self.pending.pop(name, None)
        if landed and status is not None:
            self.written[name] = status
        elif failed:
            self.written.pop(name, None)

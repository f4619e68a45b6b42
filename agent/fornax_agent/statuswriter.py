"""Mission status writes on this cluster: several at once, never two for one Mission at a time.

Folding is cheap; the write is a round trip, and a parent busy with hundreds of children answers
slowly. One write at a time would make a fold of a thousand Missions take a thousand round
trips; a few writers in parallel overlap them. Two writes of one Mission must not race (the
later could land first), so a Mission asked for while its write is in flight is folded again
after it.

The base of the next diff is what this writer last wrote (the agent is the only writer of
Mission status), not the informer's copy, which lags behind our own writes: no answer has to
be kept until the watch catches up. After a failed write (its answer may have been lost) the
base is the informer's copy again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
    KubeError,
)

log = logging.getLogger("fornax.agent.status")


class StatusWriter:
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
        self.client_factory = client_factory
        self.on_done = on_done
        self.on_free = on_free
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="status-writer")
        self.clients = threading.local()  # one long-lived client per writer thread
        self.lock = threading.Lock()
        self.in_flight: set[str] = set()
        self.again: set[str] = set()
        self.written: dict[str, dict[str, Any]] = {}  # Mission -> the status last written
        self.writes = 0

    def busy(self, name: str) -> bool:
        """True while a write of ``name`` is in flight (it will be folded again after it)."""
        with self.lock:
            if name in self.in_flight:
                self.again.add(name)
                return True
            return False

    def backlog(self) -> int:
        """Writes submitted and not answered yet (in flight or waiting for a writer)."""
        with self.lock:
            return len(self.in_flight)

    def base(self, name: str, cached: dict[str, Any]) -> dict[str, Any]:
        """The status Mission ``name`` has on the server, as far as this agent knows."""
        with self.lock:
            written = self.written.get(name)
        if written is not None:
            return written
        return cached.get("status") or {}

    def forget(self, name: str) -> None:
        with self.lock:
            self.written.pop(name, None)

    def submit(self, name: str, patch: dict[str, Any], status: dict[str, Any]) -> None:
        """Write ``patch``; ``status`` is what the Mission's status then holds."""
        with self.lock:
            self.in_flight.add(name)
        self.pool.submit(self._write, name, patch, status)

    def _client(self) -> KubeClient:
        client = getattr(self.clients, "client", None)
        if client is None:
            client = self.clients.client = self.client_factory()
        return client

    def _write(self, name: str, patch: dict[str, Any], status: dict[str, Any]) -> None:
        failed = False
        try:
            self._client().patch(names.mission_path(name, status=True), {"status": patch})
            with self.lock:
                self.written[name] = status
                self.writes += 1
        except KubeApiError as exc:
            if exc.status != 404:  # 404: the Mission is gone, nothing to fold
                log.warning("status of Mission %s not written, retrying: %s", name, exc)
                failed = True
        except (KubeError, OSError) as exc:
            log.warning("status of Mission %s not written, retrying: %s", name, exc)
            failed = True
            self.clients.client = None  # a fresh connection next time
        except Exception:  # a bug must not leave the Mission marked in flight forever
            log.exception("status of Mission %s", name)
            failed = True
        finally:
            with self.lock:
                if failed:
                    self.written.pop(name, None)
                self.in_flight.discard(name)
                again = name in self.again
                self.again.discard(name)
        if again or failed:
            self.on_done(name, failed)
        if self.on_free is not None:
            self.on_free()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

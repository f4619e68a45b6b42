"""Writes of named objects: several round trips at once, never two for one name at a time.

The agent decides what to write on its one work thread, from its caches; the write itself is a
round trip, and an API server busy with hundreds of children answers in tenths of a second. One
write at a time would make a burst of a thousand Missions a thousand round trips end to end, so
a few writer threads (each with one long-lived client) overlap them. Two writes of one name
must not race (the later could land first): a name asked for while its write is in flight is
marked, and its owner is told to decide again once the write has answered. Other work that
should not overlap a name's write (``after``) runs once that write has answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
    KubeError,
)

log = logging.getLogger("fornax.agent.writers")

Call = Callable[[KubeClient], None]


class KeyedWriters:
    def __init__(
        self,
        what: str,
        client_factory: Callable[[], KubeClient],
        workers: int,
        on_done: Callable[[str, bool], None],
        on_free: Callable[[], None] | None = None,
    ) -> None:
        """``on_done(name, failed)`` runs when ``name`` needs deciding again: it was asked for
        during its write, or the write failed; ``on_free()`` after every write."""
        self.what = what
        self.client_factory = client_factory
        self.on_done = on_done
        self.on_free = on_free
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix=f"{what}-writer")
        self.clients = threading.local()  # one long-lived client per writer thread
        self.lock = threading.Lock()
        self.in_flight: set[str] = set()
        self.again: set[str] = set()
        self.waiting: dict[str, list[Callable[[], None]]] = {}  # name -> run after its write
        self.writes = 0

    def busy(self, name: str) -> bool:
        """True while a write of ``name`` is in flight (``on_done`` follows its answer)."""
        with self.lock:
            if name in self.in_flight:
                self.again.add(name)
                return True
            return False

    def after(self, name: str, then: Callable[[], None]) -> bool:
        """True when a write of ``name`` is in flight: ``then()`` runs once it has answered
        (landed or not). False: none is, and ``then`` is dropped (go ahead now)."""
        with self.lock:
            if name not in self.in_flight:
                return False
            self.waiting.setdefault(name, []).append(then)
            return True

    def backlog(self) -> int:
        """Writes submitted and not answered yet (in flight or waiting for a writer)."""
        with self.lock:
            return len(self.in_flight)

    def submit(self, name: str, call: Call) -> None:
        """Run ``call(client)`` on a writer thread; a 404 answer counts as done (gone)."""
        with self.lock:
            self.in_flight.add(name)
        self.pool.submit(self._write, name, call)

    def finished(self, name: str, landed: bool, failed: bool) -> None:
        """Under ``self.lock``, once a write of ``name`` answered: ``landed`` when it was
        written, ``failed`` when it must be retried (neither: a 404, gone). For subclasses."""

    def _client(self) -> KubeClient:
        client = getattr(self.clients, "client", None)
        if client is None:
            client = self.clients.client = self.client_factory()
        return client

    def _write(self, name: str, call: Call) -> None:
        failed = landed = False
        try:
            call(self._client())
            landed = True
        except KubeApiError as exc:
            if exc.status != 404:  # 404: the object (or its owner) is gone, nothing to write
                log.warning("%s of %s not written, retrying: %s", self.what, name, exc)
                failed = True
        except (KubeError, OSError) as exc:
            log.warning("%s of %s not written, retrying: %s", self.what, name, exc)
            failed = True
            self.clients.client = None  # a fresh connection next time
        except Exception:  # a bug must not leave the name marked in flight forever
            log.exception("%s of %s", self.what, name)
            failed = True
        finally:
            with self.lock:
                self.writes += landed
                self.finished(name, landed, failed)
                self.in_flight.discard(name)
                again = name in self.again
                self.again.discard(name)
                waiting = self.waiting.pop(name, ())
        if again or failed:
            self.on_done(name, failed)
        for then in waiting:
            then()
        if self.on_free is not None:
            self.on_free()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

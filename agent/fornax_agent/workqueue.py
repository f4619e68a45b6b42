"""A de-duplicating, delayable work queue with priority classes.

A key queued twice is handled once. Among the keys that are due, the lowest priority class
goes first (the agent puts copying Missions down and executing them before reporting up),
and within a class the earliest. A long piece of work asks ``due_before`` between its steps
and yields to more urgent keys (a round of report writes stops between two shards).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Hashable


class WorkQueue:
    def __init__(self, priority: Callable[[Hashable], int] = lambda _key: 0) -> None:
        self._priority = priority
        self._cond = threading.Condition()
        self._heaps: dict[int, list[tuple[float, int, Hashable]]] = {}
        self._due: dict[Hashable, float] = {}
        self._seq = itertools.count()

    def add(self, key: Hashable, delay: float = 0.0) -> None:
        """Queue ``key`` to be handled after ``delay`` seconds (earliest request wins)."""
        due = time.monotonic() + delay
        with self._cond:
            if key in self._due and self._due[key] <= due:
                return
            self._due[key] = due
            heap = self._heaps.setdefault(self._priority(key), [])
            heapq.heappush(heap, (due, next(self._seq), key))
            self._cond.notify()

    def _pop_due(self, now: float) -> tuple[Hashable | None, float | None]:
        """The due key of the most urgent class, else (None, the next due time)."""
        next_due = None
        for priority in sorted(self._heaps):
            heap = self._head(priority)
            if not heap:
                continue
            due, _seq, key = heap[0]
            if due <= now:
                heapq.heappop(heap)
                del self._due[key]
                return key, None
            next_due = due if next_due is None else min(next_due, due)
        return None, next_due

    def due_before(self, key: Hashable) -> bool:
        """True when a key of a more urgent class than ``key``'s is due now: a long piece of
        work (a round of report writes) can stop and let it go first."""
        now = time.monotonic()
        limit = self._priority(key)
        with self._cond:
            for priority in sorted(self._heaps):
                if priority >= limit:
                    break
                heap = self._head(priority)
                if heap and heap[0][0] <= now:
                    return True
        return False

    def _head(self, priority: int) -> list[tuple[float, int, Hashable]]:
        """The heap of class ``priority``, its first entry a live request (under the lock)."""
        heap = self._heaps[priority]
        while heap and self._due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)  # superseded by an earlier request, or already taken
        return heap

    def get(self, timeout: float) -> Hashable | None:
        """The next due key, or None when none is due within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                key, next_due = self._pop_due(now)
                if key is not None:
                    return key
                if now >= deadline:
                    return None
                wait = deadline - now if next_due is None else min(deadline, next_due) - now
                self._cond.wait(max(wait, 0.001))

    def __len__(self) -> int:
        with self._cond:
            return len(self._due)

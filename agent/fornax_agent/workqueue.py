"""A de-duplicating, delayable work queue: a key queued twice is handled once."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Hashable


class WorkQueue:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, float] = {}
        self._seq = itertools.count()

    def add(self, key: Hashable, delay: float = 0.0) -> None:
        """Queue ``key`` to be handled after ``delay`` seconds (earliest request wins)."""
        due = time.monotonic() + delay
        with self._cond:
            if key in self._due and self._due[key] <= due:
                return
            self._due[key] = due
            heapq.heappush(self._heap, (due, next(self._seq), key))
            self._cond.notify()

    def get(self, timeout: float) -> Hashable | None:
        """The next due key, or None when none is due within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap:
                    due, _seq, key = self._heap[0]
                    if self._due.get(key) != due:
                        heapq.heappop(self._heap)  # superseded by an earlier request
                        continue
                    if due <= now:
                        heapq.heappop(self._heap)
                        del self._due[key]
                        return key
                    break
                wait = deadline - now
                if self._heap:
                    wait = min(wait, self._heap[0][0] - now)
                if deadline - now <= 0:
                    return None
                self._cond.wait(max(wait, 0.001))

    def __len__(self) -> int:
        with self._cond:
            return len(self._due)

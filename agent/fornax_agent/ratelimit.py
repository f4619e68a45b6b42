"""Rate limits: how often the agent may write Mission status, and how soon it retries.

A token bucket: how often the agent may write Mission status on its own cluster.

Under a burst (a thousand Missions arriving, two hundred children reporting each) an unlimited
folder would rewrite each Mission once per child report, each write re-storing a status of
about 100 kB. With a budget, writes spread out and the work queue merges the folds that wait,
so each write carries more news. Children watch the Missions' spec mirrors, not the Missions
(mirrors.py), so a status write is the parent's cost alone: the default (50/s) lets a full
fold of 1,000 Missions take 20 s; the status writer also waits for the API server's answers,
so a slow parent is written to more slowly. Quiet trees never notice: the bucket starts full.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"token bucket needs rate > 0 and burst >= 1, not {rate}, {burst}")
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until a token is free (0.0: one is free now); takes nothing."""
        with self.lock:
            self._refill()
            return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> float:
        """Take a token: 0.0 when one was free, else the seconds until one will be."""
        with self.lock:
            self._refill()
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            return (1.0 - self.tokens) / self.rate


class Backoff:
    """Bounded exponential delays with jitter, per key (a Mission, a kind of work).

    The n-th failure in a row waits ``base * 2**(n-1)`` seconds, at most ``cap``, spread by
    +-``jitter`` (a fraction) so that many Missions failing together do not retry together.
    """

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 60.0,
        jitter: float = 0.25,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if base <= 0 or cap < base or not 0 <= jitter < 1:
            raise ValueError(
                f"backoff needs 0 < base <= cap and 0 <= jitter < 1: {base, cap, jitter}"
            )
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.uniform = uniform
        self.lock = threading.Lock()
        self.failures: dict[Hashable, int] = {}

    def next(self, key: Hashable) -> float:
        """Count one more failure of ``key``; the seconds to wait before trying it again."""
        with self.lock:
            count = self.failures.get(key, 0) + 1
            self.failures[key] = count
        delay = min(self.cap, self.base * 2 ** min(count - 1, 32))
        return min(self.cap, delay * self.uniform(1 - self.jitter, 1 + self.jitter))

    def reset(self, key: Hashable) -> None:
        with self.lock:
            self.failures.pop(key, None)

    def count(self, key: Hashable) -> int:
        with self.lock:
            return self.failures.get(key, 0)

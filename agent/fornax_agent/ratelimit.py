"""A token bucket: how often the agent may write Mission status on its own cluster.

Every status write of a Mission is sent to every watcher of Missions, and every child watches
its parent's Missions; under a burst (a thousand Missions arriving, two hundred children
reporting each) an unlimited folder would rewrite each Mission once per child report. With a
budget, writes spread out and the work queue merges the folds that wait, so each write carries
more news. Quiet trees never notice: the bucket starts full.
"""

from __future__ import annotations

import threading
import time


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

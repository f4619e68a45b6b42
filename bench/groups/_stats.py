"""Small measuring helpers shared by the bench groups."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall-clock seconds of ``repeat`` calls of ``fn``."""
    samples = []
    for _attempt in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sample list."""
    ordered = sorted(samples)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def peak_rss_mb_children() -> float:
    """Peak resident set size, in MiB, of the finished child processes of this process."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

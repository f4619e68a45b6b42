"""Test-cluster start-up: one API server with warm (cached) binaries, and the A..D chain."""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from fornax_harness import ClusterSpec, start_clusters
from fornax_harness.binaries import k8s_bin_dir

REPEAT = 5


def _timed_start(specs: list[ClusterSpec]) -> float:
    root = Path(tempfile.mkdtemp(prefix="fornax-bench-"))
    try:
        started = time.perf_counter()
        clusters = start_clusters(specs, root)
        elapsed = time.perf_counter() - started
        for c in clusters:
            c.destroy()
        return elapsed
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run() -> dict[str, float]:
    bin_dir = k8s_bin_dir()  # builds nothing: fails when the cache is missing
    single = [_timed_start([ClusterSpec("warm")]) for _run in range(REPEAT)]
    chain = [_timed_start([ClusterSpec(n) for n in "abcd"]) for _run in range(3)]
    metrics = {
        "cluster_start_warm_seconds": statistics.median(single),
        "cluster_chain4_start_seconds": statistics.median(chain),
    }
    build_seconds = bin_dir.parent / "build-seconds"
    if build_seconds.exists():
        # Recorded once, when scripts/k8s-binaries.sh built the cache (cold Go build cache too).
        metrics["k8s_build_cold_seconds"] = float(json.loads(build_seconds.read_text()))
    return metrics

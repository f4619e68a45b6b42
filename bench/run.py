"""Run benchmark groups and merge their metrics into bench/results.json.

Usage: python bench/run.py [GROUP ...]   (no group: all of bench/groups/*.py)

A group is a module bench/groups/<name>.py with a function ``run() -> dict[str, float]`` that
returns flat metric names mapped to numbers (medians, ratios measured side by side). Results of
earlier runs of other groups are kept, so ``make bench BENCH=<group>`` refreshes one group only.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"


def available_groups() -> list[str]:
    return sorted(p.stem for p in (BENCH_DIR / "groups").glob("*.py") if not p.stem.startswith("_"))


def checked(group: str, metrics: object) -> dict[str, float]:
    if not isinstance(metrics, dict) or not metrics:
        raise SystemExit(f"bench group {group!r} returned {metrics!r}, not a dict of metrics")
    for name, value in metrics.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not isinstance(name, str) or not number or not math.isfinite(value):
            raise SystemExit(f"bench group {group!r}: metric {name!r}={value!r} is not a number")
    return metrics


def main(argv: list[str]) -> int:
    groups = argv or available_groups()
    unknown = sorted(set(groups) - set(available_groups()))
    if unknown:
        raise SystemExit(f"unknown bench group(s) {unknown}; available: {available_groups()}")
    sys.path.insert(0, str(BENCH_DIR))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for group in groups:
        started = time.monotonic()
        print(f"[bench] {group} ...", flush=True)
        metrics = checked(group, importlib.import_module(f"groups.{group}").run())
        results.update(metrics)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        for name, value in sorted(metrics.items()):
            print(f"[bench]   {name} = {value:.6g}")
        print(f"[bench] {group} done in {time.monotonic() - started:.1f} s", flush=True)
    print(f"[bench] wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

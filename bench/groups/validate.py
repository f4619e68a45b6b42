"""playbooks/validate.yml on the loopback demo tree (a -> b -> c -> d, four clusters).

The tree is started in a directory of its own (python -m fornax_harness demo up) and stopped
afterwards; the playbook runs as `make validate` runs it, with the collection's blueprint:

- validate_seconds_4_clusters: the default (non-disruptive) run, ansible-playbook start to end
- validate_tests_total: tests that ran (passed or failed) on the healthy tree (goal >= 40)
- validate_tests_failed: of those, failed (goal 0)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 1800


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fornax-bench-validate-") as tmp:
        env = dict(
            os.environ, FORNAX_DEMO_DIR=f"{tmp}/demo", ANSIBLE_INVENTORY_UNPARSED_FAILED="true"
        )
        harness = [sys.executable, "-m", "fornax_harness", "demo"]
        up = _run([*harness, "up"], env)
        try:
            if up.returncode != 0:
                raise SystemExit(
                    f"bench validate: demo up failed:\n{(up.stdout + up.stderr)[-4000:]}"
                )
            inventory = _run([*harness, "inventory"], env).stdout.strip()
            results = Path(tmp) / "results"
            started = time.perf_counter()
            play = _run(
                ["ansible-playbook", "-i", inventory, "playbooks/validate.yml",
                 "-e", f"validate_results_dir={results}", "-e", f"validate_state_dir={tmp}/state"],
                env,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            info_path = results / "test_info.yaml"
            if not info_path.exists():
                raise SystemExit(
                    f"bench validate: no report:\n{(play.stdout + play.stderr)[-4000:]}"
                )
            info = yaml.safe_load(info_path.read_text())["test_info"]
        finally:
            _run([*harness, "down"], env)
    return {
        "validate_seconds_4_clusters": elapsed,
        "validate_tests_total": float(info["totals"]["tests"]),
        "validate_tests_failed": float(info["totals"]["failed"]),
    }

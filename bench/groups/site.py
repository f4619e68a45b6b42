"""site.yml on the demo tree (inventories/local/: root -> region-eu -> site-a, site-b).

Podman containers are the hosts (scripts/demo.sh hosts), the Kubernetes binaries come from the
local cache. Measured once each (a rollout takes minutes on two cores):

- site_rollout_3level_seconds: fresh containers to a converged tree (site.yml, first run)
- site_rerun_3level_seconds / site_rerun_changed: the second run, and its changed tasks (goal 0)
- teardown_3level_seconds: playbooks/teardown.yml on the converged tree
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = "inventories/local/hosts.yml"
TIMEOUT = 1800


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = subprocess.run(
        [str(ROOT / "scripts/podman-image.sh"), "conf"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
    return env


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"bench site: {' '.join(argv)} failed:\n{(result.stdout + result.stderr)[-6000:]}"
        )
    return elapsed, result.stdout


def _changed(recap: str) -> int:
    return sum(
        int(n) for n in re.findall(r"changed=(\d+)", recap.rsplit("PLAY RECAP", maxsplit=1)[-1])
    )


def run() -> dict[str, float]:
    env = _env()
    demo = str(ROOT / "scripts/demo.sh")
    playbook = ["ansible-playbook", "-i", INVENTORY]
    _run([demo, "down"], env)  # fresh containers
    try:
        _run([demo, "hosts"], env)
        rollout, _out = _run([*playbook, "playbooks/site.yml"], env)
        rerun, out = _run([*playbook, "playbooks/site.yml"], env)
        teardown, _out = _run([*playbook, "playbooks/teardown.yml"], env)
    finally:
        _run([demo, "down"], env)
    return {
        "site_rollout_3level_seconds": rollout,
        "site_rerun_3level_seconds": rerun,
        "site_rerun_changed": float(_changed(out)),
        "teardown_3level_seconds": teardown,
    }

"""The molecule scenario of the collection: a 3-level tree on podman containers.

`molecule test -s tree3` (from extensions/) creates four privileged systemd containers from the
project's Debian image, converges playbooks/site.yml, checks idempotence (zero changed), verifies
that a Mission created at the root reaches the sites and its status returns to the root, and
destroys everything. Under CI=true a missing podman is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fornax_harness.prereq import require

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "tree3"
NETWORK = "fornax-molecule"
SUBNET = "10.89.71.0/24"  # the addresses of extensions/molecule/tree3/inventory/tree.yml
TIMEOUT = 2400  # seconds: image build on a fresh machine + a full molecule test on two cores


def _podman_env() -> dict[str, str]:
    env = dict(os.environ)
    conf = subprocess.run(
        [str(ROOT / "scripts/podman-image.sh"), "conf"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    env["CONTAINERS_CONF"] = conf
    return env


@pytest.mark.timeout(TIMEOUT + 120)
def test_molecule_tree3() -> None:
    require(
        shutil.which("podman") is not None,
        "podman",
        "install podman and runc: scripts/podman-image.sh (or apt-get install podman runc)",
    )
    require(
        shutil.which("molecule") is not None,
        "molecule",
        "create the project venv: scripts/bootstrap.sh venv (requirements.txt has molecule)",
    )
    env = _podman_env()
    image = subprocess.run(
        [str(ROOT / "scripts/podman-image.sh"), "ensure"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
        check=False,
    )
    assert image.returncode == 0, f"building the base image failed:\n{image.stderr[-4000:]}"
    env["FORNAX_IMAGE"] = image.stdout.strip().splitlines()[-1]
    subprocess.run(
        ["podman", "network", "rm", "-f", NETWORK], capture_output=True, env=env, check=False
    )
    subprocess.run(
        ["podman", "network", "create", "--subnet", SUBNET, NETWORK],
        capture_output=True,
        env=env,
        timeout=120,
        check=True,
    )
    log_path = ROOT / "tests/output" / f"molecule-{SCENARIO}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log_path.open("w") as log:  # the whole run, readable while it goes on
            result = subprocess.run(
                ["molecule", "test", "-s", SCENARIO],
                cwd=ROOT / "extensions",
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                timeout=TIMEOUT,
                check=False,
            )
    finally:
        # molecule's destroy removes the containers; the network is the scenario's own.
        subprocess.run(
            ["podman", "network", "rm", "-f", NETWORK],
            capture_output=True,
            env=env,
            timeout=120,
            check=False,
        )
    output = log_path.read_text(errors="replace")
    assert result.returncode == 0, (
        f"molecule test -s {SCENARIO} failed (full log: {log_path}):\n{output[-20000:]}"
    )

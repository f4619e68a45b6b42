"""The molecule scenario of the collection: a 3-level tree on podman containers.

The scenario's steps are run one by one from extensions/ so that each is timed and the check
mode run can be asserted: `molecule create` (four privileged systemd containers from the
project's Debian image, reached over SSH), `converge` (playbooks/site.yml), `idempotence` (zero
changed), `check` (site.yml with --check on the converged tree: zero changed, no failure),
`verify` (a Mission created at the root reaches the sites, its pods run Ready with pod IPs on
the sites' real nodes, nested in their containers, and its status returns to the root),
and, always, `destroy`, then the network is removed. Under CI=true a missing podman is a
failure, not a skip.

The check step costs as much as a second run (about 6 of the 23 minutes on two loaded cores):
`make molecule` runs it, `make test` sets FORNAX_MOLECULE_CHECK=0 to leave it out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from fornax_harness.prereq import require

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "tree3"
NETWORK = "fornax-molecule"
SUBNET = "10.89.71.0/24"  # the addresses of extensions/molecule/tree3/inventory/hosts/tree.yml
CONTAINERS = ("mol-root", "mol-region", "mol-site-a", "mol-site-b")
IMAGE_TIMEOUT = 1200  # seconds: the base image is built on a fresh machine (debootstrap)
STEP_TIMEOUT = {"create": 300, "converge": 1500, "idempotence": 900, "check": 900, "verify": 600}
DESTROY_TIMEOUT = 300
LOG = ROOT / "tests/output" / f"molecule-{SCENARIO}.log"
# FORNAX_MOLECULE_CHECK=0 leaves out the check mode run (make test does, for time).
WITH_CHECK = os.environ.get("FORNAX_MOLECULE_CHECK", "1") != "0"


def _podman_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = subprocess.run(
        [str(ROOT / "scripts/podman-image.sh"), "conf"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    return env


def _molecule(step: str, env: dict[str, str], timeout: int) -> tuple[int, str, float]:
    """Run one molecule step, appending its output to LOG; return rc, its output, seconds."""
    started = time.monotonic()
    with LOG.open("a") as log:
        log.write(f"\n===== molecule {step} -s {SCENARIO}\n")
        log.flush()
        begin = log.tell()
        try:
            rc = subprocess.run(
                ["molecule", step, "-s", SCENARIO],
                cwd=ROOT / "extensions",
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            rc = -1
            log.write(f"\n===== molecule {step}: timed out after {timeout} s\n")
    seconds = time.monotonic() - started
    with LOG.open() as log:
        log.seek(begin)
        output = log.read()
    with LOG.open("a") as log:
        log.write(f"===== molecule {step}: rc {rc} in {seconds:.0f} s\n")
    return rc, output, seconds


def _changed(output: str) -> int:
    """The changed tasks of the last PLAY RECAP of an ansible-playbook output."""
    recap = output.rsplit("PLAY RECAP", maxsplit=1)[-1]
    return sum(int(n) for n in re.findall(r"changed=(\d+)", recap))


def _cleanup(env: dict[str, str]) -> list[str]:
    """Remove what the scenario made, whatever molecule's destroy did; return what was left."""
    subprocess.run(
        ["podman", "rm", "-f", "-t", "5", *CONTAINERS],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    subprocess.run(
        ["podman", "network", "rm", "-f", NETWORK],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    left = [
        name
        for name in CONTAINERS
        if subprocess.run(
            ["podman", "container", "exists", name], env=env, timeout=60, check=False
        ).returncode
        == 0
    ]
    if (
        subprocess.run(
            ["podman", "network", "exists", NETWORK], env=env, timeout=60, check=False
        ).returncode
        == 0
    ):
        left.append(f"network {NETWORK}")
    return left


def _script(env: dict[str, str], name: str, *args: str) -> subprocess.CompletedProcess:
    """Run one of scripts/ that builds images (bounded by IMAGE_TIMEOUT)."""
    return subprocess.run(
        [str(ROOT / "scripts" / name), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=IMAGE_TIMEOUT,
        check=False,
    )


@pytest.mark.timeout(IMAGE_TIMEOUT + sum(STEP_TIMEOUT.values()) + DESTROY_TIMEOUT + 300)
def test_molecule_tree3() -> None:
    require(
        shutil.which("podman") is not None,
        "podman",
        "install podman and runc: scripts/bootstrap.sh podman (or apt-get install podman runc)",
    )
    require(
        shutil.which("molecule") is not None,
        "molecule",
        "create the project venv: scripts/bootstrap.sh venv (requirements-dev.txt has molecule)",
    )
    env = _podman_env()
    image = _script(env, "podman-image.sh", "ensure")
    assert image.returncode == 0, f"building the base image failed:\n{image.stderr[-4000:]}"
    env["FORNAX_IMAGE"] = image.stdout.strip().splitlines()[-1]
    # The sites' nodes import the node images (pause, httpd) from these archives (cached).
    images = _script(env, "node-images.sh")
    assert images.returncode == 0, f"building the node images failed:\n{images.stderr[-4000:]}"
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text(f"molecule scenario {SCENARIO} with {env['FORNAX_IMAGE']}\n")
    # A previous run that was killed may have left the containers or the network behind.
    _cleanup(env)
    # The hosts have fixed addresses: the network is made here with its subnet.
    subprocess.run(
        ["podman", "network", "create", "--subnet", SUBNET, NETWORK],
        capture_output=True,
        env=env,
        timeout=120,
        check=True,
    )
    seconds: dict[str, float] = {}
    failure = ""
    try:
        steps = ["create", "converge", "idempotence", *(["check"] if WITH_CHECK else []), "verify"]
        for step in steps:
            rc, output, seconds[step] = _molecule(step, env, STEP_TIMEOUT[step])
            if rc != 0:
                failure = f"molecule {step} failed (rc {rc}):\n{output[-15000:]}"
                break
            if step == "check" and _changed(output) != 0:
                failure = (
                    f"site.yml --check on the converged tree reported {_changed(output)} "
                    f"changed task(s):\n{output[-15000:]}"
                )
                break
    finally:
        rc, output, seconds["destroy"] = _molecule("destroy", env, DESTROY_TIMEOUT)
        left = _cleanup(env)
    timings = ", ".join(f"{step} {s:.0f} s" for step, s in seconds.items())
    with LOG.open("a") as log:
        log.write(f"\n===== timings: {timings}; total {sum(seconds.values()):.0f} s\n")
    print(f"molecule {SCENARIO}: {timings}")  # shown by pytest -rA or -s
    assert not failure, f"{failure}\n(full log: {LOG}; {timings})"
    assert rc == 0, f"molecule destroy failed (rc {rc}):\n{output[-6000:]}"
    assert not left, f"left behind after the scenario: {', '.join(left)}"

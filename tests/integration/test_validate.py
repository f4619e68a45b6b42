"""`make validate` and playbooks/validate.yml on the loopback demo tree (a -> b -> c -> d).

The tree is the one `make validate` starts itself (python -m fornax_harness demo up, in a
directory of this test session); every test leaves it whole again. What is proved:

- a healthy tree passes, with results in BluVal's shape (>= 40 tests, none failed), and the
  HTML report shows the tree (a headless Chromium screenshot, all boxes green);
- with c's agent stopped the run fails naming the show-stopper, and the picture shows c red;
- an unreachable cluster is a failed test, in bounded time, not a crash;
- a blueprint with an unknown layer, suite or test fails before anything runs, naming it;
- a run interrupted by SIGTERM or SIGINT restores what it stopped and deletes its Missions;
  a run killed with SIGKILL leaves a journal that the next run's clean-up undoes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.base import (
    VALIDATION_LABEL,
)
from fornax_harness.binaries import repo_root
from fornax_harness.prereq import require
from fornax_harness.tree import wait_for

ROOT = repo_root()
PASS_RGB, FAIL_RGB = (0x2B, 0x8A, 0x3E), (0xC9, 0x2A, 0x2A)  # report.COLOURS
BOX_AREA = 210 * 66  # report.BOX_W * BOX_H
RUN_TIMEOUT = 900


@pytest.fixture(scope="module")
def demo(k8s_bin, tmp_path_factory):
    """FORNAX_DEMO_DIR of this module's loopback tree; `make validate` starts it."""
    path = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, FORNAX_DEMO_DIR=str(path), ANSIBLE_NOCOLOR="1")
    state = tmp_path_factory.mktemp("validate-state")
    yield {"dir": path, "env": env, "state": state}
    try:  # each process gets a bounded stop; on a loaded machine two dozen take minutes
        subprocess.run(
            ["python", "-m", "fornax_harness", "demo", "down"], env=env, timeout=600, check=False
        )
    except subprocess.TimeoutExpired:
        for entry in json.loads((path / "state.json").read_text()):
            for pid in entry["pids"].values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)


def ensure_up(demo) -> None:
    """Start the tree when an earlier test (normally `make validate`) has not."""
    if not (demo["dir"] / "state.json").exists():
        harness(demo, "up")


def harness(demo, *args: str) -> str:
    proc = subprocess.run(
        ["python", "-m", "fornax_harness", "demo", *args],
        env=demo["env"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def entries(demo) -> dict:
    return {e["name"]: e for e in json.loads((demo["dir"] / "state.json").read_text())}


def client(demo, cluster: str) -> KubeClient:
    kubeconfig = entries(demo)[cluster]["kubeconfig"]
    return KubeClient(settings_from_kubeconfig(kubeconfig), timeout=5, connect_retries=0)


def health(demo, at: str, name: str) -> str | None:
    with client(demo, at) as c:
        ec = c.get_or_none(names.edgecluster_path(name)) or {}
    return (ec.get("status") or {}).get("healthStatus")


def tree_healthy(demo) -> bool:
    with client(demo, "a") as a:
        b = a.get_or_none(names.edgecluster_path("b")) or {}
    status = b.get("status") or {}
    return status.get("healthStatus") == "healthy" and status.get("subEdgeClusterStates") == {
        "c": "healthy",
        "c/d": "healthy",
    }


def validation_missions(demo) -> list[str]:
    with client(demo, "a") as a:
        items = a.get(names.MISSIONS, labelSelector=VALIDATION_LABEL)["items"]
    return [i["metadata"]["name"] for i in items]


def make_validate(
    demo, results: Path, *extra: str, target: str = "validate"
) -> subprocess.CompletedProcess:
    """`make validate` (target "validate") or the script it runs, with more playbook args."""
    env = dict(
        demo["env"],
        FORNAX_VALIDATE_RESULTS=str(results),
        VALIDATE_ARGS=" ".join([f"-e validate_state_dir={demo['state']}", *extra]),
    )
    argv = ["make", "-s", target] if target else [str(ROOT / "scripts" / "validate-demo.sh")]
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def run_info(results: Path) -> dict:
    return yaml.safe_load((results / "test_info.yaml").read_text())["test_info"]


# -- the report as a picture ---------------------------------------------------------------------


def screenshot(page: Path, png: Path, profile: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    require(
        chromium is not None,
        "chromium (the headless browser that checks the report)",
        "apt-get install chromium (scripts/apt-packages.txt lists it)",
    )
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            "--window-size=1280,1000",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and png.exists(), proc.stderr[-2000:]


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prev[i]
            corner = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


def colour_count(path: Path, rgb: tuple[int, int, int]) -> int:
    _width, bpp, rows = png_pixels(path)
    wanted = bytes(rgb)
    return sum(1 for row in rows for i in range(0, len(row), bpp) if row[i : i + 3] == wanted)


# -- the tests --------------------------------------------------------------------------------------


def test_make_validate_passes_on_a_healthy_tree(demo, tmp_path):
    results = tmp_path / "results"
    run = make_validate(demo, results)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert "no loopback demo tree runs: starting one" in out, "make validate started the tree"
    assert f"report: {results}/index.html" in out
    info = run_info(results)
    assert info["result"] == "PASS", info["failures"]
    assert info["totals"]["failed"] == 0, info["failures"]
    assert info["totals"]["tests"] >= 40, info["totals"]
    for suite in info["suites"]:
        where = results / suite["results"]
        for name in ("output.xml", "log.html", "report.html", "xunit.xml"):
            assert (where / name).is_file(), where / name
        junit = (where / "xunit.xml").read_text()
        assert re.search(r"<testsuite [^>]*tests=\"\d+\"", junit), junit[:300]
    assert validation_missions(demo) == [], "the run deleted its Missions"
    page = results / "index.html"
    png = tmp_path / "healthy.png"
    screenshot(page, png, tmp_path / "chromium")
    assert colour_count(png, PASS_RGB) >= 4 * BOX_AREA * 0.6, "four green clusters"
    assert colour_count(png, FAIL_RGB) < BOX_AREA * 0.05, "no red box (the legend has a red square)"


def test_an_agent_stopped_fails_naming_the_show_stopper(demo, tmp_path):
    ensure_up(demo)
    harness(demo, "agent", "stop", "c")
    try:
        wait_for(lambda: health(demo, "b", "c") == "disconnected", 60, "c disconnected at b", 0.5)
        results = tmp_path / "results"
        run = make_validate(demo, results, target="")
        out = run.stdout + run.stderr
        assert run.returncode != 0, out[-4000:]
        assert "show-stoppers failed: fornax/registration/registered registered [c]" in out, out[
            -4000:
        ]
        info = run_info(results)
        assert info["result"] == "FAIL"
        assert info["show_stopper_failures"][0]["name"] == "registered [c]"
        assert info["suites"][-1]["status"] == "SKIP", "the run stopped at the show-stopper"
        png = tmp_path / "stopped.png"
        screenshot(results / "index.html", png, tmp_path / "chromium")
        assert colour_count(png, FAIL_RGB) >= BOX_AREA * 0.6, "c is red"
        assert colour_count(png, PASS_RGB) >= 3 * BOX_AREA * 0.6, "a, b and d are green"
    finally:
        harness(demo, "agent", "start", "c")
        wait_for(lambda: tree_healthy(demo), 90, "the tree healthy again", 0.5)


def test_an_unreachable_cluster_is_a_failed_test(demo, tmp_path):
    ensure_up(demo)
    harness(demo, "apiserver", "stop", "d")
    try:
        results = tmp_path / "results"
        started = time.monotonic()
        run = make_validate(demo, results, target="")
        elapsed = time.monotonic() - started
        out = run.stdout + run.stderr
        assert run.returncode != 0, out[-4000:]
        info = run_info(results)
        failed = {f["name"]: f["message"] for f in info["failures"]}
        assert "readyz [d]" in failed, failed
        assert "cluster d is unreachable" in failed["readyz [d]"]
        assert "Traceback" not in out
        assert elapsed < 300, f"bounded: {elapsed:.0f} s"
    finally:
        harness(demo, "apiserver", "start", "d")
        wait_for(lambda: tree_healthy(demo), 90, "the tree healthy again", 0.5)


def test_a_bad_blueprint_fails_before_anything_runs(demo, tmp_path):
    ensure_up(demo)
    blueprint = tmp_path / "bluval-mine.yml"
    blueprint.write_text(
        yaml.safe_dump(
            {
                "blueprint": "mine",
                "layers": {
                    "k8s": {"control_plane": {"readyz": {"show_stoper": True}}, "storage": {}},
                    "hardware": {"bios": {"version": {}}},
                    "fornax": {"missions": {"to_everyone": {}}},
                },
            }
        )
    )
    results = tmp_path / "results"
    run = make_validate(demo, results, f"-e validate_blueprint={blueprint}", target="")
    out = run.stdout + run.stderr
    assert run.returncode != 0
    for problem in (
        "layers.k8s.control_plane.readyz.show_stoper: unknown setting",
        "layers.k8s.storage: unknown suite of layer k8s",
        "layers.hardware: unknown layer",
        "layers.fornax.missions.to_everyone: unknown test of suite fornax/missions",
    ):
        assert problem in out, out[-3000:]
    assert not results.exists(), "nothing ran"
    assert validation_missions(demo) == []


def disruption_blueprint(tmp_path: Path) -> Path:
    """Only the stop-agent scenario, not optional: the shortest way to a disruption."""
    path = tmp_path / "bluval-disrupt.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "blueprint": "disrupt",
                "layers": {"fornax": {"disruption": {"stop_agent": {"show_stopper": True}}}},
            }
        )
    )
    return path


def journal_entries(demo) -> list:
    found = []
    for path in demo["state"].glob("disruptions-*.json"):
        found += json.loads(path.read_text() or "[]")
    return found


def start_disruptive_run(demo, tmp_path: Path) -> subprocess.Popen:
    env = dict(
        demo["env"],
        FORNAX_VALIDATE_RESULTS=str(tmp_path / "results"),
        VALIDATE_ARGS=f"-e validate_state_dir={demo['state']} -e validate_destructive=true "
        f"-e validate_blueprint={disruption_blueprint(tmp_path)}",
    )
    log = (tmp_path / "run.log").open("w")
    return subprocess.Popen(
        [str(ROOT / "scripts" / "validate-demo.sh")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Ansible's workers start sessions of their own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: set[int], timeout: float) -> None:
    wait_for(
        lambda: not any(alive(p) for p in pids), timeout, f"processes {sorted(pids)} to exit", 0.5
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_run_leaves_nothing_behind(demo, tmp_path, sig):
    ensure_up(demo)
    run = start_disruptive_run(demo, tmp_path)
    try:
        # The journal names the agent before the run stops it; the signal follows at once, well
        # inside the disconnection the run waits for (waiting to see b disconnected first let a
        # fast run finish its suites before the signal, and report PASS).
        wait_for(lambda: journal_entries(demo), 240, "the run to stop an agent", 0.2)
        everything = {run.pid} | descendants(run.pid)
        os.killpg(run.pid, sig)  # a terminal's Ctrl-C, a CI job cancelled
        run.wait(timeout=120)
        wait_gone(everything, 300)  # the engine finishes its clean-up, then exits
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    log = (tmp_path / "run.log").read_text()
    assert run.returncode != 0, log[-3000:]
    assert journal_entries(demo) == [], log[-3000:]
    wait_for(lambda: tree_healthy(demo), 90, "b's agent running again, the tree healthy", 0.5)
    wait_for(lambda: validation_missions(demo) == [], 30, "no validation Mission left", 0.5)
    assert run_info(tmp_path / "results")["result"] == "INTERRUPTED"


def test_a_killed_run_is_cleaned_up_by_the_next_run(demo, tmp_path):
    ensure_up(demo)
    first = tmp_path / "first"
    first.mkdir()
    agent = entries(demo)["b"]["pids"]["agent"]
    run = start_disruptive_run(demo, first)
    try:
        # The journal names the agent before the run stops it. The kill must come after the stop
        # (killed before it, the run leaves b running and this test proves nothing) and before
        # the restore: the run holds b stopped until its parent sees it disconnected (the
        # heartbeat timeout, seconds), so the kill follows as soon as b's agent process is gone.
        wait_for(lambda: journal_entries(demo), 240, "the run to stop an agent", 0.2)
        wait_for(lambda: not alive(agent), 60, f"b's agent (pid {agent}) to stop", 0.05)
        everything = {run.pid} | descendants(run.pid)
        for pid in everything:  # the whole run dies at once, the engine included
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_gone(everything, 60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert journal_entries(demo), "a killed run leaves its journal"
    assert validation_missions(demo), "and its Mission"
    wait_for(
        lambda: health(demo, "a", "b") == "disconnected", 60, "b disconnected at a (stopped)", 0.5
    )
    results = tmp_path / "next"
    run = make_validate(demo, results, "-e validate_layers=fornax", target="")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-5000:]
    assert "restored b: agent" in out, out[-5000:]
    assert journal_entries(demo) == []
    assert validation_missions(demo) == []
    assert tree_healthy(demo)

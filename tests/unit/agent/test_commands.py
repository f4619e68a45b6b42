"""Mission commands: process groups, bounded output, the pool, per-Mission bookkeeping.

Real /bin/sh processes; each marker command (``sleep 999.<n>``) is unique so the test can tell
whether that very process outlived its command.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from fornax_agent import commands
from fornax_agent.commands import (
    COMMAND,
    OUTPUT_CAP,
    Job,
    MissionCommands,
    Outcome,
    Pool,
    Runner,
    Submitted,
    resolve_user,
)


def runner(timeout: float = 5.0, **kwargs) -> Runner:
    return Runner(timeout, "/usr/bin/kubectl", "/etc/x y.kubeconfig", **kwargs)


def pids_running(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (zombies excluded)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def gone(marker: str, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while pids_running(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_placeholders_are_quoted_paths():
    assert runner().substitute("[kubectl] --kubeconfig [kubeconfig] get x") == (
        "/usr/bin/kubectl --kubeconfig '/etc/x y.kubeconfig' get x"
    )


def test_output_is_read_as_it_comes_and_capped():
    started = time.monotonic()
    outcome = runner().run("head -c 30000000 /dev/zero | tr '\\0' y; echo; echo err >&2")
    assert outcome.code == 0
    assert len(outcome.stdout) == OUTPUT_CAP
    assert outcome.dropped == 30_000_001 - OUTPUT_CAP
    assert outcome.stderr == b"err\n"
    assert outcome.first_line() == "y" * commands.MAX_STATE_LINE
    assert time.monotonic() - started < 5.0


def test_background_jobs_neither_hold_the_pipe_nor_survive():
    started = time.monotonic()
    outcome = runner(timeout=10).run("sleep 999.101 & nohup sleep 999.102 & echo started")
    assert time.monotonic() - started < 3.0, "the command ended with the shell, not the timeout"
    assert (outcome.code, outcome.first_line(), outcome.timed_out) == (0, "started", False)
    assert gone("sleep 999.101") and gone("sleep 999.102")


def test_timeout_kills_the_whole_process_group():
    started = time.monotonic()
    outcome = runner(timeout=0.5).run("sh -c 'sleep 999.103' & sleep 999.104; echo never")
    assert outcome.timed_out and outcome.code is None
    assert time.monotonic() - started < 3.0
    assert gone("sleep 999.103") and gone("sleep 999.104")


def test_a_command_that_closes_its_output_still_times_out():
    outcome = runner(timeout=0.5).run("exec >&- 2>&-; sleep 999.105")
    assert outcome.timed_out
    assert gone("sleep 999.105")


def test_an_escaped_session_cannot_hold_the_pipe():
    started = time.monotonic()
    outcome = runner(timeout=10).run("setsid sleep 999.106 & echo out")
    try:
        assert time.monotonic() - started < 3.0
        assert outcome.first_line() == "out"
    finally:  # it left the process group on purpose: end it here, by its id
        for pid in pids_running("sleep 999.106"):
            os.kill(pid, signal.SIGKILL)


def test_first_line_is_printable_and_bounded():
    assert Outcome(0, b"\x00\x01ab\tc\nsecond", b"").first_line() == "??ab?c"
    assert Outcome(1, b"  \n", b"oops\n").first_line() == "oops"
    assert Outcome(0, b"x" * 1000, b"").first_line() == "x" * commands.MAX_STATE_LINE


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_commands_run_as_the_configured_user():
    nobody = resolve_user("nobody")
    outcome = runner(user=nobody).run("id -u; id -G")
    lines = outcome.stdout.decode().split()
    assert lines == [str(nobody.uid), str(nobody.gid)]


def test_unknown_users_are_refused():
    with pytest.raises(ValueError, match="'no-such-user-x' is not a user of this host"):
        resolve_user("no-such-user-x")


def test_mission_command_trigger_rules():
    run = runner(timeout=2)
    assert run.mission_command({"trigger": "false", "command": "true"}) == "done"
    assert run.mission_command({"trigger": "true", "command": "true"}) == "skipped"
    assert (
        run.mission_command(
            {"trigger": "true", "runwhentriggersucceed": True, "command": "echo bad; exit 3"}
        )
        == "failed: command exited 3: bad"
    )
    assert run.mission_command({"trigger": "sleep 999.107"}).startswith(
        "failed: trigger timed out after 2 s"
    )
    assert run.statecheck("echo 2/2 ready") == "2/2 ready"
    assert run.statecheck("exit 4") == "failed: statecheck exited 4"
    assert run.statecheck("kill -9 $$") == "failed: statecheck was killed by signal 9"


class Recorder:
    def __init__(self) -> None:
        self.done: list[tuple[Job, str]] = []
        self.event = threading.Event()

    def __call__(self, job: Job, state: str) -> None:
        self.done.append((job, state))
        self.event.set()


def test_the_pool_is_bounded_and_serves_one_job_per_mission():
    stop = threading.Event()
    recorder = Recorder()
    gate = threading.Event()

    class Slow(Runner):
        def statecheck(self, command: str) -> str:
            gate.wait(5)
            return command

    pool = Pool(Slow(5, "k", "c"), workers=1, size=2, on_done=recorder, stop=stop)
    try:
        assert pool.submit(Job("m1", "statecheck", 1, "one")) is Submitted.ACCEPTED
        assert pool.submit(Job("m1", "statecheck", 1, "again")) is Submitted.BUSY
        assert pool.submit(Job("m2", "statecheck", 1, "two")) is Submitted.ACCEPTED
        time.sleep(0.2)  # m1 runs; m2 waits in the queue
        assert pool.submit(Job("m3", "statecheck", 1, "three")) is Submitted.ACCEPTED
        assert pool.submit(Job("m4", "statecheck", 1, "four")) is Submitted.FULL
        gate.set()
        deadline = time.monotonic() + 5
        while len(recorder.done) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(state for _job, state in recorder.done) == ["one", "three", "two"]
    finally:
        pool.close()


def test_a_worker_survives_an_exception(caplog):
    stop = threading.Event()
    recorder = Recorder()

    class Broken(Runner):
        def statecheck(self, command: str) -> str:
            raise TypeError("a bug")

    pool = Pool(Broken(5, "k", "c"), workers=1, size=4, on_done=recorder, stop=stop)
    try:
        pool.submit(Job("m", "statecheck", 1, "x"))
        assert recorder.event.wait(5)
        assert recorder.done[0][1] == "failed: agent error running the statecheck: TypeError: a bug"
        recorder.event.clear()
        pool.submit(Job("m", "statecheck", 1, "x"))
        assert recorder.event.wait(5), "the worker is still there"
    finally:
        pool.close()


def make_commands(tmp_records: dict, woken: list, **kwargs) -> MissionCommands:
    stop = threading.Event()
    return MissionCommands(
        allowed=kwargs.pop("allowed", True),
        runner=runner(timeout=5),
        workers=2,
        queue_size=8,
        statecheck_interval=kwargs.pop("interval", 60.0),
        records=tmp_records,
        persist=lambda name, record: (
            tmp_records.update({name: record})
            if record is not None
            else tmp_records.pop(name, None)
        ),
        wake=lambda name, delay: woken.append((name, delay)),
        stop=stop,
    )


def wait_woken(woken: list, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(woken) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(woken) >= count


def test_mission_commands_run_once_per_generation_and_reverse_on_retire(tmp_path):
    records: dict = {}
    woken: list = []
    mc = make_commands(records, woken)
    marker = tmp_path / "reversed"
    command = {"command": "true", "reversecommand": f"touch {marker}"}
    try:
        assert mc.command_state("m", "uid-1", 1, command) == "pending"
        wait_woken(woken, 1)
        assert mc.command_state("m", "uid-1", 1, command) == "done"
        assert records["m"]["state"] == "done"
        assert mc.command_state("m", "uid-1", 1, command) == "done", "not run twice"
        assert mc.retire("m") is False, "the reversecommand is queued"
        assert records["m"]["reversing"] is True
        wait_woken(woken, 2)
        assert mc.retire("m") is True
        assert marker.exists()
        assert "m" not in records
    finally:
        mc.close()


def test_a_recreated_mission_runs_its_command_again():
    records = {"m": {"generation": 1, "uid": "old", "state": "done", "reverse": None}}
    woken: list = []
    mc = make_commands(records, woken)
    try:
        assert mc.command_state("m", "new", 1, {"command": "true"}) == "pending"
    finally:
        mc.close()


def test_statecheck_is_rate_limited_per_mission():
    records: dict = {}
    woken: list = []
    mc = make_commands(records, woken, interval=60.0)
    try:
        assert mc.statecheck("m", 1, "echo one") is None
        wait_woken(woken, 1)
        assert mc.statecheck("m", 1, "echo two") == "one"
        time.sleep(0.2)
        assert mc.statecheck("m", 1, "echo two") == "one", "not run again within the interval"
        assert len(woken) == 1
        assert mc.statecheck("m", 2, "echo three") is None, "a new generation starts afresh"
    finally:
        mc.close()


def test_commands_are_refused_where_not_allowed():
    mc = make_commands({}, [], allowed=False)
    try:
        assert mc.command_state("m", "u", 1, {"command": "true"}) == (
            "failed: missioncommand is disabled on this cluster (allow_commands: false)"
        )
        assert mc.statecheck("m", 1, "echo x") is None
    finally:
        mc.close()


def test_a_full_queue_asks_again_later():
    records: dict = {}
    woken: list = []
    mc = make_commands(records, woken)
    mc.pool.close()  # no worker takes anything: the queue fills up
    try:
        for i in range(8):
            mc.pool.submit(Job(f"filler-{i}", COMMAND, 1, {"command": "true"}))
        assert mc.command_state("m", "u", 1, {"command": "true"}) == "pending"
        assert woken and woken[-1][0] == "m" and woken[-1][1] > 0
    finally:
        mc.close()


def test_a_mission_deleted_while_its_command_runs_is_still_reversed(tmp_path):
    records: dict = {}
    woken: list = []
    mc = make_commands(records, woken)
    marker = tmp_path / "reversed"
    command = {"command": "sleep 0.5", "reversecommand": f"touch {marker}"}
    try:
        assert mc.command_state("m", "uid-1", 1, command) == "pending"
        assert mc.retire("m") is False, "the command runs: retire waits for it"
        wait_woken(woken, 1)
        assert mc.retire("m") is False, "it ran: its reversecommand is queued"
        wait_woken(woken, 2)
        assert mc.retire("m") is True
        assert marker.exists()
        assert records == {}
    finally:
        mc.close()

"""Mission commands: only where the cluster opted in, off the work loop, bounded in every way.

The Mission author's command is handed to /bin/sh as ONE argument, exactly as written; the
agent never pastes Mission content into a command line of its own (the original piped YAML
through printf into kubectl and broke on quotes and percent signs). The placeholders
[kubectl] and [kubeconfig] become shell-quoted paths.

Bounds, each against a failure seen in the original or in a first version of this agent:

- Commands run in a pool of ``workers`` threads fed by a queue of at most ``queue`` jobs, never
  on the agent's work loop: four slow statechecks or thirty reverse commands cannot delay a
  heartbeat, a token renewal or another Mission's content. A Mission has at most one job at a
  time (its command, its statecheck or its reverse command).
- Each command is the leader of its own process group (a new session). When the shell exits,
  whatever it left in the background is killed with the group; on timeout the whole group is
  killed, grandchildren too. A background job cannot hold the output pipe open either: after
  the shell has gone the pipes are read for at most ``DRAIN_SECONDS`` more.
- Output is read as it comes, in chunks, and only the first ``OUTPUT_CAP`` bytes of each stream
  are kept: a command printing 300 MB costs the agent 64 KiB.
- A Mission's statecheck runs at most once per ``statecheck_interval`` seconds; between runs its
  last output is the state.
- With ``user`` set the commands run as that (unprivileged) user, with its own groups only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import queue
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st

from .faults import FAULTS, describe

log = logging.getLogger("fornax.agent.commands")

MAX_STATE_LINE = 200  # characters of output that become a state
OUTPUT_CAP = 64 * 1024  # bytes kept of each output stream
READ_CHUNK = 64 * 1024
DRAIN_SECONDS = 0.5  # how long the pipes are read after the shell exited
POLL_SECONDS = 0.1
DISABLED = "missioncommand is disabled on this cluster (allow_commands: false)"


@dataclass(frozen=True)
class CommandUser:
    name: str
    uid: int
    gid: int
    home: str


def resolve_user(user: str | int) -> CommandUser:
    """The account commands run as; ValueError names what is wrong."""
    try:
        entry = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(str(user))
    except (KeyError, TypeError, OverflowError):
        raise ValueError(f"{user!r} is not a user of this host") from None
    if os.geteuid() != 0 and entry.pw_uid != os.geteuid():
        raise ValueError(
            f"{user!r}: running commands as another user needs the agent to run as root"
        )
    return CommandUser(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


@dataclass(frozen=True)
class Outcome:
    """How one command ended."""

    code: int | None  # exit status (negative: killed by that signal); None when timed out
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    dropped: int = 0  # bytes of output read and thrown away past OUTPUT_CAP

    def first_line(self) -> str:
        """The first line of stdout, else of stderr: printable, bounded."""
        for raw in (self.stdout, self.stderr):
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                line = text.splitlines()[0][:MAX_STATE_LINE]
                return "".join(c if c.isprintable() else "?" for c in line)
        return ""


class Runner:
    """Runs one shell command at a time per calling thread, within every bound above."""

    def __init__(
        self,
        timeout: float,
        kubectl: str,
        kubeconfig: str,
        user: CommandUser | None = None,
    ) -> None:
        self.timeout = timeout
        self.kubectl = kubectl
        self.kubeconfig = kubeconfig
        self.user = user
        self.lock = threading.Lock()
        self.groups: set[int] = set()  # process groups running now (killed on close)

    def substitute(self, command: str) -> str:
        return command.replace("[kubectl]", shlex.quote(self.kubectl)).replace(
            "[kubeconfig]", shlex.quote(self.kubeconfig)
        )

    def _popen_options(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        env = dict(os.environ)
        env.update(HOME=self.user.home, USER=self.user.name, LOGNAME=self.user.name)
        return {"user": self.user.uid, "group": self.user.gid, "extra_groups": [], "env": env}

    def run(self, command: str, timeout: float | None = None) -> Outcome:
        limit = self.timeout if timeout is None else timeout
        proc = subprocess.Popen(
            ["/bin/sh", "-c", self.substitute(command)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: killed as a whole
            close_fds=True,
            **self._popen_options(),
        )
        with self.lock:
            self.groups.add(proc.pid)
        try:
            return self._collect(proc, time.monotonic() + limit)
        finally:
            self._kill_group(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            with self.lock:
                self.groups.discard(proc.pid)

    def _collect(self, proc: subprocess.Popen[bytes], deadline: float) -> Outcome:
        assert proc.stdout is not None and proc.stderr is not None
        kept = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
        dropped = 0
        exited_at: float | None = None
        with selectors.DefaultSelector() as selector:
            for fd in kept:
                selector.register(fd, selectors.EVENT_READ)
            try:
                while selector.get_map():
                    now = time.monotonic()
                    if exited_at is None and proc.poll() is not None:
                        exited_at = now
                        self._kill_group(proc.pid)  # what the shell left in the background
                    if exited_at is not None and now - exited_at >= DRAIN_SECONDS:
                        break  # something outside the group holds the pipe: stop reading
                    if now >= deadline:
                        return self._timed_out(proc, kept, dropped)
                    for key, _events in selector.select(min(POLL_SECONDS, deadline - now)):
                        chunk = os.read(key.fd, READ_CHUNK)
                        if not chunk:
                            selector.unregister(key.fd)
                            continue
                        buffer = kept[key.fd]
                        room = OUTPUT_CAP - len(buffer)
                        if room > 0:
                            buffer += chunk[:room]
                        dropped += max(0, len(chunk) - max(room, 0))
            finally:
                proc.stdout.close()
                proc.stderr.close()
        try:
            code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:  # closed its output and kept running
            return self._timed_out(proc, kept, dropped)
        out, err = (bytes(b) for b in kept.values())
        return Outcome(code, out, err, dropped=dropped)

    def _timed_out(
        self, proc: subprocess.Popen[bytes], kept: dict[int, bytearray], dropped: int
    ) -> Outcome:
        self._kill_group(proc.pid)
        out, err = (bytes(b) for b in kept.values())
        return Outcome(None, out, err, timed_out=True, dropped=dropped)

    @staticmethod
    def _kill_group(pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    def close(self) -> None:
        """Kill every command still running (the agent stops)."""
        with self.lock:
            groups = list(self.groups)
        for pgid in groups:
            self._kill_group(pgid)

    # -- what a Mission's commands mean ----------------------------------------------------

    def _ended(self, what: str, outcome: Outcome) -> str:
        if outcome.timed_out:
            return st.failed(
                f"{what} timed out after {self.timeout:g} s (its process group was killed)"
            )
        code = outcome.code or 0
        ended = f"was killed by signal {-code}" if code < 0 else f"exited {code}"
        line = outcome.first_line()
        return st.failed(f"{what} {ended}: {line}" if line else f"{what} {ended}")

    def mission_command(self, command: dict[str, Any]) -> str:
        """Run spec.missioncommand once: the state it leaves (done, skipped, failed: ...)."""
        trigger = command.get("trigger")
        if trigger:
            outcome = self.run(trigger)
            if outcome.timed_out:
                return self._ended("trigger", outcome)
            if (outcome.code == 0) != bool(command.get("runwhentriggersucceed")):
                return st.SKIPPED
        outcome = self.run(command.get("command") or "true")
        return st.DONE if outcome.code == 0 else self._ended("command", outcome)

    def statecheck(self, command: str) -> str:
        outcome = self.run(command)
        return outcome.first_line() if outcome.code == 0 else self._ended("statecheck", outcome)

    def reverse(self, command: str) -> str:
        outcome = self.run(command)
        return st.DONE if outcome.code == 0 else self._ended("reversecommand", outcome)


# -- the pool ----------------------------------------------------------------------------------

COMMAND, STATECHECK, REVERSE = "command", "statecheck", "reverse"


@dataclass(frozen=True)
class Job:
    mission: str
    kind: str  # COMMAND, STATECHECK or REVERSE
    generation: int
    command: Any  # the missioncommand mapping, or the command text


class Submitted(Enum):
    ACCEPTED = "accepted"
    BUSY = "busy"  # this Mission has a job queued or running; its end wakes the Mission
    FULL = "full"  # the queue is full: try again later


class Pool:
    """``workers`` threads taking jobs from a queue of at most ``size``; one job per Mission."""

    def __init__(
        self,
        runner: Runner,
        workers: int,
        size: int,
        on_done: Callable[[Job, str], None],
        stop: threading.Event,
    ) -> None:
        self.runner = runner
        self.on_done = on_done
        self.stop = stop
        self.jobs: queue.Queue[Job] = queue.Queue(maxsize=size)
        self.lock = threading.Lock()
        self.missions: set[str] = set()  # Missions with a job queued or running
        self.threads = [
            threading.Thread(target=self._work, name=f"command-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self.threads:
            thread.start()

    def submit(self, job: Job) -> Submitted:
        with self.lock:
            if job.mission in self.missions:
                return Submitted.BUSY
            try:
                self.jobs.put_nowait(job)
            except queue.Full:
                return Submitted.FULL
            self.missions.add(job.mission)
        return Submitted.ACCEPTED

    def busy(self, mission: str) -> bool:
        with self.lock:
            return mission in self.missions

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                job = self.jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                state = self._run(job)
            except Exception as exc:  # a worker never dies
                FAULTS.unexpected(f"{job.kind} worker", exc, job.mission)
                state = st.failed(f"agent error running the {job.kind}: {describe(exc)}")
            with self.lock:
                self.missions.discard(job.mission)
            try:
                self.on_done(job, state)
            except Exception as exc:
                FAULTS.unexpected("command result", exc, job.mission)

    def _run(self, job: Job) -> str:
        if job.kind == COMMAND:
            return self.runner.mission_command(job.command)
        if job.kind == STATECHECK:
            return self.runner.statecheck(job.command)
        state = self.runner.reverse(job.command)
        log.info("reversecommand of Mission %s: %s", job.mission, state)
        return state

    def close(self) -> None:
        self.stop.set()
        self.runner.close()


# -- a Mission's commands, as the work loop sees them -----------------------------------------


class MissionCommands:
    """What the work loop asks about commands, answered at once: the job runs in the pool,
    and its end wakes the Mission (``wake(name, delay)``) to pick the result up.

    ``records`` (persisted in the agent's store, section ``commands``): Mission -> the
    generation and uid of the local copy its missioncommand ran for, the state it left and
    the reversecommand to run when the Mission goes; ``reversing`` while that runs.
    """

    def __init__(
        self,
        *,
        allowed: bool,
        runner: Runner,
        workers: int,
        queue_size: int,
        statecheck_interval: float,
        records: dict[str, Any],
        persist: Callable[[str, Any], None],
        wake: Callable[[str, float], None],
        stop: threading.Event,
    ) -> None:
        self.allowed = allowed
        self.interval = statecheck_interval
        self.records = records
        self.persist = persist
        self.wake = wake
        self.lock = threading.Lock()
        self.results: dict[tuple[str, str], tuple[Job, str]] = {}  # (Mission, kind) -> result
        self.checks: dict[str, tuple[int, str, float]] = {}  # Mission -> generation, state, when
        self.full_retries: dict[str, int] = {}
        self.pool = Pool(runner, workers, queue_size, self._done, stop)

    def _done(self, job: Job, state: str) -> None:
        with self.lock:
            self.results[(job.mission, job.kind)] = (job, state)
        self.wake(job.mission, 0.0)

    def _take(self, name: str, kind: str, generation: int | None = None) -> str | None:
        with self.lock:
            found = self.results.pop((name, kind), None)
        if found is None or (generation is not None and found[0].generation != generation):
            return None
        return found[1]

    def _submit(self, job: Job) -> None:
        answer = self.pool.submit(job)
        if answer is Submitted.FULL:
            # Back-pressure, not a fault: ask again later, later each time, at most 10 s.
            tries = self.full_retries[job.mission] = self.full_retries.get(job.mission, 0) + 1
            self.wake(job.mission, min(10.0, 0.2 * 2 ** min(tries, 6)))
            log.warning("command queue full: %s of Mission %s waits", job.kind, job.mission)
        elif answer is Submitted.ACCEPTED:
            self.full_retries.pop(job.mission, None)

    def command_state(self, name: str, uid: str, generation: int, command: dict) -> str:
        """The state of the Mission's missioncommand for this generation (runs it once)."""
        if not self.allowed:
            return st.failed(DISABLED)
        record = self.records.get(name)
        if (
            record
            and record.get("generation") == generation
            and record.get("uid") == uid
            and not record.get("reversing")
        ):
            return str(record["state"])
        state = self._take(name, COMMAND, generation)
        if state is None:
            self._submit(Job(name, COMMAND, generation, dict(command)))
            return st.PENDING
        record = {
            "generation": generation,
            "uid": uid,
            "state": state,
            "reverse": command.get("reversecommand"),
        }
        self.records[name] = record
        self.persist(name, record)
        return state

    def statecheck(self, name: str, generation: int, command: str | None) -> str | None:
        """The statecheck's latest output for this generation (None: none yet, or none to run);
        runs it again once ``interval`` has passed since the last run."""
        if not command or not self.allowed:
            return None
        fresh = self._take(name, STATECHECK, generation)
        now = time.monotonic()
        if fresh is not None:
            self.checks[name] = (generation, fresh, now)
        last = self.checks.get(name)
        if last is not None and last[0] != generation:
            last = None
            del self.checks[name]
        if last is None or now - last[2] >= self.interval:
            self._submit(Job(name, STATECHECK, generation, command))
        return last[1] if last else None

    def retire(self, name: str) -> bool:
        """The Mission is gone (or no longer selects this cluster): run its reversecommand
        once. True when nothing is left to do; False while the reversecommand waits or runs
        (its end wakes the Mission)."""
        self.checks.pop(name, None)
        record = self.records.get(name)
        if self.pool.busy(name) and not (record and record.get("reversing")):
            return False  # its command or statecheck runs: its end brings the Mission back
        with self.lock:
            ran = self.results.pop((name, COMMAND), None)
            self.results.pop((name, STATECHECK), None)
        if ran is not None and ran[1] == st.DONE:
            # The command ended after the Mission went (or before its result was picked up):
            # what it did is undone like any other.
            job, state = ran
            record = {
                "generation": job.generation,
                "uid": "",
                "state": state,
                "reverse": job.command.get("reversecommand"),
            }
            self.records[name] = record
            self.persist(name, record)
        if record is None:
            return True
        if record.get("reversing"):
            state = self._take(name, REVERSE)
            if state is None:
                if not self.pool.busy(name):  # e.g. the agent restarted while it ran
                    self._submit(Job(name, REVERSE, 0, record["reverse"]))
                return False
        elif record.get("state") == st.DONE and record.get("reverse") and self.allowed:
            record = {**record, "reversing": True}
            self.records[name] = record
            self.persist(name, record)
            self._submit(Job(name, REVERSE, 0, record["reverse"]))
            return False
        del self.records[name]
        self.persist(name, None)
        self.full_retries.pop(name, None)
        return True

    def close(self) -> None:
        self.pool.close()

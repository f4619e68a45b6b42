"""Background processes with log files, bounded stops and no orphans."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from queue import Queue
from threading import Lock, Thread
from typing import Any

PR_SET_PDEATHSIG = 1


class _Spawner:
    """Runs every fork of a tied child on one thread that lives as long as the process.

    The kernel sends the parent-death signal when the *thread* that forked the child exits, not
    the process; clusters are started from short-lived worker threads, so they must not fork.
    """

    def __init__(self) -> None:
        self._queue: Queue[tuple[Callable[[], Any], Future[Any]]] = Queue()
        self._thread: Thread | None = None
        self._lock = Lock()

    def run(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = Thread(target=self._loop, name="fornax-spawner", daemon=True)
                self._thread.start()
        future: Future[Any] = Future()
        self._queue.put((fn, future))
        return future.result()

    def _loop(self) -> None:
        while True:
            fn, future = self._queue.get()
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)


_SPAWNER = _Spawner()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGTERM this child when the process that started it exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class HarnessError(RuntimeError):
    """A test cluster could not be started or stopped; the message says what and how to fix."""


LISTEN_PORTS_FROM = 10000  # the harness's servers listen on ports from here ...
_handed_out: set[int] = set()  # ... never handing out one twice while it may be in use
_ports_lock = Lock()


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections' local ports."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing uses right now, for a server to listen on.

    Picked below the kernel's ephemeral range: a port from there (bind to port 0) can be taken
    by any outgoing connection's local end before the server meant to listen on it starts,
    which failed about one tree start in fourteen ("failed to listen on 127.0.0.1:<port>").
    """
    high = _ephemeral_low() - 1
    with _ports_lock:
        if high - LISTEN_PORTS_FROM >= 1000:
            if len(_handed_out) > (high - LISTEN_PORTS_FROM) // 2:
                _handed_out.clear()  # long stopped, most of them: start over
            for _attempt in range(500):
                port = random.randint(LISTEN_PORTS_FROM, high)
                if port not in _handed_out and _bindable(port):
                    _handed_out.add(port)
                    return port
        # A kernel range that leaves no room below it: any free port, as the kernel picks it.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class ManagedProcess:
    """One long-running program whose output goes to ``log_path``.

    ``tied`` (the default) makes the kernel stop the program when the starting process dies,
    so a killed test run leaves nothing behind; the demo starts untied processes on purpose.
    """

    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, *, tied: bool = True
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.tied = tied
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None

    def start(self) -> None:
        if not Path(self.argv[0]).exists():
            raise HarnessError(
                f"{self.name}: {self.argv[0]} does not exist (run scripts/k8s-binaries.sh)"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = _SPAWNER.run(self._popen) if self.tied else self._popen()
        self.pid = self.proc.pid

    def _popen(self) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.tied else None,  # noqa: PLW1509
            )

    @property
    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; always bounded."""
        if self.pid is None or not self.alive:
            self._reap()
            return
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.alive:
            self._signal(signal.SIGKILL)
            deadline = time.monotonic() + 5
            while self.alive and time.monotonic() < deadline:
                time.sleep(0.05)
        self._reap()

    def terminate(self) -> None:
        """SIGTERM without waiting (``stop`` then waits, bounded)."""
        if self.pid is not None and self.alive:
            self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL at once (a crash, for fault tests)."""
        if self.pid is not None and self.alive:
            self._signal(signal.SIGKILL)
        self._reap()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)  # type: ignore[arg-type]

    def _reap(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)

"""A TCP relay between a child's agent and its parent's API server that a test can cut.

Cutting closes every relayed connection and refuses new ones, as a dead uplink would: the
agent keeps running and sees its parent vanish; restoring lets it reconnect. Loopback only.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path


class LinkProxy:
    def __init__(self, target_port: int, name: str = "link", listen_port: int = 0) -> None:
        self.target = ("127.0.0.1", target_port)
        self.name = name
        self._listener = socket.create_server(("127.0.0.1", listen_port))
        self.port = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, name=f"proxy-{name}", daemon=True).start()

    @property
    def is_cut(self) -> bool:
        return self._cut.is_set()

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            doomed, self._sockets = self._sockets, set()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._cut.is_set():
                readable, _w, _x = select.select([a, b], [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._sockets.difference_update((a, b))


class RelayProcess:
    """A LinkProxy in a process of its own (``python -m fornax_harness relay``), for trees that
    outlive the process that started them (the demo). SIGUSR1 cuts, SIGUSR2 restores."""

    def __init__(self, target_port: int, name: str, log_path: Path, *, tied: bool) -> None:
        from .process import ManagedProcess, free_port  # noqa: PLC0415 - avoids an import cycle

        self.port = free_port()
        self.name = name
        self.is_cut = False
        argv = [sys.executable, "-m", "fornax_harness", "relay", "--listen-port", str(self.port),
                "--target-port", str(target_port), "--name", name]  # fmt: skip
        env_path = os.pathsep.join(p for p in sys.path if p)
        self.process = ManagedProcess(
            f"relay {name}", ["/usr/bin/env", f"PYTHONPATH={env_path}", *argv], log_path, tied=tied
        )
        self.process.start()
        self.pid = self.process.pid
        deadline = time.monotonic() + 20
        while not _listening(self.port):
            if not self.process.alive or time.monotonic() > deadline:
                raise RuntimeError(f"relay {name} did not start: {self.process.tail()}")
            time.sleep(0.05)

    def cut(self) -> None:
        signal_relay(self.pid, cut=True)
        self.is_cut = True

    def restore(self) -> None:
        signal_relay(self.pid, cut=False)
        self.is_cut = False

    def close(self) -> None:
        self.process.stop()


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def signal_relay(pid: int, *, cut: bool) -> None:
    """Cut (SIGUSR1) or restore (SIGUSR2) the relay process ``pid``; a gone relay is an error."""
    os.kill(pid, signal.SIGUSR1 if cut else signal.SIGUSR2)


def serve_relay(listen_port: int, target_port: int, name: str) -> int:
    """The relay process's main loop: relay until SIGTERM, cut on SIGUSR1, restore on SIGUSR2."""
    proxy = LinkProxy(target_port, name, listen_port=listen_port)
    done = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: proxy.cut())
    signal.signal(signal.SIGUSR2, lambda *_: proxy.restore())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"relay {name}: 127.0.0.1:{listen_port} -> 127.0.0.1:{target_port}", flush=True)
    while not done.wait(1.0):
        pass
    proxy.close()
    return 0

"""Tiny UDP/TCP echo server and client for the end-to-end tests (bounded in count and time).

python3 fornax_echo.py serve udp|tcp PORT COUNT TIMEOUT
python3 fornax_echo.py send  udp|tcp HOST PORT SIZE TIMEOUT   -> prints "ok <bytes>"
python3 fornax_echo.py blast HOST PORT COUNT SECONDS           (bench: send small datagrams)
python3 fornax_echo.py sink  PORT SECONDS IDLE                 -> prints "got <n> <span s>"
python3 fornax_echo.py rtt   HOST PORT COUNT TIMEOUT           -> one RTT in us a line
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time


def serve(proto: str, port: int, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        if proto == "tcp":
            sock.listen(4)
        print("ready", flush=True)
        for _round in range(count):
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            if proto == "udp":
                data, peer = sock.recvfrom(65535)
                sock.sendto(data, peer)
                continue
            conn, _peer = sock.accept()
            with conn:
                conn.settimeout(max(0.1, deadline - time.monotonic()))
                size = int.from_bytes(conn.recv(4), "big")
                got = b""
                while len(got) < size:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                conn.sendall(got)


def send(proto: str, host: str, port: int, size: int, timeout: float) -> None:
    payload = bytes(i % 251 for i in range(size))
    if proto == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(payload, (host, port))
            data, _peer = sock.recvfrom(65535)
    else:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(size.to_bytes(4, "big") + payload)
            data = b""
            while len(data) < size:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    if data != payload:
        raise SystemExit(f"echo mismatch: sent {size} bytes, got {len(data)}")
    print(f"ok {len(data)}")


def blast(host: str, port: int, count: int, seconds: float) -> None:
    """Send up to ``count`` small datagrams within ``seconds`` as fast as possible."""
    payload = b"x" * 18
    deadline = time.monotonic() + seconds
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while sent < count and (sent & 1023 or time.monotonic() < deadline):
            with contextlib.suppress(OSError):  # ENOBUFS under overload: keep blasting
                sock.sendto(payload, (host, port))
            sent += 1
    print(f"sent {sent}")


def sink(port: int, seconds: float, idle: float) -> None:
    """Count datagrams until ``idle`` seconds without one (or ``seconds``); print count, span."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind(("0.0.0.0", port))
        print("ready", flush=True)
        deadline = time.monotonic() + seconds
        first = last = 0.0
        got = 0
        sock.settimeout(seconds)
        while time.monotonic() < deadline:
            try:
                sock.recv(2048)
            except TimeoutError:
                break
            last = time.monotonic()
            if not got:
                first = last
                sock.settimeout(idle)
            got += 1
    print(f"got {got} {last - first:.6f}")


def rtt(host: str, port: int, count: int, timeout: float) -> None:
    """``count`` UDP round trips to an echo server; prints one RTT in microseconds a line."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        for i in range(count):
            started = time.perf_counter()
            sock.sendto(i.to_bytes(4, "big"), (host, port))
            try:
                sock.recvfrom(64)
            except TimeoutError:
                continue
            print(f"{(time.perf_counter() - started) * 1e6:.1f}")


COMMANDS = {
    "serve": lambda a: serve(a[0], int(a[1]), int(a[2]), float(a[3])),
    "send": lambda a: send(a[0], a[1], int(a[2]), int(a[3]), float(a[4])),
    "blast": lambda a: blast(a[0], int(a[1]), int(a[2]), float(a[3])),
    "sink": lambda a: sink(int(a[0]), float(a[1]), float(a[2])),
    "rtt": lambda a: rtt(a[0], int(a[1]), int(a[2]), float(a[3])),
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](sys.argv[2:])

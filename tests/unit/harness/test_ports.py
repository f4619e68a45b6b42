"""The test harness's ports: its servers listen outside the range outgoing connections use."""

from __future__ import annotations

import itertools
import socket

from fornax_harness import process


def test_listen_ports_come_from_below_the_kernels_ephemeral_range():
    low = process._ephemeral_low()
    ports = [process.free_port() for _unused in range(50)]
    assert all(process.LISTEN_PORTS_FROM <= port < low for port in ports)
    assert len(set(ports)) == len(ports)  # never the same one twice
    for port in ports[:5]:  # each is free: a server can listen on it
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))
            sock.listen()


def test_a_port_in_use_is_not_handed_out(monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        picks = itertools.chain([busy], range(20000, 20500))
        monkeypatch.setattr(process, "LISTEN_PORTS_FROM", 1)
        monkeypatch.setattr(process, "_ephemeral_low", lambda: 65536)
        monkeypatch.setattr(process.random, "randint", lambda _a, _b: next(picks))
        process._handed_out.discard(busy)
        assert process.free_port() != busy

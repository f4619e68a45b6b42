"""End to end: two clusters of network namespaces, XDP dividers and gateways, pods talking.

Same VPC across clusters (blue 1001 in a <-> blue 2001 in b) and different VPCs (a's blue
<-> b's red 2003); the WAN capture shows the VNIs the gateways translated to.
"""

from __future__ import annotations

import select
import shutil
import struct
import sys
import time
from pathlib import Path

import fornax_direct
import fornax_netns
import pytest

from fornax_harness.prereq import require

pytestmark = pytest.mark.root

ECHO = str(Path(__file__).with_name("fornax_echo.py"))
PAIRS = [
    pytest.param("a-blue", "10.2.0.5", "b-blue", id="same-vpc-a-to-b"),
    pytest.param("b-blue", "10.1.0.5", "a-blue", id="same-vpc-b-to-a"),
    pytest.param("a-blue", "10.4.0.5", "b-red", id="other-vpc-a-to-b"),
    pytest.param("b-red", "10.1.0.5", "a-blue", id="other-vpc-b-to-a"),
]


@pytest.fixture(scope="module")
def topology(bpf_objects):
    for tool in ("ip", "tc", "nsenter", "ethtool", "ping", "tcpdump"):
        require(
            shutil.which(tool) is not None,
            tool,
            "apt-get install iproute2 util-linux ethtool iputils-ping tcpdump",
        )
    fornax_netns.remove_leftovers(fornax_netns.PREFIX)
    topo = fornax_netns.Topology()
    try:
        topo.build()
        fornax_direct.configure(topo, bpf_objects)
        yield topo
    finally:
        topo.teardown()
        assert topo.remaining() == [], "the topology left things behind"


def wait_ready(proc, timeout: float = 10) -> None:
    ready, _writable, _errored = select.select([proc.stdout], [], [], timeout)
    assert ready and proc.stdout.readline().strip() == "ready", (
        proc.stderr.read() if proc.poll() else "no ready"
    )


@pytest.mark.parametrize(("src", "dst_ip", "dst"), PAIRS)
def test_ping(topology, src, dst_ip, dst):
    out = topology.sh(
        src, "ping", "-c", "3", "-i", "0.2", "-W", "2", dst_ip, timeout=20, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0% packet loss" in out.stdout


@pytest.mark.parametrize("proto", ["udp", "tcp"])
@pytest.mark.parametrize(("src", "dst_ip", "dst"), PAIRS)
def test_echo(topology, proto, src, dst_ip, dst):
    port = "7001" if proto == "udp" else "7002"
    size = "1200" if proto == "udp" else "200000"  # TCP: many full-size segments
    server = topology.spawn(dst, sys.executable, ECHO, "serve", proto, port, "1", "15")
    wait_ready(server)
    out = topology.sh(
        src, sys.executable, ECHO, "send", proto, dst_ip, port, size, "10", timeout=20, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == f"ok {size}"
    server.wait(timeout=10)


def pcap_vnis(raw: bytes) -> list[tuple[str, str, int, int]]:
    """(outer source, outer destination, UDP destination port, VNI) of each captured frame."""
    out, offset = [], 24
    while offset + 16 <= len(raw):
        caplen = struct.unpack_from("<I", raw, offset + 8)[0]
        frame = raw[offset + 16 : offset + 16 + caplen]
        offset += 16 + caplen
        if len(frame) < 14 + 20 + 8 + 8 or frame[12:14] != b"\x08\x00":
            continue
        src = ".".join(str(b) for b in frame[26:30])
        dst = ".".join(str(b) for b in frame[30:34])
        dport = struct.unpack_from("!H", frame, 36)[0]
        vni = int.from_bytes(frame[46:49], "big")
        out.append((src, dst, dport, vni))
    return out


def test_wan_capture_shows_translated_vnis(topology, tmp_path):
    pcap = tmp_path / "wan.pcap"
    cap = topology.spawn(
        "wan",
        "timeout",
        "20",
        "tcpdump",
        "-i",
        "br0",
        "-n",
        "-U",
        "-c",
        "8",
        "-w",
        str(pcap),
        "udp",
    )
    assert fornax_netns.wait_until(lambda: pcap.exists() and pcap.stat().st_size >= 24, timeout=10)
    time.sleep(0.3)
    for dst in ("10.2.0.5", "10.4.0.5"):
        out = topology.sh(
            "a-blue", "ping", "-c", "2", "-i", "0.2", "-W", "2", dst, timeout=20, check=False
        )
        assert out.returncode == 0, out.stdout
    cap.wait(timeout=20)
    seen = set(pcap_vnis(pcap.read_bytes()))
    a, b = fornax_netns.A.wan_ip, fornax_netns.B.wan_ip
    # a's blue is 1001 at home; on the WAN towards b it carries b's VNIs, and back again 1001
    assert seen == {(a, b, 2615, 2001), (a, b, 2615, 2003), (b, a, 2615, 1001)}, seen

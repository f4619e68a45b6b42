"""BPF_PROG_TEST_RUN tests of bpf/divider.bpf.c: verdicts, exact output bytes, learning."""

from __future__ import annotations

import pytest
from fornax_packets import Outer, inner_frame

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import XDP_VERDICTS
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import DIVIDER_STATS

pytestmark = pytest.mark.root

PASS, DROP, TX = 2, 1, 3
VNI = 1001
DIV = ("198.18.1.3", "02:00:00:01:00:03")
HOST = ("198.18.1.2", "02:00:00:01:00:02")
GW = ("198.18.1.1", "02:00:00:01:00:01")
POD, REMOTE_POD = "10.1.0.5", "10.2.0.7"


def from_host(inner_src: str = POD, inner_dst: str = REMOTE_POD, **changes: object) -> Outer:
    base = Outer(
        src_mac=HOST[1],
        dst_mac=DIV[1],
        src_ip=HOST[0],
        dst_ip=DIV[0],
        vni=VNI,
        inner=inner_frame(inner_src, inner_dst),
    )
    return base.with_(**changes)


def from_gateway(**changes: object) -> Outer:
    return from_host(inner_src=REMOTE_POD, inner_dst=POD, src_mac=GW[1], src_ip=GW[0], **changes)


@pytest.fixture
def divider(load):
    prog = load("divider")
    prog.put("div_vnets", {"vni": VNI, "prefix": "10.2.0.0/24"}, {"ip": GW[0], "mac": GW[1]})
    return prog


def check(prog, packet: Outer, verdict: int, expected: Outer | bytes | None = None) -> None:
    raw = packet.build()
    retval, out = prog.run(raw)
    assert XDP_VERDICTS[retval] == XDP_VERDICTS[verdict]
    if expected is None:
        assert out == raw, "a packet left to the kernel must not be modified"
    else:
        want = expected if isinstance(expected, bytes) else expected.build()
        assert out.hex() == want.hex()


def test_virtual_subnet_goes_to_gateway_and_source_is_learned(divider):
    sent = from_host(ttl=64, udp_csum=0xBEEF)
    check(
        divider,
        sent,
        TX,
        sent.with_(src_mac=DIV[1], dst_mac=GW[1], src_ip=DIV[0], dst_ip=GW[0], ttl=63, udp_csum=0),
    )
    assert divider.entries("div_endpoints") == [
        ({"vni": VNI, "ip": POD}, {"ip": HOST[0], "mac": HOST[1]})
    ]
    stats = divider.stats("div_stats", DIVIDER_STATS)
    assert stats["to_gateway"] == 1
    assert stats["learned"] == 1


def test_longest_prefix_in_the_vni_only(divider):
    # same destination but another VNI: not a virtual subnet of that VPC
    check(divider, from_host(vni=VNI + 1), PASS)
    # a /32 inside the /24 for the same VNI still wins over nothing
    divider.put(
        "div_vnets",
        {"vni": VNI, "prefix": "10.2.0.7/32"},
        {"ip": "198.18.1.9", "mac": "02:00:00:01:00:09"},
    )
    sent = from_host()
    check(
        divider,
        sent,
        TX,
        sent.with_(
            src_mac=DIV[1], dst_mac="02:00:00:01:00:09", src_ip=DIV[0], dst_ip="198.18.1.9", ttl=63
        ),
    )


def test_packets_from_gateway_are_delivered_but_not_learned(divider):
    divider.put("div_endpoints", {"vni": VNI, "ip": POD}, {"ip": HOST[0], "mac": HOST[1]})
    sent = from_gateway()
    check(
        divider,
        sent,
        TX,
        sent.with_(src_mac=DIV[1], dst_mac=HOST[1], src_ip=DIV[0], dst_ip=HOST[0], ttl=63),
    )
    assert divider.entries("div_endpoints") == [
        ({"vni": VNI, "ip": POD}, {"ip": HOST[0], "mac": HOST[1]})
    ]
    stats = divider.stats("div_stats", DIVIDER_STATS)
    assert (stats["from_gateway"], stats["to_host"], stats["learned"]) == (1, 1, 0)


def test_unknown_endpoint_from_gateway_is_left_to_kernel(divider):
    check(divider, from_gateway(), PASS)
    assert divider.entries("div_endpoints") == []


def test_geneve_options_are_skipped(divider):
    sent = from_host(options=bytes(range(8)))
    check(
        divider,
        sent,
        TX,
        sent.with_(src_mac=DIV[1], dst_mac=GW[1], src_ip=DIV[0], dst_ip=GW[0], ttl=63),
    )


def test_ttl_exhausted_is_dropped(divider):
    check(divider, from_host(ttl=1), DROP, from_host(ttl=1))


@pytest.mark.parametrize(
    ("name", "packet"),
    [
        ("wrong port", from_host(dport=6082)),
        ("gateway port", from_host(dport=2615)),
        ("not IPv4", b"\xff" * 12 + b"\x08\x06" + bytes(28)),
        ("inner ARP", from_host(inner=inner_frame(POD, REMOTE_POD)[:12] + b"\x08\x06" + bytes(28))),
        ("not ethernet in geneve", from_host(geneve_proto=0x0800)),
        ("truncated geneve", from_host().build()[: 14 + 20 + 8 + 4]),
        ("truncated inner ip", from_host().build()[: 14 + 20 + 8 + 8 + 14 + 10]),
        ("options beyond end", from_host(options=bytes(8)).build()[: 14 + 20 + 8 + 8 + 6]),
    ],
)
def test_everything_else_passes_unchanged(divider, name, packet):
    raw = packet if isinstance(packet, bytes) else packet.build()
    retval, out = divider.run(raw)
    assert XDP_VERDICTS[retval] == "XDP_PASS", name
    assert out == raw
    assert divider.entries("div_endpoints") == []

"""BPF_PROG_TEST_RUN tests of bpf/gateway.bpf.c: both directions, VNI translation, negatives."""

from __future__ import annotations

import pytest
from fornax_packets import GATEWAY_PORT, GENEVE_PORT, Outer, inner_frame

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import XDP_VERDICTS
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import GATEWAY_STATS

pytestmark = pytest.mark.root

LAN = ("198.18.1.1", "02:00:00:01:00:01")
WAN = ("198.19.0.1", "02:00:00:ff:00:01")
PEER = ("198.19.0.2", "02:00:00:ff:00:02")
DIV = ("198.18.1.3", "02:00:00:01:00:03")
BLUE, BLUE_THERE, RED_THERE = 1001, 2001, 2003
POD = "10.1.0.5"


def config(wan_ifindex: int = 0) -> dict:
    return {
        "lan_ip": LAN[0],
        "wan_ip": WAN[0],
        "lan_ifindex": 0,
        "wan_ifindex": wan_ifindex,
        "lan_mac": LAN[1],
        "wan_mac": WAN[1],
    }


@pytest.fixture
def gateway(load):
    prog = load("gateway")
    prog.put("gw_config", {"index": 0}, config())
    prog.put("gw_peers", {"ip": PEER[0]}, {"mac": PEER[1]})
    prog.put(
        "gw_routes",
        {"vni": BLUE, "prefix": "10.2.0.0/24"},
        {"peer": PEER[0], "remote_vni": BLUE_THERE},
    )
    prog.put(
        "gw_routes",
        {"vni": BLUE, "prefix": "10.4.0.0/24"},
        {"peer": PEER[0], "remote_vni": RED_THERE},
    )
    prog.put("gw_ingress", {"peer": PEER[0], "vni": BLUE}, {"ip": DIV[0], "mac": DIV[1]})
    return prog


def from_lan(dst: str = "10.2.0.7", **changes: object) -> Outer:
    base = Outer(
        src_mac=DIV[1],
        dst_mac=LAN[1],
        src_ip=DIV[0],
        dst_ip=LAN[0],
        vni=BLUE,
        ttl=63,
        inner=inner_frame(POD, dst),
    )
    return base.with_(**changes)


def from_wan(**changes: object) -> Outer:
    base = Outer(
        src_mac=PEER[1],
        dst_mac=WAN[1],
        src_ip=PEER[0],
        dst_ip=WAN[0],
        vni=BLUE,
        ttl=62,
        sport=GENEVE_PORT,
        dport=GATEWAY_PORT,
        inner=inner_frame("10.2.0.7", POD),
    )
    return base.with_(**changes)


def run(prog, packet: Outer | bytes) -> tuple[str, bytes, bytes]:
    raw = packet if isinstance(packet, bytes) else packet.build()
    retval, out = prog.run(raw)
    return XDP_VERDICTS[retval], raw, out


@pytest.mark.parametrize(("dst", "wan_vni"), [("10.2.0.7", BLUE_THERE), ("10.4.0.9", RED_THERE)])
def test_lan_to_wan_translates_vni_and_rewrites(gateway, dst, wan_vni):
    sent = from_lan(dst, udp_csum=0x1111)
    verdict, _duration, out = run(gateway, sent)
    assert verdict == "XDP_TX"
    want = sent.with_(
        src_mac=WAN[1],
        dst_mac=PEER[1],
        src_ip=WAN[0],
        dst_ip=PEER[0],
        ttl=62,
        sport=GENEVE_PORT,
        dport=GATEWAY_PORT,
        vni=wan_vni,
        udp_csum=0,
    )
    assert out.hex() == want.build().hex()
    assert gateway.stats("gw_stats", GATEWAY_STATS)["lan_to_wan"] == 1


def test_wan_to_lan_goes_to_divider_with_geneve_port(gateway):
    sent = from_wan()
    verdict, _duration, out = run(gateway, sent)
    assert verdict == "XDP_TX"
    want = sent.with_(
        src_mac=LAN[1],
        dst_mac=DIV[1],
        src_ip=LAN[0],
        dst_ip=DIV[0],
        ttl=61,
        sport=GENEVE_PORT,
        dport=GENEVE_PORT,
    )
    assert out.hex() == want.build().hex()
    assert gateway.stats("gw_stats", GATEWAY_STATS)["wan_to_lan"] == 1


def test_redirect_to_other_interface(gateway):
    gateway.put("gw_config", {"index": 0}, config(wan_ifindex=4242))
    sent = from_lan()
    verdict, _duration, out = run(gateway, sent)
    assert verdict == "XDP_REDIRECT"
    assert out[:6] == bytes.fromhex(PEER[1].replace(":", ""))


@pytest.mark.parametrize(
    ("name", "packet", "stat"),
    [
        ("unknown peer", from_wan(src_ip="198.19.0.9"), "unknown_peer"),
        ("unknown VNI from known peer", from_wan(vni=BLUE_THERE), "unknown_vni"),
        ("no route for destination", from_lan("10.9.0.1"), "no_route"),
        ("route VNI is per local VNI", from_lan(vni=1002), "no_route"),
        ("route to unconfigured peer", None, "unknown_peer"),
        ("ttl exhausted LAN", from_lan(ttl=1), "ttl"),
        ("ttl exhausted WAN", from_wan(ttl=1), "ttl"),
        ("truncated WAN geneve", from_wan().build()[: 14 + 20 + 8 + 5], "malformed"),
        ("truncated LAN inner", from_lan().build()[: 14 + 20 + 8 + 8 + 14 + 12], "malformed"),
        ("LAN payload not ethernet", from_lan(geneve_proto=0x0800), "malformed"),
    ],
)
def test_drops(gateway, name, packet, stat):
    if packet is None:
        gateway.put(
            "gw_routes",
            {"vni": BLUE, "prefix": "10.8.0.0/16"},
            {"peer": "198.19.0.77", "remote_vni": 7},
        )
        packet = from_lan("10.8.1.1")
    verdict, raw, out = run(gateway, packet)
    assert verdict == "XDP_DROP", name
    assert out == raw
    stats = gateway.stats("gw_stats", GATEWAY_STATS)
    assert stats[stat] == 1, stats
    assert stats["lan_to_wan"] == stats["wan_to_lan"] == 0


@pytest.mark.parametrize(
    ("name", "packet"),
    [
        ("geneve port on WAN address", from_wan(dport=GENEVE_PORT)),
        ("gateway port on LAN address", from_lan(dport=GATEWAY_PORT)),
        ("other destination", from_lan(dst_ip="198.18.1.77")),
        ("other UDP port", from_lan(dport=53)),
        ("not IPv4", b"\xff" * 12 + b"\x08\x06" + bytes(28)),
        ("truncated IPv4", from_lan().build()[: 14 + 12]),
    ],
)
def test_not_for_the_gateway_passes(gateway, name, packet):
    verdict, raw, out = run(gateway, packet)
    assert verdict == "XDP_PASS", name
    assert out == raw
    assert gateway.stats("gw_stats", GATEWAY_STATS)["pass"] == 1


def test_unconfigured_gateway_passes_everything(load):
    prog = load("gateway")
    verdict, raw, out = run(prog, from_lan())
    assert (verdict, out) == ("XDP_PASS", raw)

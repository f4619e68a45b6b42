"""Pure-Python tests of plugins/module_utils/bpf: layouts, declarative map plans, gateway state."""

from __future__ import annotations

import struct

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf import mapsync
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.gateway import gateway_entries
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import (
    LayoutError,
    layout,
)


def test_lpm_key_bytes():
    raw = layout("div_vnets").key.encode({"vni": 1001, "prefix": "10.2.0.0/24"})
    assert raw == struct.pack("=I", 56) + bytes([0, 0, 0x03, 0xE9]) + bytes([10, 2, 0, 0])
    assert layout("div_vnets").key.decode(raw) == {"vni": 1001, "prefix": "10.2.0.0/24"}


def test_values_normalise_and_pad():
    lay = layout("div_endpoints")
    raw = lay.value.encode({"ip": "198.18.1.2", "mac": "02:F0:00:00:01:02"})
    assert raw == bytes([198, 18, 1, 2, 2, 0xF0, 0, 0, 1, 2, 0, 0])
    assert (
        lay.normalise_value({"ip": "198.18.1.2", "mac": "02-F0-00-00-01-02"})["mac"]
        == "02:f0:00:00:01:02"
    )


@pytest.mark.parametrize(
    ("name", "key", "message"),
    [
        ("div_vnets", {"vni": 1, "prefix": "10.2.0.1/24"}, "host bits"),
        ("div_vnets", {"vni": 1 << 24, "prefix": "10.2.0.0/24"}, "VNI must be"),
        ("div_endpoints", {"vni": 1, "ip": "10.0.0.1", "extra": 1}, "unknown field"),
        ("gw_peers", {"ip": "not-an-ip"}, "not a valid ipv4"),
    ],
)
def test_bad_keys_are_refused(name, key, message):
    with pytest.raises(LayoutError, match=message):
        layout(name).key.encode(key)


def entry(ip: str, host: str) -> dict:
    return {"key": {"vni": 7, "ip": ip}, "value": {"ip": host, "mac": "02:00:00:00:00:01"}}


def test_plan_states():
    lay = layout("div_endpoints")
    current = dict(
        [
            lay.encode(e["key"], e["value"])
            for e in (entry("10.0.0.1", "198.18.0.1"), entry("10.0.0.2", "198.18.0.2"))
        ]
    )
    same = mapsync.plan(lay, current, [entry("10.0.0.1", "198.18.0.1")], "present")
    assert not same.changed
    exact = mapsync.plan(lay, current, [entry("10.0.0.1", "198.18.0.9")], "exact")
    assert (len(exact.writes), len(exact.deletes)) == (1, 1)
    assert [row["key"]["ip"] for row in exact.after] == ["10.0.0.1"]
    absent = mapsync.plan(lay, current, [{"key": {"vni": 7, "ip": "10.0.0.2"}}], "absent")
    assert absent.deletes == [lay.key.encode({"vni": 7, "ip": "10.0.0.2"})]
    with pytest.raises(LayoutError, match="given twice"):
        mapsync.plan(
            lay, {}, [entry("10.0.0.1", "198.18.0.1"), entry("10.0.0.1", "198.18.0.2")], "exact"
        )
    with pytest.raises(LayoutError, match="written by the program"):
        mapsync.plan(layout("gw_stats"), {}, [], "exact")


def test_array_exact_zeroes_instead_of_deleting():
    lay = layout("gw_config")
    value = {
        "lan_ip": "198.18.1.1",
        "wan_ip": "198.19.0.1",
        "lan_ifindex": 2,
        "wan_ifindex": 3,
        "lan_mac": "02:00:00:00:00:01",
        "wan_mac": "02:00:00:00:00:02",
    }
    current = dict([lay.encode({"index": 0}, value)])
    cleared = mapsync.plan(lay, current, [], "exact")
    assert cleared.deletes == [] and cleared.writes == [(lay.key.encode({"index": 0}), bytes(28))]


def test_gateway_state_derives_ingress_and_checks_references():
    side = {"address": "198.18.1.1", "mac": "02:00:00:00:00:01", "ifindex": 2}
    peers = [{"address": "198.19.0.2", "mac": "02:00:00:00:ff:02"}]
    dividers = [{"vni": 1001, "address": "198.18.1.3", "mac": "02:00:00:00:00:03"}]
    subnets = [
        {"vni": 1001, "prefix": "10.2.0.0/24", "peer": "198.19.0.2", "remote_vni": 2001},
        {"vni": 1001, "prefix": "10.4.0.0/24", "peer": "198.19.0.2", "remote_vni": 2003},
    ]
    out = gateway_entries(side, side, peers, dividers, subnets)
    assert out["gw_ingress"] == [
        {
            "key": {"peer": "198.19.0.2", "vni": 1001},
            "value": {"ip": "198.18.1.3", "mac": "02:00:00:00:00:03"},
        }
    ]
    assert len(out["gw_routes"]) == 2
    with pytest.raises(LayoutError, match="not a peer"):
        gateway_entries(side, side, [], dividers, subnets)
    with pytest.raises(LayoutError, match="no divider"):
        gateway_entries(side, side, peers, [], subnets)

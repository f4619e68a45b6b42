# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The gateway's declarative state -> the entries of its maps (bpf/gateway.bpf.c).

One state: the gateway's own LAN/WAN side, its peers (remote gateways), its local dividers
(one per VNI), and the remote subnets with their VNI translation. From it:

- ``gw_config``  the LAN/WAN addresses, MACs and interface indexes;
- ``gw_peers``   each peer's WAN address -> next-hop MAC;
- ``gw_routes``  (local VNI, remote subnet) -> (peer, VNI over there);
- ``gw_ingress`` (peer, local VNI) -> local divider, one per VNI that a remote subnet of that
  peer is routed from: traffic is accepted only from peers for VNIs it may come back on.
"""

from __future__ import annotations

from typing import Any, Dict, List  # noqa: UP035 - the alias below runs on Python 3.8

from .layouts import LayoutError, layout

MAPS = ("gw_config", "gw_peers", "gw_routes", "gw_ingress")

Entries = Dict[str, List[Dict[str, Any]]]  # noqa: UP006


def _side(name: str, side: dict[str, Any]) -> tuple[str, str, int]:
    for field in ("address", "mac", "ifindex"):
        if side.get(field) in (None, ""):
            raise LayoutError(f"{name}.{field} is required")
    return str(side["address"]), str(side["mac"]), int(side["ifindex"])


def gateway_entries(
    lan: dict[str, Any],
    wan: dict[str, Any],
    peers: list[dict[str, Any]],
    dividers: list[dict[str, Any]],
    remote_subnets: list[dict[str, Any]],
) -> Entries:
    """Desired contents of every gateway map (``{map: [{key, value}, ...]}``)."""
    lan_ip, lan_mac, lan_ifindex = _side("lan", lan)
    wan_ip, wan_mac, wan_ifindex = _side("wan", wan)
    config = {
        "lan_ip": lan_ip,
        "wan_ip": wan_ip,
        "lan_ifindex": lan_ifindex,
        "wan_ifindex": wan_ifindex,
        "lan_mac": lan_mac,
        "wan_mac": wan_mac,
    }
    out: Entries = {"gw_config": [{"key": {"index": 0}, "value": config}]}
    peer_ips = layout("gw_peers")
    out["gw_peers"] = [{"key": {"ip": p["address"]}, "value": {"mac": p["mac"]}} for p in peers]
    known_peers = {peer_ips.normalise_key(e["key"])["ip"] for e in out["gw_peers"]}
    by_vni: dict[int, dict[str, Any]] = {}
    for div in dividers:
        vni = int(div["vni"])
        if vni in by_vni:
            raise LayoutError(f"VNI {vni} has two dividers")
        by_vni[vni] = {"ip": div["address"], "mac": div["mac"]}
    out["gw_routes"] = []
    ingress: dict[tuple[str, int], dict[str, Any]] = {}
    for sub in remote_subnets:
        vni, peer = int(sub["vni"]), str(sub["peer"])
        if peer not in known_peers:
            raise LayoutError(f"remote subnet {sub['prefix']} goes to {peer}, which is not a peer")
        if vni not in by_vni:
            raise LayoutError(
                f"remote subnet {sub['prefix']} is routed from VNI {vni}, which has no divider"
            )
        out["gw_routes"].append(
            {
                "key": {"vni": vni, "prefix": sub["prefix"]},
                "value": {"peer": peer, "remote_vni": int(sub["remote_vni"])},
            }
        )
        ingress[(peer, vni)] = by_vni[vni]
    out["gw_ingress"] = [
        {"key": {"peer": peer, "vni": vni}, "value": hop}
        for (peer, vni), hop in sorted(ingress.items())
    ]
    return out

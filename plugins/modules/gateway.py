#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The Fornax gateway's peers, dividers, remote subnets and VNI map as one declarative state."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway
short_description: Configure a Fornax XDP gateway (peers, dividers, remote subnets, VNI map)
version_added: 0.1.0
description:
  - Writes one declarative state into the maps of the gateway program (C(bpf/gateway.bpf.c))
    pinned under O(pin_dir)C(/maps), as loaded by M(centaurus.fornax.xdp_program).
  - "The maps then hold exactly: C(gw_config) (LAN/WAN address, MAC, interface index),
    C(gw_peers) (peer WAN address -> MAC), C(gw_routes) ((local VNI, remote subnet) -> (peer,
    VNI over there)), C(gw_ingress) ((peer, local VNI) -> the VNI's divider). A peer may send a
    VNI in only if a remote subnet of that peer is routed from that VNI."
  - Interface MACs and indexes are read from the host (inside O(netns) when given).
author:
  - centaurus.fornax contributors (@centaurus-fornax)
options:
  pin_dir:
    description: bpffs directory of the gateway program (its maps are under C(maps/)).
    type: path
    default: /sys/fs/bpf/fornax/gateway
  netns:
    description: Network namespace (under C(/run/netns)) holding the interfaces.
    type: str
  state:
    description:
      - V(present) applies the state.
      - V(absent) empties every map (the program then passes all traffic).
    type: str
    choices: [present, absent]
    default: present
  lan:
    description: The cluster side.
    type: dict
    suboptions:
      interface:
        description: LAN interface.
        type: str
        required: true
      address:
        description: LAN IPv4 address (outer destination of traffic from dividers).
        type: str
        required: true
      mac:
        description: MAC of the interface; read from the host when omitted.
        type: str
  wan:
    description: The side towards the other gateways (may be the same interface as O(lan)).
    type: dict
    suboptions:
      interface:
        description: WAN interface.
        type: str
        required: true
      address:
        description: WAN IPv4 address.
        type: str
        required: true
      mac:
        description: MAC of the interface; read from the host when omitted.
        type: str
  peers:
    description: Remote gateways.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: The peer's WAN IPv4 address.
        type: str
        required: true
      mac:
        description: MAC of the next hop towards the peer on the WAN.
        type: str
        required: true
  dividers:
    description: The local divider of each local VNI.
    type: list
    elements: dict
    default: []
    suboptions:
      vni:
        description: Local VNI.
        type: int
        required: true
      address:
        description: Divider IPv4 address.
        type: str
        required: true
      mac:
        description: Divider MAC.
        type: str
        required: true
  remote_subnets:
    description: Subnets in other clusters and the VNI translation towards them.
    type: list
    elements: dict
    default: []
    suboptions:
      vni:
        description: Local VNI the traffic comes from.
        type: int
        required: true
      prefix:
        description: Remote subnet (CIDR).
        type: str
        required: true
      peer:
        description: WAN address of the gateway of the subnet's cluster.
        type: str
        required: true
      remote_vni:
        description: VNI of the subnet's VPC in that cluster (written on the WAN).
        type: int
        required: true
attributes:
  check_mode:
    description: Reports what would change without loading, attaching or writing anything lasting.
    support: full
  diff_mode:
    description: Shows the state before and after.
    support: full
"""

EXAMPLES = r"""
- name: Gateway of site-a; VPC blue is 1001 here and 2001 at site-b
  centaurus.fornax.gateway:
    lan: {interface: eth0, address: 198.18.1.1}
    wan: {interface: eth1, address: 198.19.0.1}
    peers:
      - {address: 198.19.0.2, mac: "02:f0:00:00:ff:02"}
    dividers:
      - {vni: 1001, address: 198.18.1.3, mac: "02:f0:00:00:01:03"}
    remote_subnets:
      - {vni: 1001, prefix: 10.2.0.0/24, peer: 198.19.0.2, remote_vni: 2001}
"""

RETURN = r"""
maps:
  description: Per map, its entries after the run (decoded).
  returned: always
  type: dict
  sample: {gw_peers: [{key: {ip: 198.19.0.2}, value: {mac: "02:f0:00:00:ff:02"}}]}
changed_maps:
  description: Names of the maps that changed (or would change in check mode).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf import mapsync
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import (
    BpftoolError,
    link_info,
    module_bpftool,
    netns_runner,
    pinned_map,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.gateway import (
    MAPS,
    gateway_entries,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import (
    LayoutError,
    layout,
)

SIDE = {
    "interface": {"type": "str", "required": True},
    "address": {"type": "str", "required": True},
    "mac": {"type": "str"},
}
ARGUMENT_SPEC = {
    "pin_dir": {"type": "path", "default": "/sys/fs/bpf/fornax/gateway"},
    "netns": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "lan": {"type": "dict", "options": SIDE},
    "wan": {"type": "dict", "options": SIDE},
    "peers": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "address": {"type": "str", "required": True},
            "mac": {"type": "str", "required": True},
        },
    },
    "dividers": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "vni": {"type": "int", "required": True},
            "address": {"type": "str", "required": True},
            "mac": {"type": "str", "required": True},
        },
    },
    "remote_subnets": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "vni": {"type": "int", "required": True},
            "prefix": {"type": "str", "required": True},
            "peer": {"type": "str", "required": True},
            "remote_vni": {"type": "int", "required": True},
        },
    },
}


def desired_entries(module: AnsibleModule) -> dict:
    """The entries every gateway map should hold: none when the gateway is absent."""
    params = module.params
    if params["state"] != "present":
        return {name: [] for name in MAPS}
    in_ns = netns_runner(module.run_command, params["netns"])
    sides = {}
    for side in ("lan", "wan"):
        spec = params[side]
        info = link_info(in_ns, spec["interface"])
        sides[side] = {
            "address": spec["address"],
            "mac": spec["mac"] or info["address"],
            "ifindex": info["ifindex"],
        }
    return gateway_entries(
        sides["lan"], sides["wan"], params["peers"], params["dividers"], params["remote_subnets"]
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "present", ("lan", "wan"))],
        supports_check_mode=True,
    )
    tool = module_bpftool(module)  # maps are pinned in bpffs, seen from every namespace
    maps_dir = os.path.join(module.params["pin_dir"], "maps")
    try:
        desired = desired_entries(module)
        plans = {}
        for name in MAPS:
            current = pinned_map(tool, os.path.join(maps_dir, name), module.check_mode)
            plans[name] = mapsync.plan(layout(name), current, desired[name], "exact")
        changed = [name for name in MAPS if plans[name].changed]
        if not module.check_mode:
            for name in changed:
                mapsync.apply(tool, os.path.join(maps_dir, name), plans[name])
    except (LayoutError, BpftoolError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=bool(changed),
        changed_maps=changed,
        diff={
            "before": {n: plans[n].before for n in MAPS},
            "after": {n: plans[n].after for n in MAPS},
        },
        maps={n: plans[n].after for n in MAPS},
    )


if __name__ == "__main__":
    main()

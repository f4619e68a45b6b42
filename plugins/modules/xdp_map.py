#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Declarative entries of a pinned Fornax BPF map, with typed keys and values."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xdp_map
short_description: Declarative entries of a pinned Fornax XDP map
version_added: 0.1.0
description:
  - Makes a map pinned in bpffs hold the given entries. Keys and values are typed dicts
    following the map's layout (the comments on each map in C(bpf/*.bpf.c)); the encoding lives
    in C(plugins/module_utils/bpf/layouts.py).
  - "Layouts: C(div_vnets) key C({vni, prefix}) value C({ip, mac}); C(div_endpoints) key
    C({vni, ip}) value C({ip, mac}); C(gw_config) key C({index: 0}) value C({lan_ip, wan_ip,
    lan_ifindex, wan_ifindex, lan_mac, wan_mac}); C(gw_peers) key C({ip}) value C({mac});
    C(gw_routes) key C({vni, prefix}) value C({peer, remote_vni}); C(gw_ingress) key
    C({peer, vni}) value C({ip, mac}); C(host_pods) key C({ip}) value C({vni, divider_ip,
    host_ip, uplink_ifindex, veth_ifindex, divider_mac, uplink_mac, pod_mac, veth_mac})."
  - Counter maps (C(div_stats), C(gw_stats)) are written by the programs only.
author:
  - centaurus.fornax contributors (@centaurus-fornax)
options:
  path:
    description: The pinned map, for example C(/sys/fs/bpf/fornax/eth0/maps/div_vnets).
    type: path
    required: true
  layout:
    description: Name of the map's layout. Default the last component of O(path).
    type: str
  entries:
    description:
      - Entries, each C({key, value}); with O(state=absent) only C(key) is needed.
    type: list
    elements: dict
    default: []
  state:
    description:
      - V(present) adds or updates the entries; V(absent) removes their keys; V(exact) makes the
        map hold exactly the entries (array maps get zeroes where entries go).
    type: str
    choices: [present, absent, exact]
    default: present
attributes:
  check_mode:
    description: Reports what would change without loading, attaching or writing anything lasting.
    support: full
  diff_mode:
    description: Shows the state before and after.
    support: full
notes:
  - Needs root and C(bpftool). Map pins are visible from every network namespace.
"""

EXAMPLES = r"""
- name: Virtual subnets of VPC 1001 go to the gateway
  centaurus.fornax.xdp_map:
    path: /sys/fs/bpf/fornax/eth0/maps/div_vnets
    state: exact
    entries:
      - key: {vni: 1001, prefix: 10.2.0.0/24}
        value: {ip: 198.18.1.1, mac: "02:f0:00:00:01:01"}

- name: Forget one endpoint
  centaurus.fornax.xdp_map:
    path: /sys/fs/bpf/fornax/eth0/maps/div_endpoints
    state: absent
    entries:
      - key: {vni: 1001, ip: 10.1.0.5}
"""

RETURN = r"""
entries:
  description: The map's entries after the run (decoded, sorted by key).
  returned: always
  type: list
  elements: dict
  sample:
    - key: {vni: 1001, prefix: 10.2.0.0/24}
      value: {ip: 198.18.1.1, mac: "02:f0:00:00:01:01"}
writes:
  description: Number of entries written.
  returned: always
  type: int
deletes:
  description: Number of entries deleted.
  returned: always
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf import mapsync
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import (
    BpftoolError,
    module_bpftool,
    pinned_map,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import (
    LayoutError,
    layout,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "layout": {"type": "str"},
            "entries": {"type": "list", "elements": "dict", "default": []},
            "state": {"type": "str", "choices": list(mapsync.STATES), "default": "present"},
        },
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    tool = module_bpftool(module)
    try:
        lay = layout(params["layout"] or os.path.basename(path))
        current = pinned_map(tool, path, module.check_mode)
        todo = mapsync.plan(lay, current, params["entries"], params["state"])
        if todo.changed and not module.check_mode:
            mapsync.apply(tool, path, todo)
    except (LayoutError, BpftoolError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=todo.changed,
        diff={"before": {"entries": todo.before}, "after": {"entries": todo.after}},
        entries=todo.after,
        writes=len(todo.writes),
        deletes=len(todo.deletes),
    )


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Attach or detach an XDP program, pinned with its maps under a project directory in bpffs."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xdp_program
short_description: Attach an XDP object to an interface, pinned in bpffs, idempotent by tag
version_added: 0.1.0
description:
  - Loads the program of a BPF object file (for example C(bpf/build/gateway.bpf.o)), pins it
    at C(<pin_dir>/prog) and its maps under C(<pin_dir>/maps/), and attaches it to an
    interface in generic (SKB) or native (driver) mode.
  - Idempotent by program tag, the kernel's hash of the instructions. To learn the object's
    tag the module loads it briefly under C(<pin_dir>/tagprobe_<pid>) and removes it again, also in
    check mode; nothing is attached or left behind by that.
  - When a different version replaces the pinned program, pinned maps with the same name are
    reused, so map contents survive an upgrade.
  - Several interfaces may share one O(pin_dir) (one program, one set of maps).
  - Drives the kernel through C(bpftool) (Debian package C(bpftool)) and C(ip).
author:
  - centaurus.fornax contributors (@centaurus-fornax)
options:
  interface:
    description: Network interface to attach to.
    type: str
    required: true
  object:
    description: Path of the BPF object file on the managed host. Required with O(state=present).
    type: path
  state:
    description: V(present) attaches (loading when needed); V(absent) detaches and removes the pins.
    type: str
    choices: [present, absent]
    default: present
  mode:
    description: XDP attach mode. V(generic) works on every interface (veth, containers).
    type: str
    choices: [generic, native]
    default: generic
  pin_dir:
    description:
      - bpffs directory for the program and its maps.
      - Default C(/sys/fs/bpf/fornax/<interface>).
    type: path
  netns:
    description:
      - Name of a network namespace under C(/run/netns) in which the interface lives.
      - Commands run through C(nsenter --net=...), which keeps bpffs visible.
    type: str
  remove_pins:
    description: With O(state=absent), also remove O(pin_dir) (program and maps).
    type: bool
    default: true
attributes:
  check_mode:
    description: Reports what would change without loading, attaching or writing anything lasting.
    support: full
  diff_mode:
    description: Shows the state before and after.
    support: full
notes:
  - Needs root, a mounted bpffs at C(/sys/fs/bpf), and C(bpftool).
"""

EXAMPLES = r"""
- name: Attach the divider in generic mode
  centaurus.fornax.xdp_program:
    interface: eth0
    object: /opt/fornax/bpf/divider.bpf.o

- name: One gateway program on both gateway interfaces
  centaurus.fornax.xdp_program:
    interface: "{{ item }}"
    object: /opt/fornax/bpf/gateway.bpf.o
    pin_dir: /sys/fs/bpf/fornax/gateway
  loop: [eth0, eth1]

- name: Detach and unpin
  centaurus.fornax.xdp_program:
    interface: eth0
    state: absent
"""

RETURN = r"""
interface:
  description: The interface.
  returned: always
  type: str
attached:
  description: Whether an XDP program is attached after the run.
  returned: always
  type: bool
mode:
  description: Attach mode (generic or native).
  returned: when attached
  type: str
prog_id:
  description: Kernel id of the attached program (not known in check mode before a load).
  returned: when attached
  type: int
tag:
  description: Program tag (hex).
  returned: when attached
  type: str
  sample: 510afcda53878b32
pin_dir:
  description: bpffs directory of the program and its maps.
  returned: always
  type: str
maps:
  description: Names of the maps pinned under C(<pin_dir>/maps).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf import program
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import (
    BpftoolError,
    module_bpftool,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "required": True},
            "object": {"type": "path"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "mode": {"type": "str", "choices": ["generic", "native"], "default": "generic"},
            "pin_dir": {"type": "path"},
            "netns": {"type": "str"},
            "remove_pins": {"type": "bool", "default": True},
        },
        required_if=[("state", "present", ("object",))],
        supports_check_mode=True,
    )
    params = module.params
    interface = params["interface"]
    pin_dir = params["pin_dir"] or program.default_pin_dir(interface)
    tool = module_bpftool(module, params["netns"])
    try:
        if params["state"] == "present":
            if not os.path.isfile(params["object"]):
                module.fail_json(msg=f"object {params['object']} does not exist")
            result = program.ensure_present(
                tool,
                params["object"],
                interface,
                pin_dir,
                mode=params["mode"],
                check_mode=module.check_mode,
            )
        else:
            result = program.ensure_absent(
                tool, interface, pin_dir, module.check_mode, params["remove_pins"]
            )
    except (BpftoolError, OSError) as exc:
        module.fail_json(msg=str(exc))
    after = program.summary(result["after"])
    module.exit_json(
        changed=result["changed"],
        diff={"before": program.summary(result["before"]), "after": after},
        maps=program.pinned_maps(pin_dir),
        **after,
    )


if __name__ == "__main__":
    main()

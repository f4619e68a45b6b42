"""Configure the namespace topology's data path directly through module_utils (no Ansible).

The end-to-end tests and the bench use this; tests/bpf/test_modules_netns.py does the same
through the Ansible modules and checks both give the same maps.
"""

from __future__ import annotations

import json
from pathlib import Path

from fornax_netns import CLUSTERS, Cluster, Topology, divider_state, gateway_state, pod_mac

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf import mapsync
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import (
    Bpftool,
    subprocess_runner,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.gateway import gateway_entries
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import layout

ROOT = Path(__file__).resolve().parents[2]


def tool_in(topo: Topology, short: str) -> Bpftool:
    prefix = topo.nsenter(short)
    return Bpftool(runner=lambda argv: subprocess_runner([*prefix, *argv]))


def link(topo: Topology, short: str, dev: str) -> dict:
    return json.loads(topo.sh(short, "ip", "-j", "link", "show", dev).stdout)[0]


def fill(tool: Bpftool, maps_dir: Path, entries: dict[str, list[dict]]) -> None:
    for name, rows in entries.items():
        pin = str(maps_dir / name)
        mapsync.apply(tool, pin, mapsync.plan(layout(name), tool.map_dump(pin), rows, "exact"))


def load(topo: Topology, short: str, obj: Path, devs: tuple[str, ...]) -> Path:
    where = topo.pin_root / short
    where.mkdir(parents=True, exist_ok=True)
    tool = tool_in(topo, short)
    tool.prog_load(str(obj), str(where / "prog"), str(where / "maps"))
    for dev in devs:
        tool.xdp_attach(str(where / "prog"), dev, "generic")
    return where / "maps"


def resolved_gateway(topo: Topology, c: Cluster) -> dict[str, list[dict]]:
    state = gateway_state(c)
    sides = {}
    for side in ("lan", "wan"):
        info = link(topo, f"{c.name}-gw", state[side]["interface"])
        sides[side] = {
            "address": state[side]["address"],
            "mac": info["address"],
            "ifindex": info["ifindex"],
        }
    return gateway_entries(
        sides["lan"], sides["wan"], state["peers"], state["dividers"], state["remote_subnets"]
    )


def host_entries(topo: Topology, c: Cluster) -> dict[str, list[dict]]:
    uplink = link(topo, f"{c.name}-host", "eth0")
    rows = []
    for pod in c.pods:
        veth = link(topo, f"{c.name}-host", f"v{pod.vpc}")
        value = {
            "vni": pod.vni,
            "divider_ip": c.div_ip,
            "host_ip": c.host_ip,
            "uplink_ifindex": uplink["ifindex"],
            "veth_ifindex": veth["ifindex"],
            "divider_mac": c.mac(3),
            "uplink_mac": uplink["address"],
            "pod_mac": pod_mac(c, pod),
            "veth_mac": veth["address"],
        }
        rows.append({"key": {"ip": pod.ip}, "value": value})
    return {"host_pods": rows}


def configure_hosts(topo: Topology, objects: Path) -> None:
    """Host encapsulation: load bpf/host.bpf.o per host, fill host_pods, attach with tc."""
    for c in CLUSTERS:
        where = topo.pin_root / f"{c.name}-host"
        where.mkdir(parents=True, exist_ok=True)
        Bpftool().run(
            "prog",
            "loadall",
            str(objects / "host.bpf.o"),
            str(where),
            "pinmaps",
            str(where / "maps"),
            json_out=False,
        )
        fill(Bpftool(), where / "maps", host_entries(topo, c))
        topo.attach_host(c, where)


def configure(topo: Topology, objects: Path) -> None:
    configure_hosts(topo, objects)
    for c in CLUSTERS:
        maps = load(topo, f"{c.name}-div", objects / "divider.bpf.o", ("eth0",))
        fill(Bpftool(), maps, divider_state(c))
        maps = load(topo, f"{c.name}-gw", objects / "gateway.bpf.o", ("lan0", "wan0"))
        fill(Bpftool(), maps, resolved_gateway(topo, c))

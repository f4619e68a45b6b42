"""The xdp_program, xdp_map and gateway modules, run by real ansible-playbook, configure the
namespace topology: check mode changes nothing, the first run makes pods talk, the second run
changes nothing, drift is reported in check mode and repaired, state=absent cleans up."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import fornax_direct
import fornax_netns
import pytest
from fornax_netns import CLUSTERS

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf import program
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import Bpftool
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import layout
from ansible_collections.centaurus.fornax.plugins.module_utils.validate import checks_network
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.base import (
    CheckFailed,
    Validation,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.fleet import (
    fleet_from_members,
)
from fornax_harness.prereq import require

pytestmark = pytest.mark.root


def playbook(topo: fornax_netns.Topology, objects, state: str = "present") -> list:
    tasks: list[dict] = []
    for c in CLUSTERS:
        div_ns, gw_ns = topo.ns(f"{c.name}-div"), topo.ns(f"{c.name}-gw")
        div_pins, gw_pins = (
            str(topo.pin_root / f"{c.name}-div"),
            str(topo.pin_root / f"{c.name}-gw"),
        )
        tasks.append(
            {
                "name": f"Divider of {c.name}",
                "centaurus.fornax.xdp_program": {
                    "interface": "eth0",
                    "netns": div_ns,
                    "pin_dir": div_pins,
                    "state": state,
                    "object": str(objects / "divider.bpf.o"),
                },
            }
        )
        if state == "present":
            for name, entries in fornax_netns.divider_state(c).items():
                tasks.append(
                    {
                        "name": f"{name} of {c.name}",
                        "centaurus.fornax.xdp_map": {
                            "path": f"{div_pins}/maps/{name}",
                            "state": "exact",
                            "entries": entries,
                        },
                    }
                )
        for dev in ("lan0", "wan0"):
            tasks.append(
                {
                    "name": f"Gateway of {c.name} on {dev}",
                    "centaurus.fornax.xdp_program": {
                        "interface": dev,
                        "netns": gw_ns,
                        "pin_dir": gw_pins,
                        "state": state,
                        "object": str(objects / "gateway.bpf.o"),
                    },
                }
            )
        if state == "present":
            tasks.append(
                {
                    "name": f"Gateway state of {c.name}",
                    "centaurus.fornax.gateway": {
                        "netns": gw_ns,
                        "pin_dir": gw_pins,
                        **fornax_netns.gateway_state(c),
                    },
                }
            )
    return [
        {"name": "Fornax data path", "hosts": "localhost", "gather_facts": False, "tasks": tasks}
    ]


def run_playbook(tmp_path, plays: list, *extra: str) -> dict[str, int]:
    book = tmp_path / "datapath.yml"
    book.write_text(json.dumps(plays, indent=1))
    argv = [
        "ansible-playbook",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(book),
        *extra,
    ]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False, env=os.environ
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    recap = re.search(
        r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout
    )
    assert recap, proc.stdout
    return dict(
        zip(("ok", "changed", "unreachable", "failed"), map(int, recap.groups()), strict=True)
    )


@pytest.fixture(scope="module")
def topology(bpf_objects):
    for tool in ("ip", "tc", "nsenter", "ethtool", "ping", "ansible-playbook"):
        require(
            shutil.which(tool) is not None,
            tool,
            "apt-get install iproute2 ...; source scripts/env.sh",
        )
    fornax_netns.remove_leftovers(fornax_netns.PREFIX)
    topo = fornax_netns.Topology(tag=f"{os.getpid()}-m")
    try:
        topo.build()
        fornax_direct.configure_hosts(topo, bpf_objects)
        yield topo
    finally:
        topo.teardown()
        assert topo.remaining() == []


def pings(topo) -> bool:
    out = topo.sh(
        "a-blue", "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.2.0.5", timeout=20, check=False
    )
    return out.returncode == 0


def xdp_on(topo, short: str, dev: str):
    return fornax_direct.tool_in(topo, short).xdp_attached(dev)


def test_modules_lifecycle(topology, bpf_objects, tmp_path):
    plays = playbook(topology, bpf_objects)
    # check mode on a fresh topology: reports changes, attaches and writes nothing
    recap = run_playbook(tmp_path, plays, "--check", "--diff")
    assert recap["changed"] > 0
    assert xdp_on(topology, "a-div", "eth0") is None
    assert not (topology.pin_root / "a-div").exists()
    # first run configures everything; pods of the same VPC talk across clusters
    recap = run_playbook(tmp_path, plays)
    assert recap["changed"] > 0 and recap["failed"] == 0
    assert xdp_on(topology, "a-gw", "lan0") == xdp_on(topology, "a-gw", "wan0")
    assert pings(topology)
    # the modules produce the same maps as the direct configuration the e2e test uses
    gw_maps = topology.pin_root / "b-gw" / "maps"
    want = fornax_direct.resolved_gateway(topology, CLUSTERS[1])
    for name, rows in want.items():
        lay = layout(name)
        got = Bpftool().map_dump(str(gw_maps / name))
        assert sorted(got.items()) == sorted(lay.encode(r["key"], r["value"]) for r in rows), name
    # second run: nothing to do
    assert run_playbook(tmp_path, plays)["changed"] == 0
    # drift: a route removed by hand is reported in check mode, left alone, then repaired
    route = layout("gw_routes").key.encode({"vni": 1001, "prefix": "10.2.0.0/24"})
    Bpftool().map_delete(str(topology.pin_root / "a-gw" / "maps" / "gw_routes"), route)
    assert not pings(topology)
    assert run_playbook(tmp_path, plays, "--check")["changed"] == 1
    assert not pings(topology)
    assert run_playbook(tmp_path, plays)["changed"] == 1
    assert pings(topology)
    # state=absent detaches and unpins; a second absent run changes nothing
    absent = playbook(topology, bpf_objects, state="absent")
    assert run_playbook(tmp_path, absent)["changed"] > 0
    assert xdp_on(topology, "a-div", "eth0") is None
    assert xdp_on(topology, "b-gw", "wan0") is None
    assert not (topology.pin_root / "a-gw").exists()
    assert run_playbook(tmp_path, absent)["changed"] == 0


def contract_vars(c: fornax_netns.Cluster) -> dict:
    """Hostvars of c's gateway host as the hierarchy inventory sets them (hostvars contract)."""
    other = fornax_netns.B if c is fornax_netns.A else fornax_netns.A
    blue_here = next(p for p in c.pods if p.vpc == "blue")
    blue_there = next(p for p in other.pods if p.vpc == "blue")
    vpcs = [{"name": p.vpc, "vni": p.vni, "subnets": [p.subnet], "remote": []} for p in c.pods]
    vpcs[c.pods.index(blue_here)]["remote"] = [
        {
            "cluster": other.name,
            "vni": blue_there.vni,
            "subnets": [blue_there.subnet],
            "gateway_wan_address": other.wan_ip,
        }
    ]
    state = fornax_netns.gateway_state(c)
    same_vpc = {
        (r["vni"], r["prefix"])
        for v in vpcs
        for r in [{"vni": v["vni"], "prefix": s} for x in v["remote"] for s in x["subnets"]]
    }
    return {
        "fornax_cluster": c.name,
        "fornax_host_roles": ["gateway"],
        "fornax_gateway": {
            "host": f"gw-{c.name}",
            "lan_address": c.gw_lan_ip,
            "wan_address": c.wan_ip,
            "lan_interface": "lan0",
            "wan_interface": "wan0",
        },
        "fornax_vpcs": vpcs,
        "gateway_peer_macs": {other.wan_ip: other.wan_mac},
        "gateway_dividers": state["dividers"],
        "gateway_vpc_peerings": [
            r for r in state["remote_subnets"] if (r["vni"], r["prefix"]) not in same_vpc
        ],
    }


def test_gateway_role_from_contract_inventory(topology, bpf_objects, tmp_path):
    for c in CLUSTERS:
        maps = fornax_direct.load(
            topology, f"{c.name}-div", bpf_objects / "divider.bpf.o", ("eth0",)
        )
        fornax_direct.fill(Bpftool(), maps, fornax_netns.divider_state(c))
    hosts = {}
    for c in CLUSTERS:
        hosts[f"gw-{c.name}"] = {
            **contract_vars(c),
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "gateway_netns": topology.ns(f"{c.name}-gw"),
            "gateway_pin_dir": str(topology.pin_root / f"{c.name}-gw"),
            "gateway_objects_src": str(bpf_objects),
            "gateway_bpf_dir": str(tmp_path / f"opt-{c.name}"),
            "gateway_install_packages": False,
        }
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    book = tmp_path / "gateways.yml"
    book.write_text(
        json.dumps(
            [
                {
                    "name": "Gateways",
                    "hosts": "all",
                    "gather_facts": False,
                    "roles": ["centaurus.fornax.gateway"],
                }
            ]
        )
    )

    def play(*extra: str) -> str:
        proc = subprocess.run(
            ["ansible-playbook", "-i", str(inventory), str(book), *extra],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        return proc.stdout

    first = play()
    assert re.search(r"gw-a\s+:\s+ok=\d+\s+changed=[1-9]", first)
    assert pings(topology)
    out = topology.sh(
        "b-red", "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.1.0.5", timeout=20, check=False
    )
    assert out.returncode == 0, out.stdout
    for c in CLUSTERS:
        for name, rows in fornax_direct.resolved_gateway(topology, c).items():
            got = Bpftool().map_dump(str(topology.pin_root / f"{c.name}-gw" / "maps" / name))
            assert sorted(got.items()) == sorted(
                layout(name).encode(r["key"], r["value"]) for r in rows
            ), name
    second = play()
    assert len(re.findall(r"gw-[ab]\s+:\s+ok=\d+\s+changed=0\s", second)) == 2, second[-1500:]
    # The role's own check (what playbooks/validate.yml keeps as evidence of network/xdp):
    # nothing would change; a route removed by hand makes the maps inconsistent, then repaired.
    v = gateway_validation(tmp_path)
    verify_gateways(inventory, tmp_path)
    assert "attached to lan0, wan0" in checks_network.programs_attached(v, "gw-a", {})
    assert "as the inventory says" in checks_network.maps_consistent(v, "gw-b", {})
    route = layout("gw_routes").key.encode({"vni": 1001, "prefix": "10.2.0.0/24"})
    Bpftool().map_delete(str(topology.pin_root / "a-gw" / "maps" / "gw_routes"), route)
    verify_gateways(inventory, tmp_path)
    with pytest.raises(CheckFailed, match="gateway gw-a: the maps differ from the inventory"):
        checks_network.maps_consistent(v, "gw-a", {})
    assert "as the inventory says" in checks_network.maps_consistent(v, "gw-b", {})
    play()
    verify_gateways(inventory, tmp_path)
    assert "as the inventory says" in checks_network.maps_consistent(v, "gw-a", {})


def gateway_validation(tmp_path) -> Validation:
    """A validation of the two gateway hosts (cluster b below a), evidence under tmp_path."""
    members = [
        {"host": f"gw-{c.name}", "cluster": c.name, "parent": parent, "path": path,
         "children": children, "api_endpoint": "https://127.0.0.1:6443", "roles": ["gateway"]}
        for c, parent, path, children in ((CLUSTERS[0], None, "a", ["b"]),
                                          (CLUSTERS[1], "a", "a/b", []))
    ]  # fmt: skip
    return Validation(fleet_from_members(members), "r-1", evidence_dir=str(tmp_path))


def verify_gateways(inventory, tmp_path) -> None:
    """Run the gateway role's verify.yml on every gateway; keep gateway_verify as evidence."""
    evidence = tmp_path / "network" / "xdp" / "evidence"
    evidence.mkdir(parents=True, exist_ok=True)
    book = tmp_path / "verify.yml"
    book.write_text(
        json.dumps(
            [
                {
                    "name": "Check the gateways",
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "The gateway role's check",
                            "ansible.builtin.include_role": {
                                "name": "centaurus.fornax.gateway",
                                "tasks_from": "verify.yml",
                            },
                        },
                        {
                            "name": "Keep it",
                            "ansible.builtin.copy": {
                                "content": "{{ gateway_verify | to_json }}",
                                "dest": f"{evidence}/{{{{ inventory_hostname }}}}.json",
                                "mode": "0644",
                            },
                        },
                    ],
                }
            ]
        )
    )
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(book)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_program_upgrade_keeps_map_contents(bpf_objects, tmp_path):
    """A different build of the divider (another tag) replaces the pinned one; its maps stay."""
    other = tmp_path / "o1"
    flags = "BPF_CFLAGS=-O1 -g -target bpf -I/usr/include/x86_64-linux-gnu"
    subprocess.run(["make", "-s", "-C", str(fornax_direct.ROOT / "bpf"),
                    f"BUILD={other}", flags], check=True, timeout=120)  # fmt: skip
    topo = fornax_netns.Topology(tag=f"{os.getpid()}-up")
    try:
        topo._add_ns("up")
        topo.sh("up", "ip", "link", "add", "fxup0", "type", "veth", "peer", "name", "fxup1")
        topo.sh("up", "ip", "link", "set", "fxup0", "up")
        tool = fornax_direct.tool_in(topo, "up")
        pins = str(topo.pin_root / "up")
        first = program.ensure_present(tool, str(bpf_objects / "divider.bpf.o"), "fxup0", pins,
                                       mode="generic", check_mode=False)  # fmt: skip
        key, value = layout("div_endpoints").encode(
            {"vni": 5, "ip": "10.0.0.1"}, {"ip": "198.18.0.1", "mac": "02:00:00:00:00:01"}
        )
        tool.map_update(f"{pins}/maps/div_endpoints", key, value)
        again = program.ensure_present(tool, str(bpf_objects / "divider.bpf.o"), "fxup0", pins,
                                       mode="generic", check_mode=False)  # fmt: skip
        assert not again["changed"]
        upgraded = program.ensure_present(tool, str(other / "divider.bpf.o"), "fxup0", pins,
                                          mode="generic", check_mode=False)  # fmt: skip
        assert upgraded["changed"]
        assert upgraded["after"]["tag"] != first["after"]["tag"]
        assert tool.xdp_attached("fxup0") == ("generic", upgraded["after"]["prog_id"])
        assert tool.map_dump(f"{pins}/maps/div_endpoints") == {key: value}
    finally:
        topo.teardown()
    assert topo.remaining() == []

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


def hierarchy_file(topo: fornax_netns.Topology, objects, tmp_path) -> dict:
    """The namespaces as a hierarchy inventory file (plugin centaurus.fornax.hierarchy): one
    cluster per namespace cluster with a control-plane host (never contacted: site.yml's
    gateway play must not touch it) and the gateway host (run locally in the gateway's
    namespace), the VPCs with their dividers, the gateways with WAN addresses and MACs. What
    the gateway role writes comes from what the plugin exports for it; only the test's own
    plumbing (namespace, pins, object dirs, no apt) and the inter-VPC routes (a's blue reaching
    b's red: no field in the file yet) are host variables."""
    other = {fornax_netns.A.name: fornax_netns.B, fornax_netns.B.name: fornax_netns.A}
    same_vpc = {
        (c.name, p.vni, o.subnet) for c in CLUSTERS for p in c.pods
        for o in other[c.name].pods if o.vpc == p.vpc
    }  # fmt: skip
    clusters = []
    for c in CLUSTERS:
        state = fornax_netns.gateway_state(c)
        peerings = [
            r for r in state["remote_subnets"] if (c.name, r["vni"], r["prefix"]) not in same_vpc
        ]
        gateway_vars = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "gateway_netns": topo.ns(f"{c.name}-gw"),
            "gateway_pin_dir": str(topo.pin_root / f"{c.name}-gw"),
            "gateway_objects_src": str(objects),
            "gateway_bpf_dir": str(tmp_path / f"opt-{c.name}"),
            "gateway_install_packages": False,
            "gateway_vpc_peerings": peerings,
        }
        clusters.append(
            {
                "name": c.name,
                **({"parent": "a"} if c is not fornax_netns.A else {}),
                "podCidr": f"10.{100 + c.n}.0.0/16",
                "serviceCidr": f"10.{110 + c.n}.0.0/16",
                "hosts": [
                    # TEST-NET-2 and ssh: a play that reached this host would fail the test
                    {
                        "name": f"cp-{c.name}",
                        "roles": ["control_plane"],
                        "address": f"198.51.100.{c.n}",
                        "vars": {"ansible_connection": "ssh"},
                    },
                    {
                        "name": f"gw-{c.name}",
                        "roles": ["gateway"],
                        "address": c.gw_lan_ip,
                        "vars": gateway_vars,
                    },
                ],
                "gateway": {"wanAddress": c.wan_ip, "wanMac": c.wan_mac},
            }
        )
    vpcs: dict[str, list[dict]] = {}
    for c in CLUSTERS:
        for pod in c.pods:
            vpcs.setdefault(pod.vpc, []).append(
                {
                    "cluster": c.name,
                    "subnets": [pod.subnet],
                    "vni": pod.vni,
                    "divider": {"address": c.div_ip, "mac": c.mac(3)},
                }
            )
    return {
        "plugin": "centaurus.fornax.hierarchy",
        "defaults": {"gateway": {"lanInterface": "lan0", "wanInterface": "wan0"}},
        "clusters": clusters,
        "vpcs": [{"name": name, "clusters": sides} for name, sides in sorted(vpcs.items())],
    }


def test_site_gateway_play_from_the_hierarchy_inventory(topology, bpf_objects, tmp_path):
    """site.yml's gateway play (playbooks/_gateways.yml) against the namespaces, every value
    from the hierarchy inventory: only the gateway hosts are touched, check mode on fresh
    gateways changes nothing, the first run makes the pods talk, the second changes nothing."""
    for c in CLUSTERS:
        maps = fornax_direct.load(
            topology, f"{c.name}-div", bpf_objects / "divider.bpf.o", ("eth0",)
        )
        fornax_direct.fill(Bpftool(), maps, fornax_netns.divider_state(c))
    inventory = tmp_path / "tree.yml"
    inventory.write_text(json.dumps(hierarchy_file(topology, bpf_objects, tmp_path)))
    listed = subprocess.run(
        ["ansible-inventory", "-i", str(inventory), "--list"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    exported = json.loads(listed.stdout)["_meta"]["hostvars"]
    assert exported["gw-a"]["fornax_rollout_problems"] == []  # validate_inventory would pass
    assert exported["gw-a"]["fornax_gateway"]["peer_macs"] == {
        fornax_netns.B.wan_ip: fornax_netns.B.wan_mac
    }
    assert sorted(d["vni"] for d in exported["gw-b"]["fornax_gateway"]["dividers"]) == [2001, 2003]
    book = fornax_direct.ROOT / "playbooks" / "_gateways.yml"

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

    check = play("--check")
    assert re.search(r"gw-a\s+:\s+ok=\d+\s+changed=[1-9]", check), check[-1500:]
    assert xdp_on(topology, "a-gw", "lan0") is None
    assert not (topology.pin_root / "a-gw").exists()
    first = play()
    assert re.search(r"gw-a\s+:\s+ok=\d+\s+changed=[1-9]", first)
    assert "cp-a" not in first and "cp-b" not in first  # the play matched the gateways only
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
    check = play("--check")  # on configured gateways: nothing would change
    assert len(re.findall(r"gw-[ab]\s+:\s+ok=\d+\s+changed=0\s", check)) == 2, check[-1500:]
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
                    "hosts": "gateways",
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

"""Real pods in two clusters talk through the XDP gateways that site.yml rolled out.

Two nested nodes (privileged podman containers from the molecule scenario's image, booted
through scripts/fornax-node-init, reached over SSH with the scenario's keys and group_vars),
one cluster each: gwa (the root) and gwb (its child), each host a schedulable control plane and
its cluster's node (roles control_plane, edge_node), plus each cluster's gateway host.
`playbooks/site.yml` rolls it all out from one hierarchy file: control planes, nodes
(containerd + kubelet), the gateways (the gateway role, every value from the inventory:
wanMac, dividers, VPC), the cascade. Then one busybox pod per cluster, started by the kubelets;
`kubectl exec` and `kubectl logs` answer through the API server and the kubelets (the API
server's kubelet-client certificate the control_plane role issues and binds to
system:kubelet-api-admin), the API server verifying each kubelet against the cluster's CA (the
serving certificate the kubelet role signed for the node's address); a ping from the pod in gwa to the pod in gwb (run in the pod's
container by containerd, `ctr task exec`, so that the count is the ping's own) must be answered,
and the gateways' counters must show each request lan_to_wan at gateway a and wan_to_lan at
gateway b, and each reply the other way. Negative control: with the program detached from
gateway a's LAN interface the ping fails; site.yml's gateway play re-attaches it (changed on
gw-a only) and the ping is answered again.

Test plumbing, not rolled out by site.yml (docs/datapath.md, "In the rollout"):
- the gateway hosts are network namespaces on this machine (ansible_connection local,
  gateway_netns, as tests/bpf/test_modules_netns.py does): the same role, program and maps;
- each cluster's LAN is a bridge in a namespace, with the cluster's divider (XDP,
  bpf/divider.bpf.o, its two entries written here) and the node's uplink ``fxup`` (a veth moved
  into the node container);
- the hosts' Geneve encapsulation (bpf/host.bpf.o, TC on the pod's veth and on ``fxup``): the
  real pods' IPs, MACs and veths are provisioned into ``host_pods`` by this test, because that
  program is test plumbing, not a CNI.
Addresses exist only in what the test makes: the node network 10.89.72.0/24 (podman), LANs
198.18.61.0/24 and 198.18.62.0/24, WAN 198.19.0.0/24, pod CIDRs 10.61.0.0/24 and 10.62.0.0/24.
Names start with $FORNAX_TEST_ID (default i11gw); everything is removed at the end, also on
failure. About 6 minutes on two loaded cores (site.yml about 5.5 of them).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.bpf import mapsync
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.bpftool import (
    Bpftool,
    subprocess_runner,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.bpf.layouts import (
    GATEWAY_STATS,
    layout,
)
from fornax_harness.prereq import require

ROOT = Path(__file__).resolve().parents[2]
TAG = os.environ.get("FORNAX_TEST_ID", "i11gw")
NETWORK = f"{TAG}-net"
SUBNET = "10.89.72.0/24"
PINS = Path("/sys/fs/bpf/fornax")
# cluster -> its number (addresses), node address, VNI of the VPC there, the other cluster
CLUSTERS = {
    "a": {"n": 61, "node": "10.89.72.12", "vni": 1001, "other": "b"},
    "b": {"n": 62, "node": "10.89.72.13", "vni": 2001, "other": "a"},
}
CONTAINERD_SOCK = "/run/fornax/containerd/containerd.sock"  # the containerd role's socket
KUBELET_PORT = 10250  # the kubelet role's kubelet_port
UNIT_DIR = "/etc/systemd/system"  # where the control_plane role writes its units
PINGS = 5
pytestmark = pytest.mark.timeout(1800)


def sh(*argv: str, env: dict | None = None, timeout: float = 60, check: bool = True) -> str:
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr}{proc.stdout}")
    return proc.stdout


def ns(c: str, part: str) -> str:
    return f"{TAG}-{c}{part}"


def container(c: str) -> str:
    return f"{TAG}-node-{c}"


def mac(n: int, last: int) -> str:
    return f"02:f1:00:00:{n:02x}:{last:02x}"


def wan_mac(n: int) -> str:
    return f"02:f1:00:00:ff:{n:02x}"


# the plumbing ---------------------------------------------------------------------------------
def veth(ns1: str, if1: str, ns2: str, if2: str, address: str = "") -> None:
    """A veth pair between two namespaces (ns2 may be a /proc/<pid>/ns/net path's pid)."""
    tmp0, tmp1 = f"{TAG}t0", f"{TAG}t1"
    sh("ip", "link", "add", tmp0, "type", "veth", "peer", "name", tmp1)
    for tmp, where, name in ((tmp0, ns1, if1), (tmp1, ns2, if2)):
        sh("ip", "link", "set", tmp, "netns", where)
        enter = ["nsenter", f"--net=/proc/{where}/ns/net"] if where.isdigit() else [
            "ip", "netns", "exec", where]  # fmt: skip
        sh(*enter, "ip", "link", "set", tmp, "name", name)
        if address and name == if1:
            sh(*enter, "ip", "link", "set", name, "address", address)
        sh(*enter, "ip", "link", "set", name, "up")
        # the BPF programs rewrite headers without fixing offloaded checksums
        sh(*enter, "ethtool", "-K", name, "tx", "off", "rx", "off", "gso", "off", "tso", "off",
           check=False)  # fmt: skip


def bridge_ns(name: str) -> None:
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    sh("ip", "-n", name, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", name, "link", "set", "br0", "up")


def plumb() -> None:
    """Per cluster: a LAN bridge with the divider and the gateway's lan0; a WAN bridge with the
    gateways' wan0 (the node uplinks join the LANs once the containers run)."""
    bridge_ns(f"{TAG}-wan")
    for c, spec in CLUSTERS.items():
        n = spec["n"]
        bridge_ns(ns(c, "lan"))
        for part in ("div", "gw"):
            sh("ip", "netns", "add", ns(c, part))
        veth(ns(c, "div"), "eth0", ns(c, "lan"), "pdiv", mac(n, 3))
        veth(ns(c, "gw"), "lan0", ns(c, "lan"), "pgw", mac(n, 1))
        veth(ns(c, "gw"), "wan0", f"{TAG}-wan", f"w{c}", wan_mac(n))
        for port in ("pdiv", "pgw"):
            sh("ip", "-n", ns(c, "lan"), "link", "set", port, "master", "br0")
        sh("ip", "-n", f"{TAG}-wan", "link", "set", f"w{c}", "master", "br0")
        sh("ip", "-n", ns(c, "div"), "addr", "add", f"198.18.{n}.3/24", "dev", "eth0")
        sh("ip", "-n", ns(c, "gw"), "addr", "add", f"198.18.{n}.1/24", "dev", "lan0")
        sh("ip", "-n", ns(c, "gw"), "addr", "add", f"198.19.0.{n}/24", "dev", "wan0")


def node_pid(c: str, env: dict) -> str:
    return sh("podman", "inspect", "-f", "{{.State.Pid}}", container(c), env=env).strip()


def start_nodes(env: dict, image: str) -> None:
    sh("podman", "network", "create", "--subnet", SUBNET, NETWORK, env=env)
    for c, spec in CLUSTERS.items():
        sh("podman", "run", "-d", "--name", container(c), "--hostname", container(c),
           "--privileged", "--systemd=false", "--cgroupns=private", "-e", "container=podman",
           "--tmpfs", "/run:rw,nosuid,nodev", "--tmpfs", "/run/lock:rw,nosuid,nodev",
           "--tmpfs", "/tmp:rw,nosuid,nodev",
           "-v", f"{ROOT}/scripts/fornax-node-init:/usr/local/sbin/fornax-node-init:ro",
           "-v", f"{env['FORNAX_CACHE']}/ssh/host:/etc/ssh/fornax:ro",
           "--network", NETWORK, "--ip", spec["node"], image,
           "/usr/local/sbin/fornax-node-init", env=env, timeout=120)  # fmt: skip
    for c, spec in CLUSTERS.items():
        n, pid = spec["n"], node_pid(c, env)
        veth(ns(c, "lan"), "phost", pid, "fxup")
        sh("ip", "-n", ns(c, "lan"), "link", "set", "phost", "master", "br0")
        enter = ["nsenter", f"--net=/proc/{pid}/ns/net"]
        sh(*enter, "ip", "link", "set", "fxup", "address", mac(n, 2))
        sh(*enter, "ip", "addr", "add", f"198.18.{n}.2/24", "dev", "fxup")


def cleanup(env: dict) -> list[str]:
    names = [container(c) for c in CLUSTERS]
    sh("podman", "rm", "-f", "-t", "5", *names, env=env, timeout=120, check=False)
    sh("podman", "network", "rm", "-f", NETWORK, env=env, timeout=120, check=False)
    for name in [f"{TAG}-wan"] + [ns(c, p) for c in CLUSTERS for p in ("lan", "div", "gw")]:
        sh("ip", "netns", "del", name, check=False)
    for path in PINS.glob(f"{TAG}-*") if PINS.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)
    left = [
        name
        for name in names
        if subprocess.run(
            ["podman", "container", "exists", name], env=env, timeout=60, check=False
        ).returncode
        == 0
    ]
    left += [line.split()[0] for line in sh("ip", "netns", "list").splitlines()
             if line.startswith(f"{TAG}-")]  # fmt: skip
    left += [str(p) for p in PINS.glob(f"{TAG}-*")] if PINS.is_dir() else []
    return left


# the inventory and the rollout ----------------------------------------------------------------
def hierarchy(objects: Path, work: Path) -> dict:
    clusters = []
    for c, spec in CLUSTERS.items():
        n = spec["n"]
        gateway_vars = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "gateway_netns": ns(c, "gw"),
            "gateway_pin_dir": str(PINS / ns(c, "gw")),
            "gateway_objects_src": str(objects),
            "gateway_bpf_dir": str(work / f"opt-{c}"),
            "gateway_install_packages": False,
        }
        clusters.append(
            {
                "name": f"gw{c}",
                **({"parent": "gwa"} if c != "a" else {}),
                "podCidr": f"10.{n}.0.0/24",
                "serviceCidr": f"10.{100 + n}.0.0/24",
                "hosts": [
                    {
                        "name": container(c),
                        "roles": ["control_plane", "edge_node"],
                        "address": spec["node"],
                        "vars": {"control_plane_kwok": False},
                    },
                    {
                        "name": f"{TAG}-gw-{c}",
                        "roles": ["gateway"],
                        "address": f"198.18.{n}.1",
                        "vars": gateway_vars,
                    },
                ],
                "gateway": {"wanAddress": f"198.19.0.{n}", "wanMac": wan_mac(n)},
            }
        )
    sides = [
        {
            "cluster": f"gw{c}",
            "subnets": [f"10.{spec['n']}.0.0/24"],
            "vni": spec["vni"],
            "divider": {"address": f"198.18.{spec['n']}.3", "mac": mac(spec["n"], 3)},
        }
        for c, spec in CLUSTERS.items()
    ]
    return {
        "plugin": "centaurus.fornax.hierarchy",
        "defaults": {
            "kubeDistro": "k8s",
            "hostVars": {
                "ansible_connection": "ssh",
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "gateway": {"lanInterface": "lan0", "wanInterface": "wan0"},
        },
        "clusters": clusters,
        "vpcs": [{"name": "blue", "clusters": sides}],
    }


def playbook(env: dict, inventory: Path, book: str, timeout: float = 1500) -> str:
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / book)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"{book} failed:\n{proc.stdout[-8000:]}{proc.stderr[-3000:]}"
    return proc.stdout


# the pods and their data path (test plumbing) ---------------------------------------------------
def kubectl(env: dict, work: Path, c: str, *args: str, stdin: str | None = None) -> str:
    kubeconfig = work / "eph" / "pki" / f"gw{c}" / "admin.kubeconfig"
    proc = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"kubectl {args}: {proc.stderr}"
    return proc.stdout


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": f"{TAG}-pod"},
    "spec": {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 1,
        "containers": [
            {
                "name": "c",
                "image": "localhost/fornax/busybox:1",
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", f"echo {TAG} log line; exec sleep 3600"],
            }
        ],
    },
}


def running_pod(env: dict, work: Path, c: str) -> dict:
    deadline = time.monotonic() + 180
    while True:
        pod = json.loads(kubectl(env, work, c, "get", "pod", f"{TAG}-pod", "-o", "json"))
        status = pod.get("status", {})
        if status.get("phase") == "Running" and status.get("podIP"):
            return pod
        assert time.monotonic() < deadline, f"the pod of gw{c} is not Running: {status}"
        time.sleep(1)


def check_exec_and_logs(env: dict, work: Path, c: str) -> None:
    """kubectl exec and logs reach the pod through gw<c>'s API server and its node's kubelet
    (answered "Unauthorized" while the API server called the kubelets anonymously), which the
    API server verifies (--kubelet-certificate-authority): the kubelet serves at the node's
    address a certificate of gw<c>'s CA naming that address (this handshake fails on a
    self-signed one, as the API server's would)."""
    unit = sh("podman", "exec", container(c), "cat", UNIT_DIR + "/kube-apiserver.service", env=env)
    assert "--kubelet-certificate-authority=" in unit, unit
    address = CLUSTERS[c]["node"]
    context = ssl.create_default_context(cafile=str(work / "eph" / "pki" / f"gw{c}" / "ca.crt"))
    with (
        socket.create_connection((address, KUBELET_PORT), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=address) as tls,
    ):
        assert ("DNS", container(c)) in tls.getpeercert()["subjectAltName"]
    pod = f"{TAG}-pod"
    assert kubectl(env, work, c, "exec", pod, "--", "echo", f"exec in gw{c}") == f"exec in gw{c}\n"
    assert f"{TAG} log line" in kubectl(env, work, c, "logs", pod)


def in_node(env: dict, c: str, *argv: str, mount: bool = False) -> str:
    pid = node_pid(c, env)
    return sh("nsenter", "-t", pid, "-n", *(["-m"] if mount else []), *argv)


def pod_veth(env: dict, c: str, ip: str) -> tuple[str, dict]:
    """The pod's MAC and the host end of its veth in the node container (found through the
    pod's CNI network namespace, which holds the pod's IP)."""
    for name in in_node(env, c, "ip", "netns", "list", mount=True).split():
        if not name.startswith("cni-"):
            continue
        eth0 = json.loads(in_node(env, c, "ip", "netns", "exec", name, "ip", "-j", "addr", "show",
                                  "eth0", mount=True))[0]  # fmt: skip
        if any(a.get("local") == ip for a in eth0.get("addr_info", [])):
            links = json.loads(in_node(env, c, "ip", "-j", "link"))
            return eth0["address"], next(x for x in links if x["ifindex"] == eth0["link_index"])
    raise AssertionError(f"no pod network namespace holds {ip} on {container(c)}")


def fill(tool: Bpftool, maps_dir: Path, entries: dict[str, list[dict]]) -> None:
    for name, rows in entries.items():
        pin = str(maps_dir / name)
        mapsync.apply(tool, pin, mapsync.plan(layout(name), tool.map_dump(pin), rows, "exact"))


def wire_host(env: dict, objects: Path, c: str, ip: str) -> None:
    """bpf/host.bpf.o for the real pod: its entry in host_pods, TC on its veth and on fxup."""
    n, vni = CLUSTERS[c]["n"], CLUSTERS[c]["vni"]
    pod_mac, veth_end = pod_veth(env, c, ip)
    uplink = json.loads(in_node(env, c, "ip", "-j", "link", "show", "fxup"))[0]
    where = PINS / ns(c, "host")
    where.mkdir(parents=True, exist_ok=True)
    Bpftool().run("prog", "loadall", str(objects / "host.bpf.o"), str(where), "pinmaps",
                  str(where / "maps"), json_out=False)  # fmt: skip
    value = {
        "vni": vni, "divider_ip": f"198.18.{n}.3", "host_ip": f"198.18.{n}.2",
        "uplink_ifindex": uplink["ifindex"], "veth_ifindex": veth_end["ifindex"],
        "divider_mac": mac(n, 3), "uplink_mac": uplink["address"], "pod_mac": pod_mac,
        "veth_mac": veth_end["address"],
    }  # fmt: skip
    fill(Bpftool(), where / "maps", {"host_pods": [{"key": {"ip": ip}, "value": value}]})
    for dev, prog in (("fxup", "fornax_host_decap"), (veth_end["ifname"], "fornax_host_encap")):
        in_node(env, c, "tc", "qdisc", "replace", "dev", dev, "clsact")
        in_node(env, c, "tc", "filter", "replace", "dev", dev, "ingress", "pref", "1", "handle",
                "1", "bpf", "object-pinned", str(where / prog), "direct-action")  # fmt: skip
        sh("nsenter", "-t", node_pid(c, env), "-n", "ethtool", "-K", dev, "tx", "off", "rx",
           "off", "gso", "off", "tso", "off", check=False)  # fmt: skip


def wire_divider(objects: Path, c: str, ip: str) -> None:
    """The cluster's divider: the other cluster's pod CIDR is behind the gateway, the pod here
    is on the node."""
    n, vni = CLUSTERS[c]["n"], CLUSTERS[c]["vni"]
    other = CLUSTERS[CLUSTERS[c]["other"]]["n"]
    where = PINS / ns(c, "div")
    where.mkdir(parents=True, exist_ok=True)
    prefix = ["nsenter", f"--net=/run/netns/{ns(c, 'div')}"]
    tool = Bpftool(runner=lambda argv: subprocess_runner([*prefix, *argv]))
    tool.prog_load(str(objects / "divider.bpf.o"), str(where / "prog"), str(where / "maps"))
    tool.xdp_attach(str(where / "prog"), "eth0", "generic")
    fill(Bpftool(), where / "maps", {
        "div_vnets": [{"key": {"vni": vni, "prefix": f"10.{other}.0.0/24"},
                       "value": {"ip": f"198.18.{n}.1", "mac": mac(n, 1)}}],
        "div_endpoints": [{"key": {"vni": vni, "ip": ip},
                           "value": {"ip": f"198.18.{n}.2", "mac": mac(n, 2)}}],
    })  # fmt: skip


def _number(value: object) -> int:
    if isinstance(value, list):  # bytes as hex strings (a map without BTF)
        return int.from_bytes(bytes(int(x, 16) for x in value), "little")
    return int(value)  # type: ignore[call-overload]


def gateway_counters(c: str) -> dict[str, int]:
    """gw_stats of cluster c's gateway, summed over the CPUs."""
    pin = PINS / ns(c, "gw") / "maps" / "gw_stats"
    counters = {}
    for row in Bpftool().run("map", "dump", "pinned", str(pin)):
        values = row.get("values") or []
        counters[GATEWAY_STATS[_number(row["key"])]] = sum(_number(v["value"]) for v in values)
    return counters


def ping(env: dict, pod: dict, target: str, count: int) -> subprocess.CompletedProcess:
    """ping run inside the pod's own container (containerd's task exec, on the node)."""
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    return subprocess.run(
        ["podman", "exec", container("a"), "ctr", "-a", CONTAINERD_SOCK, "-n", "k8s.io", "task",
         "exec", "--exec-id", f"ping-{time.monotonic_ns()}", cid, "ping", "-c", str(count),
         "-W", "2", target],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


# the test -----------------------------------------------------------------------------------
@pytest.fixture
def prepared(tmp_path: Path) -> Iterator[tuple[dict, Path, Path]]:
    require(os.geteuid() == 0, "root (netns, XDP, podman)", "Run as root.")
    for tool in ("podman", "bpftool", "tc", "nsenter", "ethtool", "kubectl", "clang"):
        require(shutil.which(tool) is not None, tool,
                "apt-get install podman runc bpftool iproute2 ethtool clang; "
                "source scripts/env.sh (kubectl)")  # fmt: skip
    (tmp_path / "eph").mkdir()  # the PKI and the agent's build (group_vars of the scenario)
    env = dict(os.environ, MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "eph"))
    env["CONTAINERS_CONF"] = sh(str(ROOT / "scripts/podman-image.sh"), "conf", env=env).strip()
    image = sh(str(ROOT / "scripts/podman-image.sh"), "ensure", env=env, timeout=1200)
    env["FORNAX_IMAGE"] = image.strip().splitlines()[-1]
    sh(str(ROOT / "scripts/node-images.sh"), env=env, timeout=1200)  # pause, busybox archives
    objects = tmp_path / "bpf"
    sh("make", "-s", "-C", str(ROOT / "bpf"), f"BUILD={objects}", timeout=180)
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    # the molecule scenario's connection and artifact settings, one place for both
    (inventory / "group_vars" / "all.yml").symlink_to(
        ROOT / "extensions/molecule/tree3/inventory/group_vars/all.yml"
    )
    (inventory / "tree.yml").write_text(json.dumps(hierarchy(objects, tmp_path)))
    assert cleanup(env) == [], "leftovers of an earlier run could not be removed"
    try:
        plumb()
        start_nodes(env, env["FORNAX_IMAGE"])
        yield env, inventory, objects
    finally:
        left = cleanup(env)
        assert left == [], f"left behind: {left}"


def test_real_pods_in_two_clusters_talk_through_the_xdp_gateways(prepared, tmp_path):
    env, inventory, objects = prepared
    started = time.monotonic()
    out = playbook(env, inventory, "site.yml")
    rollout = time.monotonic() - started
    assert "PLAY [Gateways]" in out
    assert f"{TAG}-gw-a" in out.rsplit("PLAY RECAP", 1)[1]
    for c in CLUSTERS:
        kubectl(env, tmp_path, c, "apply", "-f", "-", stdin=json.dumps(POD))
    pods = {c: running_pod(env, tmp_path, c) for c in CLUSTERS}
    ips = {c: pod["status"]["podIP"] for c, pod in pods.items()}
    for c in CLUSTERS:
        assert pods[c]["spec"]["nodeName"] == container(c)
        check_exec_and_logs(env, tmp_path, c)
        wire_host(env, objects, c, ips[c])
        wire_divider(objects, c, ips[c])
    before = {c: gateway_counters(c) for c in CLUSTERS}
    answer = ping(env, pods["a"], ips["b"], PINGS)
    after = {c: gateway_counters(c) for c in CLUSTERS}
    assert answer.returncode == 0, f"{answer.stdout}{answer.stderr}\n{before}\n{after}"
    assert f"{PINGS} packets received" in answer.stdout, answer.stdout
    grew = {c: {k: after[c][k] - before[c][k] for k in after[c]} for c in CLUSTERS}
    # each request out through a and in through b; each reply out through b and in through a
    for c in CLUSTERS:
        assert grew[c]["lan_to_wan"] >= PINGS and grew[c]["wan_to_lan"] >= PINGS, grew
        assert grew[c]["no_route"] == grew[c]["unknown_peer"] == grew[c]["unknown_vni"] == 0
    print(f"site.yml {rollout:.0f} s; pods {ips}; gateway counters grew by {grew}")
    # negative control: without gateway a's program on its LAN side, nothing gets through;
    # site.yml's gateway play puts it back, changing that and nothing else
    sh("ip", "-n", ns("a", "gw"), "link", "set", "lan0", "xdpgeneric", "off")
    assert ping(env, pods["a"], ips["b"], 2).returncode != 0
    repaired = playbook(env, inventory, "_gateways.yml", timeout=300)
    recap = repaired.rsplit("PLAY RECAP", 1)[1]
    assert f"{TAG}-gw-a " in recap and "changed=1 " in recap.split(f"{TAG}-gw-a ")[1], recap
    assert "changed=0 " in recap.split(f"{TAG}-gw-b ")[1], recap
    answer = ping(env, pods["a"], ips["b"], 2)
    assert answer.returncode == 0, answer.stdout

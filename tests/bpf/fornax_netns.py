"""Two Fornax clusters and a WAN as network namespaces, for the end-to-end tests and the bench.

Per cluster X (a, b): ``<prefix>-X-lan`` holds the cluster's underlay bridge; ``-X-host`` a
host with pods behind veths and one kernel Geneve device per VNI towards the divider;
``-X-div`` the divider (XDP on eth0); ``-X-gw`` the gateway (XDP on lan0 and wan0);
``-X-<vpc>`` one namespace per pod. ``<prefix>-wan`` bridges the two gateways' WAN links
(captures are taken there: XDP-forwarded packets are invisible to taps on the gateways).

Addresses live only inside these namespaces: underlays 198.18.<n>.0/24, WAN 198.19.0.0/24,
pods 10.<n>.0.0/24. Every name starts with the prefix so leftovers can be found and removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "fxt"
NETNS_DIR = Path("/run/netns")


@dataclass(frozen=True)
class Pod:
    vpc: str
    ip: str
    vni: int

    @property
    def subnet(self) -> str:
        return self.ip.rsplit(".", 1)[0] + ".0/24"

    @property
    def host_side(self) -> str:
        return self.ip.rsplit(".", 1)[0] + ".1"


@dataclass(frozen=True)
class Cluster:
    name: str
    n: int
    pods: tuple[Pod, ...]

    def ip(self, last: int) -> str:
        return f"198.18.{self.n}.{last}"

    def mac(self, last: int) -> str:
        return f"02:f0:00:00:{self.n:02x}:{last:02x}"

    @property
    def host_ip(self) -> str:
        return self.ip(2)

    @property
    def div_ip(self) -> str:
        return self.ip(3)

    @property
    def gw_lan_ip(self) -> str:
        return self.ip(1)

    @property
    def wan_ip(self) -> str:
        return f"198.19.0.{self.n}"

    @property
    def wan_mac(self) -> str:
        return f"02:f0:00:00:ff:{self.n:02x}"


A = Cluster("a", 1, (Pod("blue", "10.1.0.5", 1001),))
B = Cluster("b", 2, (Pod("blue", "10.2.0.5", 2001), Pod("red", "10.4.0.5", 2003)))
CLUSTERS = (A, B)
# (cluster, local VNI) -> [(remote subnet, remote cluster, VNI there)]: blue<->blue across
# clusters, and a's blue reaches b's red (a different VPC) with b's red VNI on the WAN.
ROUTES: dict[tuple[str, int], list[tuple[str, Cluster, int]]] = {
    ("a", 1001): [("10.2.0.0/24", B, 2001), ("10.4.0.0/24", B, 2003)],
    ("b", 2001): [("10.1.0.0/24", A, 1001)],
    ("b", 2003): [("10.1.0.0/24", A, 1001)],
}


def run(argv: list[str], timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr.strip()}")
    return proc


def leftovers(prefix: str) -> list[str]:
    """Namespaces under ``prefix`` whose creating process (pid in the name) has gone."""
    found = []
    for path in NETNS_DIR.glob(f"{prefix}*") if NETNS_DIR.is_dir() else []:
        pid = path.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            found.append(path.name)
    return found


def remove_leftovers(prefix: str) -> None:
    for name in leftovers(prefix):
        run(["ip", "netns", "del", name], check=False)
    pins = Path("/sys/fs/bpf/fornax")
    for path in pins.glob(f"{prefix}*") if pins.is_dir() else []:
        pid = path.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


@dataclass
class Topology:
    prefix: str = PREFIX
    tag: str = field(default_factory=lambda: f"{os.getpid()}")
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"{self.prefix}{self.tag}"

    @property
    def pin_root(self) -> Path:
        return Path("/sys/fs/bpf/fornax") / self.base

    def ns(self, short: str) -> str:
        return f"{self.base}-{short}"

    def nsenter(self, short: str) -> list[str]:
        return ["nsenter", f"--net={NETNS_DIR / self.ns(short)}"]

    def sh(
        self, short: str, *argv: str, timeout: float = 30, check: bool = True
    ) -> subprocess.CompletedProcess:
        return run([*self.nsenter(short), *argv], timeout=timeout, check=check)

    def spawn(self, short: str, *argv: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [*self.nsenter(short), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.procs.append(proc)
        return proc

    # building --------------------------------------------------------------------------
    def _add_ns(self, short: str) -> None:
        run(["ip", "netns", "add", self.ns(short)])
        self.namespaces.append(self.ns(short))
        self.sh(short, "ip", "link", "set", "lo", "up")
        for key in ("all", "default"):
            self.sh(short, "sysctl", "-qw", f"net.ipv4.conf.{key}.rp_filter=0")

    def _veth(
        self, ns1: str, if1: str, ns2: str, if2: str, *, mac1: str = "", mac2: str = ""
    ) -> None:
        run(
            [
                "ip",
                "link",
                "add",
                "fxtmp0",
                "netns",
                self.ns(ns1),
                "type",
                "veth",
                "peer",
                "name",
                "fxtmp1",
                "netns",
                self.ns(ns2),
            ]
        )
        for short, tmp, name, mac in ((ns1, "fxtmp0", if1, mac1), (ns2, "fxtmp1", if2, mac2)):
            self.sh(short, "ip", "link", "set", tmp, "name", name)
            if mac:
                self.sh(short, "ip", "link", "set", name, "address", mac)
            # software checksums and no segmentation offloads: XDP rewrites whole frames
            self.sh(
                short,
                "ethtool",
                "-K",
                name,
                "tx",
                "off",
                "rx",
                "off",
                "gso",
                "off",
                "tso",
                "off",
                "gro",
                "off",
                check=False,
            )
            self.sh(short, "ip", "link", "set", name, "up")

    def _bridge(self, short: str) -> None:
        self.sh(
            short,
            "ip",
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "forward_delay",
            "0",
            "stp_state",
            "0",
        )
        self.sh(short, "ip", "link", "set", "br0", "up")

    def _port(self, short: str, name: str) -> None:
        self.sh(short, "ip", "link", "set", name, "master", "br0")

    def build(self) -> None:
        self._add_ns("wan")
        self._bridge("wan")
        for c in CLUSTERS:
            self._build_cluster(c)
        for c in CLUSTERS:
            gw = f"{c.name}-gw"
            self._veth(gw, "wan0", "wan", f"w{c.name}", mac1=c.wan_mac)
            self._port("wan", f"w{c.name}")
            self.sh(gw, "ip", "addr", "add", f"{c.wan_ip}/24", "dev", "wan0")

    def _build_cluster(self, c: Cluster) -> None:
        x = c.name
        for short in ("lan", "host", "div", "gw"):
            self._add_ns(f"{x}-{short}")
        self._bridge(f"{x}-lan")
        for short, ifname, last in (("host", "eth0", 2), ("div", "eth0", 3), ("gw", "lan0", 1)):
            self._veth(f"{x}-{short}", ifname, f"{x}-lan", f"p{short}", mac1=c.mac(last))
            self._port(f"{x}-lan", f"p{short}")
            self.sh(f"{x}-{short}", "ip", "addr", "add", f"{c.ip(last)}/24", "dev", ifname)
        host = f"{x}-host"
        self.sh(host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for pod in c.pods:
            self._build_pod(c, pod)

    def _build_pod(self, c: Cluster, pod: Pod) -> None:
        host, pns = f"{c.name}-host", f"{c.name}-{pod.vpc}"
        self._add_ns(pns)
        hv = f"v{pod.vpc}"
        self._veth(pns, "eth0", host, hv, mac1=pod_mac(c, pod), mac2=veth_mac(c, pod))
        for short, dev in ((pns, "eth0"), (host, hv)):
            self.sh(short, "ip", "link", "set", dev, "mtu", "1400")
        self.sh(pns, "ip", "addr", "add", f"{pod.ip}/24", "dev", "eth0")
        self.sh(pns, "ip", "route", "add", "default", "via", pod.host_side)
        self.sh(
            pns,
            "ip",
            "neigh",
            "replace",
            pod.host_side,
            "lladdr",
            veth_mac(c, pod),
            "dev",
            "eth0",
            "nud",
            "permanent",
        )
        self.sh(host, "ip", "addr", "add", f"{pod.host_side}/24", "dev", hv)
        self.sh(host, "sysctl", "-qw", f"net.ipv4.conf.{hv}.rp_filter=0")

    def attach_host(self, c: Cluster, pins: Path) -> None:
        """Attach the host encapsulation programs (loaded and pinned under ``pins``)."""
        host = f"{c.name}-host"
        devs = [("eth0", "fornax_host_decap")] + [
            (f"v{p.vpc}", "fornax_host_encap") for p in c.pods
        ]
        for dev, prog in devs:
            self.sh(host, "tc", "qdisc", "replace", "dev", dev, "clsact")
            self.sh(
                host,
                "tc",
                "filter",
                "replace",
                "dev",
                dev,
                "ingress",
                "pref",
                "1",
                "handle",
                "1",
                "bpf",
                "object-pinned",
                str(pins / prog),
                "direct-action",
            )

    # teardown --------------------------------------------------------------------------
    def teardown(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self.procs.clear()
        for name in reversed(self.namespaces):
            run(["ip", "netns", "del", name], check=False)
        self.namespaces.clear()
        shutil.rmtree(self.pin_root, ignore_errors=True)

    def remaining(self) -> list[str]:
        ours = (
            sorted(p.name for p in NETNS_DIR.glob(f"{self.base}-*")) if NETNS_DIR.is_dir() else []
        )
        return ours + ([str(self.pin_root)] if self.pin_root.exists() else [])


def wait_until(check, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check`` until true or ``timeout`` seconds (bounded in count and time)."""
    deadline = time.monotonic() + timeout
    for _round in range(int(timeout / interval) + 1):
        if check():
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    return False


# desired data-path state, in the modules' parameter formats ----------------------------------
def pod_mac(c: Cluster, pod: Pod) -> str:
    return f"02:0c:00:00:{c.n:02x}:{c.pods.index(pod) + 1:02x}"


def veth_mac(c: Cluster, pod: Pod) -> str:
    return f"02:0d:00:00:{c.n:02x}:{c.pods.index(pod) + 1:02x}"


def divider_state(c: Cluster) -> dict[str, list[dict]]:
    """Entries of the divider maps of cluster ``c`` (xdp_map's ``entries`` format)."""
    vnets = [
        {"key": {"vni": vni, "prefix": subnet}, "value": {"ip": c.gw_lan_ip, "mac": c.mac(1)}}
        for (name, vni), routes in ROUTES.items()
        if name == c.name
        for subnet, _second, _third in routes
    ]
    endpoints = [
        {"key": {"vni": pod.vni, "ip": pod.ip}, "value": {"ip": c.host_ip, "mac": c.mac(2)}}
        for pod in c.pods
    ]
    return {"div_vnets": vnets, "div_endpoints": endpoints}


def gateway_state(c: Cluster) -> dict:
    """The gateway module's parameters for cluster ``c`` (interfaces resolved by the module)."""
    return {
        "lan": {"interface": "lan0", "address": c.gw_lan_ip},
        "wan": {"interface": "wan0", "address": c.wan_ip},
        "peers": [{"address": o.wan_ip, "mac": o.wan_mac} for o in CLUSTERS if o is not c],
        "dividers": [{"vni": pod.vni, "address": c.div_ip, "mac": c.mac(3)} for pod in c.pods],
        "remote_subnets": [
            {"vni": vni, "prefix": subnet, "peer": remote.wan_ip, "remote_vni": remote_vni}
            for (name, vni), routes in ROUTES.items()
            if name == c.name
            for subnet, remote, remote_vni in routes
        ],
    }

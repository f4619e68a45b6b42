"""XDP gateway vs a user-space gateway doing the same rewrite, side by side in one run.

Everything runs on the two-cluster namespace topology of tests/bpf/fornax_netns.py; only the
gateways differ: the XDP program on both gateways' lan0 and wan0, or no XDP and
tests/bpf/fornax_usergw.py running in both gateway namespaces. Addresses exist only inside the
bench's namespaces. Two kinds of numbers (docs/datapath.md, "Tests and bench", says why):

- Gateway forwarding rate (``gateway_xdp_pps``, ``gateway_userspace_pps`` and their ratio):
  bench/pktgen/fornax_blast.c, compiled here with the machine's C compiler, sends pre-built
  Geneve frames (exactly what divider a sends to gateway a) into gateway a's LAN interface from
  the LAN switch namespace, as fast as it can, for a bounded time and count. Counted: frames
  that arrive at divider b after crossing both gateways (gateway a LAN -> WAN, gateway b
  WAN -> LAN), from the rx counter of divider b's eth0, over a fixed window while the
  generator runs. XDP and user-space rounds alternate; the median of ROUNDS each.
- Pod to pod (``gateway_e2e_*_pps``, ``gateway_*_rtt_p50_us``): a Python sender in pod a-blue
  through the whole chain (host encapsulation, dividers, gateways, decapsulation) to a sink in
  pod b-blue, and UDP ping-pong between the pods.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "bpf"))

import fornax_direct  # noqa: E402
import fornax_netns  # noqa: E402
from fornax_netns import CLUSTERS, A, pod_mac, veth_mac  # noqa: E402
from fornax_packets import Outer, ipv4_header  # noqa: E402

from groups._stats import percentile  # noqa: E402

ECHO = str(ROOT / "tests" / "bpf" / "fornax_echo.py")
USERGW = str(ROOT / "tests" / "bpf" / "fornax_usergw.py")
BLASTER_SRC = ROOT / "bench" / "pktgen" / "fornax_blast.c"
BLAST_COUNT, BLAST_SECONDS, ROUNDS, RTT_COUNT = 400_000, 2.0, 3, 300
SENDERS = max(1, min(4, os.cpu_count() or 1))
DST = "10.2.0.5"
# Gateway rounds: the generator runs WARMUP + WINDOW + TAIL seconds (and at most GEN_COUNT
# frames, far more than it can send in that time); the far-side counters are read at the start
# and the end of WINDOW, so start-up and shutdown of the generator are not measured.
WARMUP, WINDOW, TAIL, GEN_COUNT, GEN_BATCH, FLOWS = 0.5, 2.0, 0.5, 50_000_000, 64, 16
# Inner destination of the generated frames: in b's blue subnet (so gateway a routes it to b
# with VNI 2001, and gateway b accepts it), but no endpoint there, so divider b leaves it to its
# own stack, which drops it. The work after the counting point stays small and the same for both
# gateways (a real pod would add decapsulation and a socket lookup per packet to both).
GEN_DST = "10.2.0.200"
# With two or more CPUs the generator is pinned to CPU 0 and gateway a's LAN interface hands
# received packets to the other CPUs (RPS), in both modes: with generic XDP on veth the gateway
# would otherwise run inside the generator's own send call and share its CPU time.
GEN_CPU = 0
RPS_MASK = ((1 << (os.cpu_count() or 1)) - 1) & ~(1 << GEN_CPU)
USERGW_SECONDS = 900  # lifetime bound of the user-space gateways (stopped at teardown)


def wait_ready(proc: subprocess.Popen, timeout: float = 10) -> None:
    ready, _writable, _errored = select.select([proc.stdout], [], [], timeout)
    if not ready or proc.stdout.readline().strip() != "ready":
        raise RuntimeError(
            f"helper did not start: {proc.stderr.read() if proc.poll() is not None else ''}"
        )


def throughput(topo: fornax_netns.Topology) -> float:
    """Pod to pod: median over ROUNDS of packets per second received by a sink in b-blue from
    SENDERS parallel Python senders in a-blue, through the whole chain."""
    samples = []
    for _round in range(ROUNDS):
        sink = topo.spawn(
            "b-blue", sys.executable, ECHO, "sink", "9000", str(BLAST_SECONDS + 5), "0.5"
        )
        wait_ready(sink)
        blasters = [
            topo.spawn(
                "a-blue",
                sys.executable,
                ECHO,
                "blast",
                DST,
                "9000",
                str(BLAST_COUNT),
                str(BLAST_SECONDS),
            )
            for _round in range(SENDERS)
        ]
        for proc in blasters:
            proc.communicate(timeout=BLAST_SECONDS + 20)
        out, _err = sink.communicate(timeout=BLAST_SECONDS + 10)
        _sent, got, span = out.split()
        samples.append(int(got) / max(float(span), 1e-6))
    return sorted(samples)[len(samples) // 2]


def rtt_p50(topo: fornax_netns.Topology) -> float:
    server = topo.spawn(
        "b-blue", sys.executable, ECHO, "serve", "udp", "9001", str(RTT_COUNT), "30"
    )
    wait_ready(server)
    out = topo.sh(
        "a-blue", sys.executable, ECHO, "rtt", DST, "9001", str(RTT_COUNT), "1", timeout=60
    ).stdout
    server.kill()
    server.wait(timeout=5)
    samples = [float(line) for line in out.split()]
    return percentile(samples[10:] or samples, 50)  # the first round trips warm caches up


def start_user_gateways(topo: fornax_netns.Topology, tmp: Path) -> list[subprocess.Popen]:
    """Detach the XDP programs and start fornax_usergw.py in both gateway namespaces."""
    procs = []
    for c in CLUSTERS:
        gw = f"{c.name}-gw"
        fornax_direct.tool_in(topo, gw).xdp_detach("lan0", "generic")
        fornax_direct.tool_in(topo, gw).xdp_detach("wan0", "generic")
        state = fornax_netns.gateway_state(c)
        for peer in state["peers"]:
            topo.sh(
                gw, "ip", "neigh", "replace", peer["address"], "lladdr", peer["mac"], "dev", "wan0"
            )
        for div in state["dividers"]:
            topo.sh(
                gw, "ip", "neigh", "replace", div["address"], "lladdr", div["mac"], "dev", "lan0"
            )
        dividers = {d["vni"]: d["address"] for d in state["dividers"]}
        cfg = {
            "lan_ip": c.gw_lan_ip,
            "wan_ip": c.wan_ip,
            "routes": [
                [r["vni"], r["prefix"], r["peer"], r["remote_vni"]] for r in state["remote_subnets"]
            ],
            "ingress": [[r["peer"], r["vni"], dividers[r["vni"]]] for r in state["remote_subnets"]],
        }
        path = tmp / f"{c.name}.json"
        path.write_text(json.dumps(cfg))
        procs.append(topo.spawn(gw, sys.executable, USERGW, str(path), str(USERGW_SECONDS)))
        wait_ready(procs[-1])
    return procs


def cpu_seconds(procs: list[subprocess.Popen]) -> float:
    """User + system CPU seconds used so far by ``procs`` (nsenter execs the command, so the
    pid is the user-space gateway's own)."""
    total = 0
    for proc in procs:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


# gateway forwarding rate -----------------------------------------------------------------
def build_blaster(tmp: Path) -> Path:
    """Compile the generator with the machine's C compiler (no other dependency)."""
    cc = next((c for c in ("gcc", "clang", "cc") if shutil.which(c)), None)
    if cc is None:
        raise RuntimeError("no C compiler (gcc or clang) to build bench/pktgen/fornax_blast.c")
    out = tmp / "fornax_blast"
    subprocess.run([cc, "-O2", "-Wall", "-o", str(out), str(BLASTER_SRC)], check=True, timeout=120)
    return out


def divider_frames(path: Path) -> None:
    """FLOWS frames as divider a sends them to gateway a (pod a-blue -> GEN_DST, inner UDP
    source ports differ), written length-prefixed for the generator.

    Outer: divider a's MAC and IP -> gateway a's LAN MAC and IP, TTL 63 (the host sent 64, the
    divider took one), UDP source port as the host encapsulation computes it, destination 6081,
    UDP checksum 0, Geneve VNI 1001. Inner: the pod's Ethernet/IPv4/UDP frame, 18 bytes of
    payload (the size of the pod-to-pod blast)."""
    pod = A.pods[0]
    sport = 49152 | ((_ip_int(pod.ip) ^ _ip_int(GEN_DST)) & 0x3FFF)
    with path.open("wb") as out:
        for flow in range(FLOWS):
            payload = b"x" * 18
            udp = struct.pack("!HHHH", 40000 + flow, 9000, 8 + len(payload), 0) + payload
            inner = (
                bytes.fromhex(veth_mac(A, pod).replace(":", ""))
                + bytes.fromhex(pod_mac(A, pod).replace(":", ""))
                + b"\x08\x00"
                + ipv4_header(pod.ip, GEN_DST, 17, len(udp))
                + udp
            )
            frame = Outer(
                src_mac=A.mac(3),
                dst_mac=A.mac(1),
                src_ip=A.div_ip,
                dst_ip=A.gw_lan_ip,
                vni=pod.vni,
                inner=inner,
                ttl=63,
                sport=sport,
            ).build()
            out.write(struct.pack("!H", len(frame)) + frame)


def _ip_int(text: str) -> int:
    return int.from_bytes(bytes(map(int, text.split("."))), "big")


# (namespace, interface) rx counters read each round: divider b's eth0 is the far side (after
# both gateways); gateway b's wan0 shows what gateway a alone forwarded.
FAR = ("b-div", "eth0")
MID = ("b-gw", "wan0")


def rx_packets(topo: fornax_netns.Topology, where: tuple[str, str]) -> tuple[float, int]:
    """(monotonic time, rx_packets) of an interface, read from sysfs inside its namespace
    (``ip netns exec`` mounts that namespace's /sys/class/net)."""
    short, dev = where
    before = time.monotonic()
    out = fornax_netns.run(
        [
            "ip",
            "netns",
            "exec",
            topo.ns(short),
            "cat",
            f"/sys/class/net/{dev}/statistics/rx_packets",
        ]
    ).stdout
    return (before + time.monotonic()) / 2, int(out)


def set_gateways(topo: fornax_netns.Topology, mode: str) -> None:
    """Attach ("xdp") or detach ("user") the gateway program on both gateways. The pinned
    program and maps stay; the user-space gateways keep running and get packets only when no
    XDP program takes them first."""
    for c in CLUSTERS:
        gw = f"{c.name}-gw"
        tool = fornax_direct.tool_in(topo, gw)
        for dev in ("lan0", "wan0"):
            if mode == "xdp":
                tool.xdp_attach(str(topo.pin_root / gw / "prog"), dev, "generic")
            else:
                tool.xdp_detach(dev, "generic")


def spread_receive(topo: fornax_netns.Topology) -> None:
    """RPS on gateway a's lan0: its receive processing (the XDP program and everything it
    triggers, or the stack up to the user-space gateway's socket) runs on the CPUs other than
    the generator's."""
    if RPS_MASK:
        fornax_netns.run(
            [
                *("ip", "netns", "exec", topo.ns("a-gw"), "sh", "-c"),
                f"echo {RPS_MASK:x} > /sys/class/net/lan0/queues/rx-0/rps_cpus",
            ]
        )


def softirq_seconds() -> float:
    """Softirq CPU seconds so far on the RPS CPUs (all CPUs but the generator's), from
    /proc/stat; includes other softirq work on the machine, so only indicative."""
    total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and RPS_MASK >> int(name[3:]) & 1:
            total += int(ticks[6])
    return total / os.sysconf("SC_CLK_TCK")


def gateway_round(
    topo: fornax_netns.Topology, blaster: Path, frames: Path, usergws: list[subprocess.Popen]
) -> dict[str, float]:
    """One bounded generator run into gateway a's LAN side; forwarded packets per second at
    the far side over WINDOW, the generator's offered rate, and the CPU share the user-space
    gateways got in WINDOW (1.0 = one CPU; idle, so near 0, in XDP rounds) and the softirq
    CPU share on the RPS CPUs (where the XDP path runs)."""
    seconds = WARMUP + WINDOW + TAIL
    pin = ("taskset", "-c", str(GEN_CPU)) if RPS_MASK and shutil.which("taskset") else ()
    gen = topo.spawn(
        "a-lan",
        *pin,
        *(str(blaster), "pgw", str(frames), str(GEN_COUNT), str(seconds), str(GEN_BATCH)),
    )
    try:
        time.sleep(WARMUP)
        start = {w: rx_packets(topo, w) for w in (FAR, MID)}
        cpu0, soft0, t0 = cpu_seconds(usergws), softirq_seconds(), time.monotonic()
        time.sleep(WINDOW)
        end = {w: rx_packets(topo, w) for w in (FAR, MID)}
        span = time.monotonic() - t0
        cpu, soft = (cpu_seconds(usergws) - cpu0) / span, (softirq_seconds() - soft0) / span
        loaded = gen.poll() is None  # the generator was still sending at the window's end
        out, err = gen.communicate(timeout=seconds + 30)
    finally:
        if gen.poll() is None:
            gen.kill()
            gen.wait(timeout=5)
    if gen.returncode != 0 or not out.startswith("sent "):
        raise RuntimeError(f"fornax_blast failed ({gen.returncode}): {err.strip()}")
    if not loaded:
        raise RuntimeError(f"fornax_blast stopped before the window ended: {out.strip()}")
    _label, sent, elapsed, _errors = out.split()
    rate = {w: (end[w][1] - start[w][1]) / max(end[w][0] - start[w][0], 1e-6) for w in (FAR, MID)}
    return {
        "far": rate[FAR],
        "mid": rate[MID],
        "offered": int(sent) / max(float(elapsed), 1e-6),
        "usergw_cpu": cpu,
        "softirq_cpu": soft,
    }


def gateway_rates(
    topo: fornax_netns.Topology, blaster: Path, frames: Path, usergws: list[subprocess.Popen]
) -> dict[str, dict[str, float]]:
    """ROUNDS rounds per mode, alternating XDP and user space (the order flips every round) so
    that both see the same background load; medians per mode and counter."""
    samples: dict[str, list[dict[str, float]]] = {"xdp": [], "user": []}
    spread_receive(topo)
    for n in range(ROUNDS):
        for mode in ("xdp", "user") if n % 2 == 0 else ("user", "xdp"):
            set_gateways(topo, mode)
            time.sleep(0.2)  # let the previous round's queues drain
            sample = gateway_round(topo, blaster, frames, usergws)
            samples[mode].append(sample)
            print(
                f"[bench]   gateway round {n + 1} {mode:4}: "
                f"offered {sample['offered']:.0f}/s, after gateway a {sample['mid']:.0f}/s, "
                f"after both {sample['far']:.0f}/s; CPU: user-space gateways "
                f"{sample['usergw_cpu']:.2f}, softirq {sample['softirq_cpu']:.2f}; "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    return {
        mode: {k: statistics.median(s[k] for s in rows) for k in rows[0]}
        for mode, rows in samples.items()
    }


def run() -> dict[str, float]:
    fornax_netns.remove_leftovers("fxb")
    topo = fornax_netns.Topology(prefix="fxb")
    try:
        with tempfile.TemporaryDirectory(prefix="fornax-bench-") as tmp_dir:
            tmp = Path(tmp_dir)
            subprocess.run(
                ["make", "-s", "-C", str(ROOT / "bpf"), f"BUILD={tmp / 'build'}"],
                check=True,
                timeout=120,
            )
            blaster = build_blaster(tmp)
            frames = tmp / "frames.bin"
            divider_frames(frames)
            topo.build()
            fornax_direct.configure(topo, tmp / "build")
            print(f"[bench]   load average at start: {os.getloadavg()}", flush=True)
            xdp_e2e, xdp_rtt = throughput(topo), rtt_p50(topo)
            usergws = start_user_gateways(topo, tmp)
            user_e2e, user_rtt = throughput(topo), rtt_p50(topo)
            rates = gateway_rates(topo, blaster, frames, usergws)
            print(f"[bench]   load average at end: {os.getloadavg()}", flush=True)
    finally:
        topo.teardown()
    xdp, user = rates["xdp"], rates["user"]
    return {
        "gateway_xdp_pps": xdp["far"],
        "gateway_userspace_pps": user["far"],
        "gateway_xdp_vs_userspace_ratio": xdp["far"] / max(user["far"], 1.0),
        "gateway_xdp_offered_pps": xdp["offered"],
        "gateway_userspace_offered_pps": user["offered"],
        "gateway_e2e_xdp_pps": xdp_e2e,
        "gateway_e2e_userspace_pps": user_e2e,
        "gateway_xdp_rtt_p50_us": xdp_rtt,
        "gateway_userspace_rtt_p50_us": user_rtt,
    }

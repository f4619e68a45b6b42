"""Command line of the harness: `python -m fornax_harness demo up|status|down`.

`demo up` starts the a -> b -> c -> d tree on this machine: real API servers (with
controller-manager, scheduler and simulated kwok nodes below the root), a real agent per
cluster linked with least-privilege identities, a relay process on every uplink, then applies
two sample Missions and prints the tree with health and Mission states. Everything keeps
running after the command returns; `demo down` stops it. It also writes `hierarchy.yml`, the
tree as a hierarchy inventory (`make validate` validates the tree through it), whose hosts
stand for the clusters' processes on this machine and say how to disrupt and restore them:

    demo agent stop|start <cluster>       the cluster's agent
    demo link cut|restore <cluster>       the cluster's uplink (its relay to the parent)
    demo apiserver stop|start <cluster>   the cluster's API server (its data stays)

The demo lives in $FORNAX_DEMO_DIR (default $FORNAX_CACHE/demo).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeClient
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import safe_dump

from .binaries import repo_root
from .cluster import kill_from_state
from .linkproxy import serve_relay, signal_relay
from .process import HarnessError, ManagedProcess
from .tree import start_tree, wait_for

CHAIN = {"a": None, "b": "a", "c": "b", "d": "c"}
LABELS = {"d": {"company": "futurewei"}}
SAMPLES = ("deployment-to-all.yaml", "deployment-by-label.yaml")
DEMO_AGENT = {"heartbeat_seconds": 2.0, "child_timeout_seconds": 10.0, "resync_seconds": 15.0}


def demo_dir() -> Path:
    if os.environ.get("FORNAX_DEMO_DIR"):
        return Path(os.environ["FORNAX_DEMO_DIR"])
    cache = Path(os.environ.get("FORNAX_CACHE", Path.home() / ".cache" / "fornax"))
    return cache / "demo"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def demo_up(args: argparse.Namespace) -> int:
    root = demo_dir()
    state = root / "state.json"
    if state.exists():
        print(
            f"a demo is already running (state in {state}); `make demo-loopback-down` stops it",
            file=sys.stderr,
        )
        return 1
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    step("starting clusters a -> b -> c -> d and their agents (first start takes ~30 s)")
    tree = start_tree(
        root,
        CHAIN,
        labels=LABELS,
        workloads=("b", "c", "d"),
        agent_settings=DEMO_AGENT,
        tied=False,
        relays="process",
    )
    entries = []
    for member in tree.members.values():
        entry = member.cluster.describe()
        entry["parent"] = member.parent
        entry["labels"] = member.labels
        entry["argv"] = {"kube-apiserver": member.cluster.processes["kube-apiserver"].argv}
        if member.agent is not None:
            entry["pids"]["agent"] = member.agent.pid
            entry["argv"]["agent"] = member.agent.argv
        if member.proxy is not None:
            entry["pids"]["relay"] = member.proxy.pid  # type: ignore[union-attr]
        entries.append(entry)
    state.write_text(json.dumps(entries, indent=2))
    inventory = write_hierarchy(root, entries)
    step("waiting for every cluster to register with its parent")
    with tree.client("a") as a:
        wait_for(
            lambda: (
                ((a.get_or_none(names.edgecluster_path("b")) or {}).get("status") or {})
                .get("subEdgeClusterStates", {})
                .get("c/d")
                == "healthy"
            ),
            args.timeout,
            "b, c and d registered",
            0.2,
        )
        for sample in SAMPLES:
            step(f"applying the sample Mission {sample} at a")
            mission = yaml.safe_load(
                (repo_root() / "tests" / "data" / "missions" / sample).read_text()
            )
            a.apply(
                names.mission_path(mission["metadata"]["name"]),
                mission,
                field_manager="fornax-demo",
            )
        step("waiting for the Missions to run and their states to reach a")
        wait_for(lambda: all_ready(a), args.timeout, "Mission states at a", 0.2)
    print(f"\nready in {time.monotonic() - started:.1f} s\n")
    print_tree(entries)
    print("\nkubectl: the binaries are in", tree["a"].bin)
    for entry in entries:
        print(f"  {entry['name']}: kubectl --kubeconfig {entry['kubeconfig']} get mi,ec")
    print(f"\nthe tree as a hierarchy inventory: {inventory}")
    print(f"\nlogs under {root}/<cluster>/logs; `make demo-loopback-status` shows the tree again;")
    print("stop everything with: make demo-loopback-down")
    return 0


def all_ready(a: KubeClient) -> bool:
    items = a.get(names.MISSIONS)["items"]
    return len(items) == len(SAMPLES) and all(
        ((m.get("status") or {}).get("summary") or {}).get("ready")
        == ((m.get("status") or {}).get("summary") or {}).get("matched")
        and len((m.get("status") or {}).get("states") or {}) == 3
        for m in items
    )


def client_of(entry: dict) -> KubeClient:
    return KubeClient(settings_from_kubeconfig(entry["kubeconfig"]), timeout=5, connect_retries=0)


def print_tree(entries: list[dict]) -> None:
    by_name = {e["name"]: e for e in entries}
    print("cluster tree (health as each parent sees it):")
    for depth, entry in enumerate(entries):
        health = "root"
        if entry.get("parent"):
            with client_of(by_name[entry["parent"]]) as parent:
                ec = parent.get_or_none(names.edgecluster_path(entry["name"])) or {}
            status = ec.get("status") or {}
            labels = (ec.get("metadata") or {}).get("labels") or {}
            shown = ", ".join(f"{k}={v}" for k, v in labels.items() if "/" not in k)
            health = f"{status.get('healthStatus', 'not registered')}{' [' + shown + ']' if shown else ''}"
        print(f"  {'    ' * depth}{entry['name']}: {health}")
    with client_of(entries[0]) as root:
        missions = root.get(names.MISSIONS)["items"]
    print("\nMissions at the root, state per cluster path:")
    for item in missions:
        status = item.get("status") or {}
        summary = status.get("summary") or {}
        print(
            f"  {item['metadata']['name']} ({status.get('contentKind', '?')}): "
            f"{summary.get('ready', 0)}/{summary.get('matched', 0)} ready"
        )
        for path, value in sorted((status.get("states") or {}).items()):
            print(f"      {path:<8} {value}")


def demo_down(_args: argparse.Namespace) -> int:
    root = demo_dir()
    state = root / "state.json"
    if not state.exists():
        print("no demo is running")
        return 0
    stopped = kill_from_state(state)
    shutil.rmtree(root, ignore_errors=True)
    print(f"stopped {len(stopped)} processes and removed {root}")
    return 0


def demo_status(_args: argparse.Namespace) -> int:
    state = demo_dir() / "state.json"
    if not state.exists():
        print("no demo is running (make demo-loopback starts one)")
        return 1
    print_tree(json.loads(state.read_text()))
    return 0


def control_argv(action: str, verb: str, cluster: str) -> list[str]:
    """The command that runs ``demo <action> <verb> <cluster>`` from anywhere on this machine."""
    path = os.pathsep.join(p for p in sys.path if p)
    return [
        "/usr/bin/env",
        f"PYTHONPATH={path}",
        f"FORNAX_DEMO_DIR={demo_dir()}",
        sys.executable,
        "-m",
        "fornax_harness",
        "demo",
        action,
        verb,
        cluster,
    ]


def write_hierarchy(root: Path, entries: list[dict]) -> Path:
    """The demo tree as a hierarchy inventory (docs/hierarchy.md) for playbooks/validate.yml.

    Each cluster has one "host": its processes on this machine, reached with the local
    connection; its variables name the cluster's admin kubeconfig and the commands that stop
    and start its agent, its API server and its uplink. No OS audit: they are not machines.
    """
    clusters = []
    for entry in entries:
        name = entry["name"]
        controls = {
            "agent": {v: control_argv("agent", v, name) for v in ("stop", "start")},
            "apiserver": {v: control_argv("apiserver", v, name) for v in ("stop", "start")},
        }
        if entry.get("parent"):
            controls["uplink"] = {v: control_argv("link", v, name) for v in ("cut", "restore")}
        cluster = {
            "name": name,
            "apiEndpoint": entry["server"],
            "hosts": [
                {
                    "name": f"loopback-{name}",
                    "roles": ["control_plane"],
                    "address": "127.0.0.1",
                    "vars": {
                        "validate_kubeconfig": entry["kubeconfig"],
                        "validate_controls": controls,
                    },
                }
            ],
        }
        if entry.get("parent"):
            cluster["parent"] = entry["parent"]
        if entry.get("labels"):
            cluster["labels"] = entry["labels"]
        clusters.append(cluster)
    document = {
        "plugin": "centaurus.fornax.hierarchy",
        "defaults": {
            "hostVars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "validate_host_audit": False,
                # The harness's test PKI issues certificates for two days only.
                "validate_blueprint_overrides": {
                    "layers": {"security": {"tls": {"cert_expiry": {"params": {"min_days": 1}}}}}
                },
            }
        },
        "clusters": clusters,
    }
    path = root / "hierarchy.yml"
    header = (
        "# The loopback demo tree (python -m fornax_harness demo up) as a hierarchy inventory.\n"
        "# Its hosts are the clusters' processes on this machine (local connection).\n"
    )
    path.write_text(header + safe_dump(document))
    return path


def _load_state() -> tuple[Path, list[dict]]:
    state = demo_dir() / "state.json"
    if not state.exists():
        raise HarnessError(f"no loopback demo is running ({state} is missing)")
    return state, json.loads(state.read_text())


def _entry(entries: list[dict], cluster: str) -> dict:
    for entry in entries:
        if entry["name"] == cluster:
            return entry
    raise HarnessError(
        f"no cluster {cluster!r} in the demo (it has {[e['name'] for e in entries]})"
    )


def _process(entry: dict, component: str) -> ManagedProcess:
    log = Path(entry["logs"]) / f"{'agent' if component == 'agent' else component}.log"
    proc = ManagedProcess(
        f"{component} of {entry['name']}", entry["argv"][component], log, tied=False
    )
    proc.pid = entry["pids"].get(component)
    return proc


def demo_control(args: argparse.Namespace) -> int:
    """Stop or start an agent or API server, cut or restore an uplink (all idempotent)."""
    state, entries = _load_state()
    entry = _entry(entries, args.cluster)
    if args.command_group == "link":
        pid = entry["pids"].get("relay")
        if not pid:
            raise HarnessError(f"cluster {args.cluster} has no uplink")
        signal_relay(pid, cut=args.verb == "cut")
        print(f"{args.cluster}: uplink {'cut' if args.verb == 'cut' else 'restored'}")
        return 0
    component = "agent" if args.command_group == "agent" else "kube-apiserver"
    proc = _process(entry, component)
    if args.verb == "stop":
        proc.stop()
        print(f"{args.cluster}: {component} stopped")
        return 0
    if not proc.alive:
        proc.start()
        entry["pids"][component] = proc.pid
        state.write_text(json.dumps(entries, indent=2))
    if component == "kube-apiserver":
        client = client_of(entry)
        with client:
            wait_for(lambda: client.request("GET", "/readyz") == "ok", 60, "the API server", 0.2)
    print(f"{args.cluster}: {component} running (pid {entry['pids'][component]})")
    return 0


def demo_inventory(_args: argparse.Namespace) -> int:
    """(Re)write the running demo's hierarchy inventory and print its path."""
    _state, entries = _load_state()
    print(write_hierarchy(demo_dir(), entries))
    return 0


def run_relay(args: argparse.Namespace) -> int:
    return serve_relay(args.listen_port, args.target_port, args.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fornax_harness")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the demo hierarchy on this machine")
    demo_sub = demo.add_subparsers(dest="action", required=True)
    up = demo_sub.add_parser("up")
    up.add_argument("--timeout", type=float, default=180.0)
    up.set_defaults(func=demo_up)
    demo_sub.add_parser("down").set_defaults(func=demo_down)
    demo_sub.add_parser("status").set_defaults(func=demo_status)
    demo_sub.add_parser(
        "inventory", help="write the hierarchy inventory, print its path"
    ).set_defaults(func=demo_inventory)
    for group, verbs in (("agent", ("stop", "start")), ("apiserver", ("stop", "start")),
                         ("link", ("cut", "restore"))):  # fmt: skip
        control = demo_sub.add_parser(group, help=f"{'/'.join(verbs)} a cluster's {group}")
        control.add_argument("verb", choices=verbs)
        control.add_argument("cluster")
        control.set_defaults(func=demo_control, command_group=group)
    relay = sub.add_parser("relay", help="a cuttable TCP relay (the demo's uplinks)")
    relay.add_argument("--listen-port", type=int, required=True)
    relay.add_argument("--target-port", type=int, required=True)
    relay.add_argument("--name", default="relay")
    relay.set_defaults(func=run_relay)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

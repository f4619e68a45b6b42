"""Command line of the harness: `python -m fornax_harness demo up|status|down`.

`demo up` starts the a -> b -> c -> d tree on this machine: real API servers (with
controller-manager, scheduler and simulated kwok nodes below the root), a real agent per
cluster linked with least-privilege identities, then applies two sample Missions and prints
the tree with health and Mission states. Everything keeps running after the command returns;
`demo down` stops it.
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

from .binaries import repo_root
from .cluster import kill_from_state
from .process import HarnessError
from .tree import start_tree, wait_for

CHAIN = {"a": None, "b": "a", "c": "b", "d": "c"}
LABELS = {"d": {"company": "futurewei"}}
SAMPLES = ("deployment-to-all.yaml", "deployment-by-label.yaml")
DEMO_AGENT = {"heartbeat_seconds": 2.0, "child_timeout_seconds": 10.0, "resync_seconds": 15.0}


def demo_dir() -> Path:
    cache = Path(os.environ.get("FORNAX_CACHE", Path.home() / ".cache" / "fornax"))
    return cache / "demo"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def demo_up(args: argparse.Namespace) -> int:
    root = demo_dir()
    state = root / "state.json"
    if state.exists():
        print(
            f"a demo is already running (state in {state}); `make demo-down` stops it",
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
        relays=False,
    )
    entries = []
    for member in tree.members.values():
        entry = member.cluster.describe()
        entry["parent"] = member.parent
        if member.agent is not None:
            entry["pids"]["agent"] = member.agent.pid
        entries.append(entry)
    state.write_text(json.dumps(entries, indent=2))
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
    print(f"\nlogs under {root}/<cluster>/logs; `make demo-status` shows the tree again;")
    print("stop everything with: make demo-down")
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
        print("no demo is running (make demo starts one)")
        return 1
    print_tree(json.loads(state.read_text()))
    return 0


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
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

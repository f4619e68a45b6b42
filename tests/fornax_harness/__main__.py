"""Command line of the harness: `python -m fornax_harness demo up|down|status`.

`demo up` starts the A->B->C->D chain of real API servers (clusters a, b, c, d) with the Fornax
CRDs installed, detached from this command, and prints how to reach each one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from .cluster import ClusterSpec, kill_from_state, start_clusters, write_state
from .process import HarnessError

CHAIN = ("a", "b", "c", "d")


def demo_dir() -> Path:
    cache = Path(os.environ.get("FORNAX_CACHE", Path.home() / ".cache" / "fornax"))
    return cache / "demo"


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
    print(
        f"starting clusters {' -> '.join(CHAIN)} (etcd + kube-apiserver each, CRDs installed) ...",
        flush=True,
    )
    started = time.monotonic()
    specs = [ClusterSpec(name, controllers=args.controllers) for name in CHAIN]
    clusters = start_clusters(specs, root, tied=False, timeout=args.timeout)
    write_state(state, clusters)
    print(f"ready in {time.monotonic() - started:.1f} s\n")
    for depth, cluster in enumerate(clusters):
        parent = f" (child of {clusters[depth - 1].name})" if depth else " (root)"
        indent = "  " * depth
        print(f"{indent}{cluster.name}{parent}: {cluster.server}")
        print(f"{indent}  kubectl --kubeconfig {cluster.kubeconfig_path} get mi,ec")
    print(f"\nlogs under {root}/<cluster>/logs; stop everything with: make demo-down")
    return 0


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
        print("no demo is running")
        return 1
    print(state.read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fornax_harness")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the demo hierarchy on this machine")
    demo_sub = demo.add_subparsers(dest="action", required=True)
    up = demo_sub.add_parser("up")
    up.add_argument(
        "--controllers", action="store_true", help="also run controller-manager and scheduler"
    )
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

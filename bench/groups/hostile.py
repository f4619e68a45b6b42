"""Hostile Missions on the a -> b -> c -> d tree: does anything else notice?

While Missions a real operator might write by mistake (or an attacker on purpose) are applied
everywhere - content the loader refuses (an alias bomb, !!binary, an integer name), objects
beyond the cluster's grant, an object another Mission owns, a half-applied Mission, commands
that flood 300 MB, hang or hide in the background, four slow statechecks and a burst of 34
deletions with reverse commands - this measures:

- hostile_agent_restarts: agents that died (and that systemd would have had to restart);
  goal 0.
- hostile_heartbeat_gap_max_seconds: the longest time a parent went without a heartbeat of a
  child (b at a, c at b, d at c), as the parent's watch saw them; goal < 2 x the heartbeat
  period (HEARTBEAT here).
- hostile_probe_propagation_seconds: a fresh ConfigMap Mission created at a until its object
  exists in d, three levels down, while all of the above is present (median of PROBES); goal
  < 1 s.
"""

from __future__ import annotations

import itertools
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fornax_agent.informer import Informer

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from fornax_harness.manifests import deployment, mission
from fornax_harness.tree import FornaxTree, start_tree, wait_for

HEARTBEAT = 2.0  # seconds: lastHeartbeat has a 1 s resolution, so every beat shows as a change
PROBES = 7
POLL = 0.005
REVERSE_BURST = 34
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
LINKS = (("a", "b"), ("b", "c"), ("c", "d"))
ONLY_C = {"clusters": [{"name": "c"}]}


def configmap(name: str, data: str = "  key: value\n") -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"
        f"data:\n{data}"
    )


ALIAS_BOMB = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb, namespace: default}\ndata:\n"
    '  a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"  {n}: &{n} [{','.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
)
BINDING = (
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n"
    "  name: take-over\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, "
    "name: cluster-admin}\nsubjects: [{kind: User, name: mallory}]\n"
)
HOST_POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: host-root, namespace: default}\nspec:\n"
    "  containers: [{name: x, image: registry.invalid/x:1, securityContext: {privileged: true}}]\n"
    "  volumes: [{name: root, hostPath: {path: /}}]\n"
)


def hostile_missions() -> list[dict[str, Any]]:
    """The Missions of issue 16, each meant to fail alone (the first two set up a conflict)."""
    system = deployment("in-system", 1).replace("namespace: default", "namespace: kube-system")
    found = [
        mission("owner", configmap("owned")),
        mission("intruder", configmap("owned", "  by: intruder\n")),
        mission("binary", configmap("binary", "  blob: !!binary aGVsbG8=\n")),
        mission("int-name", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 123\n"),
        mission("bomb", ALIAS_BOMB),
        mission("typed-data", configmap("typed-data", "  - a list\n")),
        mission("take-over", BINDING),
        mission("host-root", HOST_POD),
        mission("in-system", system),
        mission("half", configmap("half-ok") + "---\n" + configmap("Not_A_Name")),
        mission(
            "flood",
            configmap("flood"),
            placement=ONLY_C,
            statecheck={"command": "yes | head -c 300000000"},
        ),
        mission(
            "forever", placement=ONLY_C, missioncommand={"command": "sleep 999.401 & sleep 999.402"}
        ),
        mission(
            "hiding",
            placement=ONLY_C,
            missioncommand={"command": "nohup sleep 999.403 & echo hidden"},
        ),
    ]
    found += [
        mission(
            f"slow-{i}",
            configmap(f"slow-{i}"),
            placement=ONLY_C,
            statecheck={"command": "sleep 3; echo slow"},
        )
        for i in range(4)
    ]
    return found


class HeartbeatGaps:
    """Each parent's watch of its child's EdgeCluster: when a new heartbeat arrived."""

    def __init__(self, tree: FornaxTree, stop: threading.Event) -> None:
        self.lock = threading.Lock()
        self.arrivals: dict[str, list[float]] = {child: [] for _parent, child in LINKS}
        self.last: dict[str, str | None] = {}
        self.informers = []
        for parent, child in LINKS:
            informer = Informer(
                f"beats-{child}",
                lambda p=parent: tree.client(p),
                names.EDGECLUSTERS,
                lambda kind, obj, c=child: self._seen(c, kind, obj),
                stop=stop,
            )
            informer.start()
            self.informers.append(informer)

    def _seen(self, child: str, _kind: str, obj: dict[str, Any]) -> None:
        if obj["metadata"]["name"] != child:
            return
        beat = (obj.get("status") or {}).get("lastHeartbeat")
        with self.lock:
            if beat and beat != self.last.get(child):
                self.last[child] = beat
                self.arrivals[child].append(time.monotonic())

    def max_gap(self, start: float, end: float) -> float:
        gap = 0.0
        with self.lock:
            for times in self.arrivals.values():
                inside = [start] + [t for t in times if start <= t <= end] + [end]
                gap = max(gap, *(b - a for a, b in itertools.pairwise(inside)))
        return gap


def timed_probe(a, d, name: str) -> float:
    path = f"{CONFIGMAPS}/{name}"
    started = time.perf_counter()
    a.create(names.MISSIONS, mission(name, configmap(name)))
    deadline = started + 30
    while d.get_or_none(path) is None:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"probe {name} did not reach d in 30 s")
        time.sleep(POLL)
    return time.perf_counter() - started


def run_hostile(root: Path) -> dict[str, float]:
    reverse_dir = root / "reversed"
    reverse_dir.mkdir(parents=True)
    tree = start_tree(
        root / "tree",
        {"a": None, "b": "a", "c": "b", "d": "c"},
        workloads=("d",),
        agent_settings={
            "heartbeat_seconds": HEARTBEAT,
            "child_timeout_seconds": 5 * HEARTBEAT,
            "allow_commands": False,
        },
        overrides={
            "c": {"allow_commands": True, "command_timeout_seconds": 4.0},
            "d": {"mission_policy": {"namespaces": ["*", "kube-system"]}},
        },
    )
    stop = threading.Event()
    try:
        with tree.client("a") as a, tree.client("d") as d:
            wait_for(lambda: registered(tree), 60, "b, c and d registered")
            pids = {n: m.agent.pid for n, m in tree.members.items()}
            gaps = HeartbeatGaps(tree, stop)
            time.sleep(2 * HEARTBEAT)  # a first heartbeat of each child seen
            start = time.monotonic()
            burst = [f"rev-{i:02d}" for i in range(REVERSE_BURST)]
            for name in burst:
                a.create(
                    names.MISSIONS,
                    mission(
                        name,
                        placement=ONLY_C,
                        missioncommand={
                            "command": "true",
                            "reversecommand": f"touch {reverse_dir / name}",
                        },
                    ),
                )
            for item in hostile_missions():
                a.create(names.MISSIONS, item)
            wait_for(
                lambda: all(state(a, n, "b/c") == "done" for n in burst), 120, "burst done", 0.2
            )
            for name in burst:
                a.delete(names.mission_path(name))
            probes = []
            for i in range(PROBES):
                probes.append(timed_probe(a, d, f"probe-{i}"))
                time.sleep(0.5)
            wait_for(
                lambda: all((reverse_dir / n).exists() for n in burst), 120, "reverse commands", 0.2
            )
            end = time.monotonic()
            restarts = sum(
                1
                for n, m in tree.members.items()
                if m.agent is None or not m.agent.alive or m.agent.pid != pids[n]
            )
            gap = gaps.max_gap(start, end)
    finally:
        stop.set()
        tree.destroy()
    return {
        "hostile_agent_restarts": float(restarts),
        "hostile_heartbeat_gap_max_seconds": gap,
        "hostile_probe_propagation_seconds": statistics.median(probes),
    }


def registered(tree: FornaxTree) -> bool:
    with tree.client("a") as a:
        b = a.get_or_none(names.edgecluster_path("b")) or {}
    subs = (b.get("status") or {}).get("subEdgeClusterStates") or {}
    return subs.get("c") == "healthy" and subs.get("c/d") == "healthy"


def state(client, name: str, path: str) -> str | None:
    found = client.get_or_none(names.mission_path(name)) or {}
    return ((found.get("status") or {}).get("states") or {}).get(path)


def run() -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="fornax-bench-hostile-"))
    try:
        return run_hostile(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)

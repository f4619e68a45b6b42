"""The agent: propagation down three hops, status roll-up, and fan-out under one parent.

propagation_*: a Mission created/updated/deleted at a until its Deployment exists/changes/is
gone in d (a -> b -> c -> d, real agent processes), as a watch of d's Deployments delivers it;
each sample starts on a quiet tree (the previous Mission's pods gone from d, its removal
reported up every hop). status_rollup: d's Deployment ready until a's Mission shows it (a watch
of a's Missions). fanout: one parent (a real API server and its real agent) and 200 child
identities, each a real watch of the parent's Missions as the agent watches them (their spec
mirrors, fornax_agent.mirrors.ParentMissions) plus a real report loop with its own
least-privilege credential (hosted by two worker processes, sharing no cluster: the parent
side is what is measured), 1,000 Missions, until every child reported every Mission
(fanout_converge) and a's Missions count every cluster (fanout_status_folded).
fanout_report_retries counts report writes that failed for good; fanout_report_writes and
fanout_status_writes the PATCHes of ClusterReports and of Mission statuses a's API server
answered (how many rounds the children wrote explains most of a run's time);
fanout_throttled_requests the requests a's API server answered with 429 (retried by the client,
so they are not failures, but they are work the parent refused: mirrors, statuses and reports
alike).

Every wait is bounded (FANOUT_WAIT from the first Mission created to the folded status, 180 s
for the children's watches, 30 s per propagation probe): a run that cannot meet them fails
with a TimeoutError saying what was still missing, rather than running on.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fornax_agent.informer import Informer
from fornax_agent.mirrors import ParentMissions
from fornax_agent.report import ReportWriter

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import child_link, names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.rollup import ReportComposer
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)
from fornax_harness.manifests import deployment, mission
from fornax_harness.tree import HarnessError, start_tree, wait_for

from ._stats import percentile

REPEAT = 15
POLL = 0.005  # seconds between two looks while waiting for the tree to be quiet
DEPLOYMENT = "/apis/apps/v1/namespaces/default/deployments"
CHILDREN = 200
MISSIONS = 1000
REPORT_DELAY = 0.02  # the agent's default report_delay_seconds
SUBTREE = 4  # every fan-out child also reports 4 clusters below it: 1,000 clusters in all
WORKERS = 2  # processes hosting the light children
FANOUT_WAIT = 480.0  # seconds from the first Mission created until every status is folded


class Observed:
    """Every version of a collection's objects as one watch delivers it, with when it came.

    The propagation samples end at the watch event that shows the change, not at the next
    poll: a poll every POLL seconds added half of that on average, and its GETs loaded the
    API server on the measured path (d's, 200 a second).
    """

    def __init__(self, tree, member: str, path: str, stop: threading.Event) -> None:
        self.history: dict[str, list[tuple[float, dict[str, Any] | None]]] = {}
        self.changed = threading.Condition()
        self.informer = Informer(
            f"probe-{member}", lambda: tree.client(member), path, self._seen, stop=stop
        )
        self.informer.start()
        if not self.informer.synced.wait(60):
            raise TimeoutError(f"the bench's watch of {path} on {member} did not list in 60 s")

    def _seen(self, kind: str, obj: dict[str, Any]) -> None:
        now = time.perf_counter()
        with self.changed:
            versions = self.history.setdefault(obj["metadata"]["name"], [])
            versions.append((now, None if kind == "DELETED" else obj))
            self.changed.notify_all()

    def wait(self, name: str, test, since: float, timeout: float = 30.0) -> float:
        """When the first version of ``name`` since ``since`` passing ``test`` (None: deleted)
        arrived; TimeoutError after ``timeout`` seconds."""
        deadline = time.perf_counter() + timeout
        with self.changed:
            while True:
                for at, obj in self.history.get(name, ()):
                    if at >= since and test(obj):
                        return at
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(f"benchmark probe of {name} timed out")
                self.changed.wait(left)


def _created(obj: dict[str, Any] | None) -> bool:
    return obj is not None


def _gone(obj: dict[str, Any] | None) -> bool:
    return obj is None


def _scaled(obj: dict[str, Any] | None) -> bool:
    return obj is not None and obj["spec"]["replicas"] == 2


def _ready(obj: dict[str, Any] | None) -> bool:
    return obj is not None and (obj.get("status") or {}).get("readyReplicas") == 1


def _shown(obj: dict[str, Any] | None) -> bool:
    states = ((obj or {}).get("status") or {}).get("states") or {}
    return states.get("b/c/d") == "1/1"


def heartbeat_seen(parent: KubeClient, child: str) -> bool:
    cluster = parent.get_or_none(names.edgecluster_path(child)) or {}
    return bool((cluster.get("status") or {}).get("lastHeartbeat"))


def reported(parent: KubeClient, child: str) -> bool:
    """The child's agent wrote its first report, every shard of it: it has listed its parent's
    Missions and its own (its heartbeat thread starts before either), and the round of writes
    that follows (one per shard, shard 0 first) is over."""
    shards = names.report_shard_names(child)
    for shard in (shards[0], shards[-1]):
        found = parent.get_or_none(names.clusterreport_path(shard))
        if not ((found or {}).get("spec") or {}).get("reportedAt"):
            return False
    return True


def forgotten(parent: KubeClient, child: str, mission: str) -> bool:
    """The child's report at the parent holds Mission ``mission`` no more: its removal went up."""
    shard = names.report_shard_names(child)[names.report_shard(mission)]
    found = parent.get_or_none(names.clusterreport_path(shard)) or {}
    return mission not in ((found.get("spec") or {}).get("missions") or {})


def cleared(leaf: KubeClient, name: str) -> bool:
    """Deployment ``name``'s ReplicaSets and pods are gone from the leaf (its garbage collector
    and kwok have removed what the deleted Deployment left)."""
    query = {"labelSelector": f"app={name}", "limit": 1}
    return not any(
        leaf.get(path, **query).get("items")
        for path in (
            "/apis/apps/v1/namespaces/default/replicasets",
            "/api/v1/namespaces/default/pods",
        )
    )


def propagation(root: Path) -> dict[str, float]:
    tree = start_tree(root / "chain", {"a": None, "b": "a", "c": "b", "d": "c"}, workloads=("d",))
    create, update, delete, rollup = [], [], [], []
    stop = threading.Event()
    try:
        clients = (tree.client(n) for n in "abcd")
        with next(clients) as a, next(clients) as b, next(clients) as c, next(clients) as d:
            # Every agent up and connected (each child's first heartbeat and first report at its
            # parent) before the first Mission: the samples measure propagation, not the agents'
            # start-up (a heartbeat alone comes before the agent has listed any Missions).
            for parent, child in ((a, "b"), (b, "c"), (c, "d")):
                wait_for(lambda u=parent, c=child: heartbeat_seen(u, c), 60, f"{child} beating")
                wait_for(lambda u=parent, c=child: reported(u, c), 60, f"{child} reporting")
            leaf = Observed(tree, "d", DEPLOYMENT, stop)
            root_missions = Observed(tree, "a", names.MISSIONS, stop)
            for i in range(REPEAT):
                name = f"p{i}"
                start = time.perf_counter()
                a.create(names.MISSIONS, mission(name, deployment(name, 1)))
                create.append(leaf.wait(name, _created, start) - start)
                ready = leaf.wait(name, _ready, start)
                rollup.append(root_missions.wait(name, _shown, ready) - ready)
                start = time.perf_counter()
                a.patch(
                    names.mission_path(name), {"spec": {"missionresource": deployment(name, 2)}}
                )
                update.append(leaf.wait(name, _scaled, start) - start)
                start = time.perf_counter()
                a.delete(names.mission_path(name))
                delete.append(leaf.wait(name, _gone, start) - start)
                # Each sample starts on a quiet tree, as the first waited for the agents'
                # start-up rounds: the leaf's garbage collector has removed what the Deployment
                # left, and the removal went up every hop (each layer's report of it written).
                wait_for(lambda n=name: cleared(d, n), 30, f"{name}'s pods gone", interval=POLL)
                for parent, child in ((c, "d"), (b, "c"), (a, "b")):
                    wait_for(
                        lambda u=parent, c=child, n=name: forgotten(u, c, n),
                        30,
                        f"{child}'s report of {name}'s removal",
                        interval=POLL,
                    )
        rss = agent_rss_mb(tree.members["d"].agent.pid)
    finally:
        stop.set()
        tree.destroy()
    metrics = {}
    for label, samples in (("create", create), ("update", update), ("delete", delete)):
        metrics[f"propagation_{label}_p50_seconds"] = statistics.median(samples)
        metrics[f"propagation_{label}_p99_seconds"] = percentile(samples, 99)
    metrics["status_rollup_p50_seconds"] = statistics.median(rollup)
    metrics["leaf_agent_rss_mb"] = rss
    return metrics


def agent_rss_mb(pid: int) -> float:
    """Peak resident memory of a process (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


class LightChild:
    """One child identity: the agent's watch of the parent's Missions and a real report loop."""

    def __init__(self, name: str, kubeconfig: dict[str, Any], stop: Any) -> None:
        self.name = name
        self.settings = settings_from_kubeconfig(kubeconfig)
        self.stop = stop
        self.dirty = threading.Event()
        self.writer = ReportWriter(name)
        self.informer = ParentMissions(self.client, self._changed, stop=stop)
        self.reported = 0
        self.failures = 0
        self.errors: Counter[str] = Counter()

    def client(self) -> KubeClient:
        return KubeClient(self.settings, timeout=60)

    def _changed(self, _kind: str, _obj: dict[str, Any]) -> None:
        self.writer.changed()
        self.dirty.set()

    def start(self) -> None:
        self.informer.start()
        self.dirty.set()  # as the agent on connecting: its (empty) report first
        threading.Thread(target=self._report_loop, daemon=True).start()

    def _report_loop(self) -> None:
        writer = self.writer
        composer = ReportComposer(self.name)  # what the agent composes its reports with
        below: dict[str, dict[str, Any]] = {}
        with self.client() as client:
            while not self.stop.is_set():
                if not self.dirty.wait(0.5):
                    continue
                # as the agent: a short coalescing delay, then the writer's own pacing (bounded:
                # a burst waits at most report.MAX_AGE, the gap at most report.MAX_GAP)
                time.sleep(REPORT_DELAY)
                while (wait := writer.pause()) > 0 and not self.stop.is_set():
                    time.sleep(wait)
                self.dirty.clear()
                seen = self.informer.snapshot()
                for m in seen:  # the subtree's status of a local copy: one object per Mission
                    below.setdefault(m, {"states": {f"x{i}": "applied" for i in range(SUBTREE)}})
                report = composer.compose(
                    dict.fromkeys(seen, "applied"),
                    {m: below[m] for m in seen},
                    {m: o["metadata"].get("generation", 1) for m, o in seen.items()},
                )
                try:
                    writer.write(client, report)
                except KubeError as exc:
                    # as the agent does: keep what was sent before as the base, retry later
                    self.dirty.set()
                    self.failures += 1
                    self.errors[str(exc)[:90]] += 1
                    continue
                self.reported = len(report)


class ChildProcesses:
    """The light children, spread over worker processes (one Python process could not read 200
    watch streams fast enough: the parent would drop its slow watchers). Each worker reports
    per child how many Missions its last report held, in shared memory."""

    def __init__(self, configs: list[tuple[str, dict[str, Any]]], workers: int) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self.reported = ctx.Array("i", len(configs), lock=False)
        self.failed = ctx.Array("i", len(configs), lock=False)
        self.synced = ctx.Array("i", len(configs), lock=False)
        self.stop = ctx.Event()
        self.processes = []
        for w in range(workers):
            share = [(i, n, c) for i, (n, c) in enumerate(configs) if i % workers == w]
            proc = ctx.Process(
                target=run_children,
                args=(share, self.reported, self.failed, self.synced, self.stop),
                daemon=True,
            )
            proc.start()
            self.processes.append(proc)

    def wait_synced(self, timeout: float) -> None:
        wait_for(lambda: self._alive() and all(self.synced), timeout, "children's watches up", 0.2)

    def all_reported(self, missions: int) -> bool:
        return self._alive() and all(n == missions for n in self.reported)

    def progress(self) -> str:
        counts = list(self.reported)
        done = sum(n == MISSIONS for n in counts)
        return (
            f"{done} of {len(counts)} children, Missions reported per child "
            f"{min(counts, default=0)}-{max(counts, default=0)}, {self.failures()} failed writes"
        )

    def failures(self) -> int:
        return sum(self.failed)

    def _alive(self) -> bool:
        dead = [p.exitcode for p in self.processes if not p.is_alive()]
        if dead:
            raise RuntimeError(f"a light-children worker died (exit codes {dead})")
        return True

    def close(self) -> None:
        self.stop.set()
        for proc in self.processes:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def run_children(share, reported, failed, synced, stop) -> None:
    """A worker process: its share of the light children, until ``stop``."""
    children = {i: LightChild(name, config, stop) for i, name, config in share}
    for child in children.values():
        child.start()
    while not stop.wait(0.1):
        for i, child in children.items():
            synced[i] = int(child.informer.synced.is_set())
            reported[i] = child.reported
            failed[i] = child.failures
    errors = sum((c.errors for c in children.values()), Counter())
    for message, count in errors.most_common(3):
        print(f"[bench] light children: {count} report writes failed: {message}", flush=True)


def requests_served(client: KubeClient) -> tuple[float, float, float, float]:
    """Requests the API server answered so far, how many of them with 429 (too many in
    flight: the harness runs it without priority and fairness; clients retry those), and how
    many were report writes (PATCH of ClusterReports) and Mission status writes."""
    total = refused = reports = statuses = 0.0
    for line in client.request("GET", "/metrics").splitlines():
        if line.startswith("apiserver_request_total{"):
            count = float(line.rsplit(" ", 1)[1])
            total += count
            if 'code="429"' in line:
                refused += count
            patch = 'verb="PATCH"' in line
            if patch and 'resource="clusterreports"' in line:
                reports += count
            if patch and 'resource="missions"' in line and 'subresource="status"' in line:
                statuses += count
    return total, refused, reports, statuses


def fanout(root: Path) -> dict[str, float]:
    tree = start_tree(
        root / "fan",
        {"a": None},
        # The light children do not heartbeat (the heartbeat is the scenarios' business): a's
        # agent must not declare them silent before the run ends.
        agent_settings={"heartbeat_seconds": 2.0, "child_timeout_seconds": 7200},
    )
    stop = threading.Event()
    group = None
    try:
        with tree.client("a") as a:
            with ThreadPoolExecutor(4) as pool:
                configs = list(
                    pool.map(lambda i: (f"f{i:03d}", link(tree, f"f{i:03d}")), range(CHILDREN))
                )
            group = ChildProcesses(configs, WORKERS)
            group.wait_synced(180)
            folded_view = FoldedView(tree, stop)
            before = requests_served(a)
            start = time.perf_counter()
            clients: list[KubeClient] = []
            local = threading.local()
            try:
                with ThreadPoolExecutor(4) as pool:
                    list(pool.map(lambda i: create(tree, i, clients, local), range(MISSIONS)))
            finally:
                for client in clients:
                    client.close()
            deadline = start + FANOUT_WAIT
            try:
                wait_for(
                    lambda: group.all_reported(MISSIONS),
                    max(1.0, deadline - time.perf_counter()),
                    f"every child reported all {MISSIONS} Missions",
                    0.2,
                )
            except HarnessError as exc:
                raise TimeoutError(f"{exc} ({group.progress()})") from exc
            reported = time.perf_counter()
            total = CHILDREN * (SUBTREE + 1)
            folded_view.wait(total, max(1.0, deadline - time.perf_counter()))
            folded = time.perf_counter()
            served, throttled, reports, statuses = (
                n - b for n, b in zip(requests_served(a), before, strict=True)
            )
            sample = a.get(names.mission_path("f-0000"))
            hub_rss = agent_rss_mb(tree.members["a"].agent.pid)
            retries = group.failures()
    finally:
        stop.set()
        if group is not None:
            group.close()
        tree.destroy()
    return {
        "fanout_converge_seconds": reported - start,
        "fanout_status_folded_seconds": folded - start,
        "parent_requests_per_second": served / (folded - start),
        "agent_rss_mb": hub_rss,
        "mission_status_bytes_1000_clusters": float(len(json.dumps(sample))),
        "mission_status_paths_1000_clusters": float(len(sample["status"]["states"])),
        "fanout_report_retries": float(retries),
        "fanout_throttled_requests": throttled,
        "fanout_report_writes": reports,
        "fanout_status_writes": statuses,
    }


def link(tree, name: str) -> dict[str, Any]:
    with tree.client("a") as a:
        return child_link.link_child(a, name, labels={}, distro="k8s", token_ttl=3600)


def create(tree, i: int, clients: list[KubeClient], local: threading.local) -> None:
    """Create Mission ``f-<i>`` with this thread's client (one TLS session per thread)."""
    client = getattr(local, "client", None)
    if client is None:
        client = local.client = tree.client("a")
        clients.append(client)
    try:
        client.create(names.MISSIONS, mission(f"f-{i:04d}", deployment(f"f-{i:04d}", 1)))
    except KubeError as exc:
        # a create retried after a timed-out answer finds its own first attempt
        if getattr(exc, "status", None) != 409:
            raise


class FoldedView:
    """How many clusters each of a's Missions counts, kept by one more watch of a's Missions."""

    def __init__(self, tree, stop: threading.Event) -> None:
        self.clusters: dict[str, int] = {}
        self.changed = threading.Condition()
        self.informer = Informer(
            "fan-observer", lambda: tree.client("a"), names.MISSIONS, self._seen, stop=stop
        )
        self.informer.start()

    def _seen(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        with self.changed:
            if kind == "DELETED":
                self.clusters.pop(name, None)
            else:
                summary = (obj.get("status") or {}).get("summary") or {}
                self.clusters[name] = int(summary.get("clusters") or 0)
            self.changed.notify_all()

    def wait(self, total: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (
                len(self.clusters) == MISSIONS and all(n == total for n in self.clusters.values())
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    done = sum(n == total for n in self.clusters.values())
                    raise TimeoutError(
                        f"a's Missions show all {total} clusters for {done} of {MISSIONS} "
                        f"Missions after {timeout:.0f} s"
                    )
                self.changed.wait(min(left, 1.0))


def run() -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="fornax-bench-agent-"))
    try:
        metrics = propagation(root)
        metrics.update(fanout(root))
        return metrics
    finally:
        shutil.rmtree(root, ignore_errors=True)

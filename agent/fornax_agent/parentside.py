"""The parent side of an agent: its children's heartbeats and reports, folded into its Missions.

- Children: every EdgeCluster here is a child; one silent for ``child_timeout_seconds`` is
  marked ``disconnected`` (its sub-clusters cleared) and ``cluster unreachable`` in every
  Mission.
- Reports: a child reports in shards ``<child>.<i>`` (see report.py) and, from agents before
  shards, in one whole report ``<child>``. The child is the part of the name before the dot
  (RBAC lets a child write only its own names). A Mission's entry is read from the whole
  report when that holds one, else from the Mission's own shard (an entry in another shard is
  ignored), so each entry has exactly one source.
- Folding: a Mission is folded when a child's entry for it changed; the result goes at once to
  ``on_folded`` (the report up to this cluster's parent) and, within the status write budget,
  to the Mission's status here (children watch spec mirrors, mirrors.py: a status write
  reaches none of them). The reports are cached in little memory (reportinformer.py).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.limits import MAX_PATHS
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.rollup import (
    fold,
    keep_entry,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.patch import merge_patch

from .faults import FAULTS
from .informer import Informer
from .ratelimit import Backoff, TokenBucket
from .reportinformer import ReportInformer
from .statuswriter import StatusWriter
from .workqueue import WorkQueue

log = logging.getLogger("fornax.agent.parent")
RETRY_DELAY = 0.5
FOLD_BATCH = 50  # Missions folded per turn of the work queue
STATUS_WRITERS = 4  # Mission status writes in flight at once
# Writes submitted and not yet answered, at most: the fold goes on as the API server answers,
# so a slow parent slows the writes down (and folds waiting meanwhile merge) whatever the budget.
STATUS_BACKLOG = 2 * STATUS_WRITERS
PARTIAL_WAIT = 10.0  # seconds a status still waiting for children waits before it is written
KIND_LINE = re.compile(r"(?m)^kind:\s*['\"]?([A-Za-z0-9]+)")
HEALTH_LENGTH = 64  # a child's health strings are cut to this (they are told, not trusted)


def as_int(value: Any) -> int:
    """An integer from an annotation or a field someone else may have written (0 if none)."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def child_sub_states(child: str, told: Any) -> dict[str, str]:
    """What a parent keeps of a child's ``subEdgeClusterStates``: valid paths below the child
    (states.path_problem), health strings cut to length, at most MAX_PATHS of them."""
    kept: dict[str, str] = {}
    if not isinstance(told, dict):
        return kept
    for path, health in told.items():
        if len(kept) >= MAX_PATHS:
            break
        if not isinstance(path, str) or not isinstance(health, str):
            continue
        joined = st.join_path(child, path)
        if st.path_problem(joined) is None:
            kept[joined] = (st.clamp_state(health) or "")[:HEALTH_LENGTH]
    return kept


class Reports:
    """Every child's report, from its shards and its whole report: Mission -> entry.

    Each entry is also kept as the parent takes it (rollup.keep_entry: clamped once when it
    arrives, an honest entry as itself), so a fold of a Mission under hundreds of children
    clamps nothing again and the kept form costs nothing beside the entry.
    """

    def __init__(self) -> None:
        self.parts: dict[str, dict[int | None, dict[str, Any]]] = {}  # child -> shard -> missions
        self.merged: dict[str, dict[str, Any]] = {}  # child -> Mission -> entry as sent
        self.kept: dict[str, dict[str, Any]] = {}  # child -> Mission -> entry as taken

    def update(self, report: str, missions: dict[str, Any]) -> set[str]:
        """Take ClusterReport ``report`` holding ``missions``; the Missions whose entry changed."""
        child, shard = names.report_owner(report)
        if shard == -1:
            return set()  # not a shard name: nothing of the child's
        parts = self.parts.setdefault(child, {})
        old = parts.get(shard, {})
        if missions:
            parts[shard] = missions
        else:
            parts.pop(shard, None)
        merged = self.merged.setdefault(child, {})
        kept = self.kept.setdefault(child, {})
        changed = set()
        for mission in set(old) | set(missions):
            entry = self._source(parts, mission)
            if entry is None:
                kept.pop(mission, None)
                if merged.pop(mission, None) is not None:
                    changed.add(mission)
            elif merged.get(mission) != entry:  # equal: nothing to take again
                merged[mission] = entry
                kept[mission] = keep_entry(child, mission, entry)
                changed.add(mission)
        if not parts:
            self.parts.pop(child, None)
            self.merged.pop(child, None)
            self.kept.pop(child, None)
        return changed

    @staticmethod
    def _source(parts: dict[int | None, dict[str, Any]], mission: str) -> Any:
        whole = parts.get(None) or {}
        if mission in whole:
            return whole[mission]
        return (parts.get(names.report_shard(mission)) or {}).get(mission)

    def of(self, child: str) -> dict[str, Any]:
        return self.merged.get(child, {})

    def entry(self, child: str, mission: str) -> Any:
        """``child``'s entry for ``mission`` as the parent takes it (None: none, or unusable)."""
        return self.kept.get(child, {}).get(mission)


class ParentSide:
    def __init__(
        self,
        config: Any,
        queue: WorkQueue,
        *,
        client_factory: Callable[[], KubeClient],
        missions: Informer,
        stop: threading.Event,
        on_folded: Callable[[str], None] | None,
        on_news: Callable[[], None],
        on_children: Callable[[], None] | None = None,
    ) -> None:
        self.cfg = config
        self.queue = queue
        self.local = client_factory()
        self.missions = missions
        self.on_folded = on_folded  # a Mission's folded status changed (None: nobody reads it)
        self.on_news = on_news  # this subtree's health changed: tell the parent now
        self.on_children = on_children  # a child's EdgeCluster came, changed or went
        self.lock = threading.Lock()
        self.children_seen: dict[str, float] = {}
        self.children_heartbeat: dict[str, str | None] = {}
        self.children_health: dict[str, tuple[Any, str]] = {}  # health, sub-states as told
        self.disconnected: set[str] = set()
        self.reports_seen = Reports()
        self.fold_pending: dict[str, None] = {}  # Missions to fold, oldest request first
        self.partial: dict[str, float] = {}  # Missions waiting for children -> write by when
        self.folded: dict[str, dict[str, Any]] = {}  # Mission -> its last folded status
        self.fold_retries = Backoff(RETRY_DELAY, 60.0)
        self.status_writes = TokenBucket(config.status_writes_per_second, config.status_write_burst)
        self.status_writer = StatusWriter(
            client_factory, STATUS_WRITERS, self._status_done, on_free=self._writer_free
        )
        self.children = Informer(
            "edgeclusters", client_factory, names.EDGECLUSTERS, self._on_child, stop=stop
        )
        self.reports = ReportInformer(
            "clusterreports", client_factory, names.CLUSTERREPORTS, self._on_report, stop=stop
        )

    # -- events (informer threads: only queue work) ---------------------------------------------

    def mission_event(self, name: str, deleted: bool) -> None:
        """A local Mission was created, deleted, or its spec changed."""
        if deleted:
            self.status_writer.forget(name)
            with self.lock:
                self.folded.pop(name, None)
        self.fold_later(name)

    def _on_child(self, kind: str, obj: dict[str, Any]) -> None:
        child = obj["metadata"]["name"]
        status = obj.get("status") or {}
        health = (status.get("healthStatus"), str(status.get("subEdgeClusterStates")))
        with self.lock:
            if kind == "DELETED":
                self.children_seen.pop(child, None)
                self.children_heartbeat.pop(child, None)
                self.disconnected.discard(child)
                news = self.children_health.pop(child, None) is not None
            else:
                beat = status.get("lastHeartbeat")
                if child not in self.children_seen or beat != self.children_heartbeat.get(child):
                    self.children_heartbeat[child] = beat
                    self.children_seen[child] = time.monotonic()
                news = self.children_health.get(child) != health
                self.children_health[child] = health
        self.queue.add("children")
        if self.on_children is not None:
            self.on_children()
        if news:
            self.on_news()
        if kind == "DELETED":
            self.fold_all()

    def _on_report(self, kind: str, obj: dict[str, Any]) -> None:
        report = obj["metadata"]["name"]
        new = {} if kind == "DELETED" else ((obj.get("spec") or {}).get("missions") or {})
        if not isinstance(new, dict):
            log.warning("report %s holds no mapping of Missions: ignored", report)
            new = {}
        with self.lock:
            changed = self.reports_seen.update(report, new)
        for mission in changed:
            self.fold_later(mission)

    # -- children ------------------------------------------------------------------------------

    def sub_states(self) -> dict[str, str]:
        """This subtree's health by path, for the heartbeat up."""
        states: dict[str, str] = {}
        with self.lock:
            disconnected = set(self.disconnected)
        for child, obj in self.children.snapshot().items():
            if child in disconnected:
                states[child] = names.DISCONNECTED
                continue
            status = obj.get("status") or {}
            health = status.get("healthStatus")
            states[child] = health[:HEALTH_LENGTH] if isinstance(health, str) else names.UNHEALTHY
            states.update(child_sub_states(child, status.get("subEdgeClusterStates")))
        return states

    def check_children(self) -> None:
        if not self.children.synced.is_set():
            return
        now = time.monotonic()
        changed = []
        for child in self.children.snapshot():
            with self.lock:
                seen = self.children_seen.setdefault(child, now)
                silent = now - seen > self.cfg.child_timeout_seconds
                flipped = silent != (child in self.disconnected)
                if flipped:
                    (self.disconnected.add if silent else self.disconnected.discard)(child)
            if flipped:
                changed.append(child)
                if silent:
                    log.warning("child %s silent for %.0f s: disconnected", child, now - seen)
                    patch = {
                        "status": {"healthStatus": names.DISCONNECTED, "subEdgeClusterStates": None}
                    }
                    self.local.patch(names.edgecluster_path(child, status=True), patch)
        if changed:
            self.fold_all()
            self.on_news()

    # -- folding -------------------------------------------------------------------------------

    def fold_all(self) -> None:
        for name in self.missions.snapshot():
            self.fold_later(name)

    def fold_later(self, name: str, delay: float = 0.0) -> None:
        """Mark Mission ``name`` for folding; marks made before its turn merge into one fold."""
        with self.lock:
            self.fold_pending[name] = None
        self.queue.add("fold", delay)

    def fold(self) -> None:
        """Fold the marked Missions, a batch at a time, within the status write budget.

        A settled Mission (every connected child reported the current generation) is written
        at once; one still waiting for children when it settles, or PARTIAL_WAIT after it was
        first asked for, whichever comes first: under a burst the budget goes to statuses that
        are final, and a Mission is not rewritten once per child that reports it.
        """
        if not (self.missions.synced.is_set() and self.reports.synced.is_set()):
            self.queue.add("fold", RETRY_DELAY)
            return
        for _done in range(FOLD_BATCH):
            if self.status_writer.backlog() >= STATUS_BACKLOG:
                return  # the next answer asks for the next fold (_writer_free)
            wait = self.status_writes.wait()
            if wait > 0:
                self.queue.add("fold", wait)
                return
            name = self._next_fold()
            if name is None:
                if self.partial:
                    self.queue.add("fold", max(0.0, min(self.partial.values()) - time.monotonic()))
                return
            self._fold_guarded(name)
        self.queue.add("fold")  # more may wait: let work of a higher class go first

    def _next_fold(self) -> str | None:
        """The next Mission to fold now: one waiting for children whose time has come, else the
        next asked for that has settled. One still waiting is not written before its time, even
        when nothing else waits: under a burst the children's reports keep every Mission
        unsettled, and writing them whenever the writer was idle took the parent's API server
        from the mirrors and the reports (docs/agent.md, "Bursts on a busy parent")."""
        now = time.monotonic()
        while True:
            with self.lock:
                due = [n for n, t in self.partial.items() if t <= now]
                if due:
                    del self.partial[due[0]]
                    return due[0]
                if not self.fold_pending:
                    return None
                name = next(iter(self.fold_pending))
                del self.fold_pending[name]
                waiting = name in self.partial
            if self._settled(name):
                if waiting:
                    with self.lock:
                        self.partial.pop(name, None)
                return name
            if not waiting:  # a Mission already waiting keeps its time
                with self.lock:
                    self.partial[name] = now + PARTIAL_WAIT

    def _settled(self, name: str) -> bool:
        local = self.missions.get(name)
        if local is None:
            return True
        generation = as_int(local["metadata"].get("generation"))
        with self.lock:
            for child in self.children.snapshot():
                if child in self.disconnected:
                    continue
                entry = self.reports_seen.entry(child, name)
                if not isinstance(entry, dict) or entry.get("generation") != generation:
                    return False
        return True

    def _fold_guarded(self, name: str) -> None:
        if self.status_writer.busy(name):
            return  # folded again once its write lands
        try:
            self.fold_one(name)
        except (KubeError, OSError):
            self.fold_later(name, RETRY_DELAY)
            raise
        except Exception as exc:  # one Mission's fold, not every other's
            FAULTS.unexpected("fold", exc, name)
            self.fold_later(name, self.fold_retries.next(name))
        else:
            self.fold_retries.reset(name)

    def _writer_free(self) -> None:
        self.queue.add("fold")

    def _status_done(self, name: str, failed: bool) -> None:
        """From a status writer: ``name`` changed during its write, or the write failed."""
        self.fold_later(name, RETRY_DELAY if failed else 0.0)

    def fold_one(self, name: str) -> None:
        local = self.missions.get(name)
        if local is None:
            return
        views = {}
        with self.lock:  # only this Mission's entries: the merged reports change under the lock
            for child in self.children.snapshot():
                entry = self.reports_seen.entry(child, name)
                views[child] = {
                    "connected": child not in self.disconnected,
                    "kept": {} if entry is None else {name: entry},
                }
        generation = as_int(local["metadata"].get("generation"))
        status = fold(name, views, self.cfg.max_paths, generation)
        status["contentKind"] = content_kind(local.get("spec"))
        if self.on_folded is not None:  # kept for the report up (a root has none to make)
            with self.lock:
                news = self.folded.get(name) != status
                self.folded[name] = status
            if news:
                self.on_folded(name)  # straight into the report up, no round trip here first
        current = self.status_writer.base(name, local)
        patch = merge_patch({k: current[k] for k in status if k in current}, status)
        if not patch:
            return
        self.status_writes.take()
        self.status_writer.submit_status(name, patch, status)

    def status_of(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.folded.get(name)

    def close(self) -> None:
        self.status_writer.close()


def content_kind(spec: Any) -> str:
    resource = spec.get("missionresource") if isinstance(spec, dict) else None
    if isinstance(resource, str) and resource.strip():
        found = KIND_LINE.search(resource)
        return found.group(1) if found else "unknown"
    return "command"

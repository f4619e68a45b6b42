"""The cluster agent: one per cluster of the tree.

Every change arrives through a watch (an Informer) and becomes a key in one de-duplicating
work queue, handled by one worker thread, so bursts coalesce and no two handlers race:

| key | when | what |
| --- | --- | --- |
| ("copy", m) | the parent's Mission m changed | copy it into this cluster (only non-root) |
| ("exec", m) | the local copy or its content changed | apply/restore/remove content, run commands |
| "fold" | a child reported, or went silent | fold reports into the marked Missions' status |
| "report" | own state or a local status changed | write this cluster's ClusterReport upward |
| "children" | heartbeat period, child heartbeats | mark silent children disconnected |

The heartbeat and the token renewal have a thread of their own, and commands run in a pool of
their own (commands.py): nothing a Mission does can delay them.

Failure isolation: whatever goes wrong with one Mission (content that does not parse, a spec
field of the wrong type, an object refused by the cluster's grant or owned by another Mission,
an exception nobody expected) becomes that Mission's ``failed: <reason>`` state, retried after
a bounded, jittered, exponential backoff of its own; every other Mission, the heartbeat and the
reports go on. An unexpected exception anywhere is logged with its traceback once and counted
(faults.py); no thread of the agent ends on one.

The root cluster has no parent: it only folds its children's reports. A cluster cut off from
its parent keeps its content and keeps serving its own children; when the parent answers again
the Mission watch re-lists and the differences (created, updated, deleted while away) are
applied.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import child_link, names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.mission_spec import (
    placement_problem,
    spec_problem,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.nodes import EDGE_NODE_LABEL
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.placement import (
    placement_matches,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.rollup import (
    ReportComposer,
    caught_up,
    fold,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (
    set_user_token,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.patch import merge_patch
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.resource import (
    ManifestError,
    load_manifests,
)

from .commands import MissionCommands, Runner
from .config import AgentConfig
from .content import Applied, Content, MissionFailure
from .faults import FAULTS, describe
from .informer import Informer
from .ratelimit import Backoff, TokenBucket
from .report import ReportMissing, ReportWriter
from .statuswriter import StatusWriter
from .store import Store
from .workqueue import WorkQueue

VERSION = "0.1.0"
KIND_LINE = re.compile(r"(?m)^kind:\s*['\"]?([A-Za-z0-9]+)")
RETRY_DELAY = 0.5
RETRY_MAX = 5.0  # seconds: the longest wait before retrying work after a transient error
MISSION_RETRY_MAX = 60.0  # seconds: the longest wait before retrying a failed Mission
FOLD_BATCH = 50  # Missions folded per turn of the work queue
STATUS_WRITERS = 2  # Mission status writes in flight at once
# Work that moves Missions down the tree goes before work that reports up.
PRIORITY = {
    "copy": 0,
    "exec": 1,
    "report": 2,
    "fold": 3,
    "children": 4,
}

log = logging.getLogger("fornax.agent")


def priority_of(key: Hashable) -> int:
    return PRIORITY[key[0] if isinstance(key, tuple) else key]


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_copy(mission: dict[str, Any] | None) -> bool:
    annotations = ((mission or {}).get("metadata") or {}).get("annotations") or {}
    return names.COPIED_FROM_ANNOTATION in annotations


def as_int(value: Any) -> int:
    """An integer from an annotation or a field someone else may have written (0 if none)."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def content_kind(spec: Any) -> str:
    resource = spec.get("missionresource") if isinstance(spec, dict) else None
    if isinstance(resource, str) and resource.strip():
        found = KIND_LINE.search(resource)
        return found.group(1) if found else "unknown"
    return "command"


class Agent:
    def __init__(self, config: AgentConfig, stop: threading.Event | None = None) -> None:
        self.cfg = config
        self.stop = stop or threading.Event()
        self.queue = WorkQueue(
            priority=lambda key: PRIORITY[key[0] if isinstance(key, tuple) else key]
        )
        self.store = Store(config.state_dir)
        self.local_settings = settings_from_kubeconfig(config.kubeconfig)
        self.parent_settings = (
            settings_from_kubeconfig(config.parent_kubeconfig) if config.parent_kubeconfig else None
        )
        self.local = self.local_client()
        self.content = Content(self.local, config.cluster, config.policy)
        self.commands = MissionCommands(
            allowed=config.allow_commands,
            runner=Runner(
                config.command_timeout_seconds,
                config.kubectl,
                config.command_kubeconfig or config.kubeconfig,
                config.user,
            ),
            workers=config.command_workers,
            queue_size=config.command_queue,
            statecheck_interval=config.statecheck_interval_seconds,
            records={k: v for k, v in self.store.get("commands").items() if isinstance(v, dict)},
            persist=lambda name, record: self.store.put("commands", name, record),
            wake=lambda name, delay: self.queue.add(("exec", name), delay),
            stop=self.stop,
        )
        self.applied = self._stored_records()
        self.retries = Backoff(RETRY_DELAY, RETRY_MAX)  # work that failed for a transient cause
        self.mission_retries = Backoff(RETRY_DELAY, MISSION_RETRY_MAX)  # failed Missions
        self.retry_at: dict[str, tuple[int, float]] = {}  # Mission -> (generation, retry when)
        self.copy_failures: dict[str, tuple[int, str]] = {}  # Mission -> (parent gen, reason)
        self.beat = threading.Event()  # wakes the heartbeat thread before its period is over
        self.heartbeat_parent: KubeClient | None = None  # the heartbeat thread's own client
        self.report_parent: tuple[Any, KubeClient] | None = None  # (settings, client) of reports
        self.own_states: dict[str, str] = {}
        self.executed: dict[str, int] = {}  # Mission -> local generation its state is for
        self.reports_up = ReportWriter(config.cluster)
        self.composer = ReportComposer(config.cluster, config.max_paths)
        self.status_writes = TokenBucket(config.status_writes_per_second, config.status_write_burst)
        self.status_writer = StatusWriter(self.local_client, STATUS_WRITERS, self._status_done)
        self.registered = False
        self.local_healthy = True
        self.children_seen: dict[str, float] = {}
        self.children_heartbeat: dict[str, str | None] = {}
        self.children_health: dict[str, tuple[Any, str]] = {}  # health, sub-states as told
        self.disconnected: set[str] = set()
        self.reports_seen: dict[str, dict[str, Any]] = {}
        self.generations_seen: dict[str, int | None] = {}
        self.fold_pending: dict[str, None] = {}  # Missions to fold, oldest request first
        self.lock = threading.Lock()

        self.missions = Informer(
            "missions",
            self.local_client,
            names.MISSIONS,
            self._on_local_mission,
            on_sync=self._on_local_sync,
            stop=self.stop,
        )
        self.children = Informer(
            "edgeclusters", self.local_client, names.EDGECLUSTERS, self._on_child, stop=self.stop
        )
        self.reports = Informer(
            "clusterreports",
            self.local_client,
            names.CLUSTERREPORTS,
            self._on_report,
            stop=self.stop,
        )
        self.informers = [self.missions, self.children, self.reports]
        self.parent_missions: Informer | None = None
        if self.parent_settings:
            self.parent_missions = Informer(
                "parent-missions",
                self.parent_client,
                names.MISSIONS,
                self._on_parent_mission,
                on_sync=self._on_parent_sync,
                stop=self.stop,
            )
            self.informers.append(self.parent_missions)
        self.content_informers: dict[str, Informer] = {}
        self.handlers: dict[str, Callable[..., None]] = {
            "copy": self.copy,
            "exec": self.execute,
            "fold": self.fold,
            "report": self.report,
            "children": self.check_children,
        }

    def _stored_records(self) -> dict[str, Applied]:
        """What the store says was applied; an unreadable record is dropped, not fatal."""
        records = {}
        for name, data in self.store.get("applied").items():
            try:
                records[name] = Applied.from_json(data)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("stored record of mission %s is unreadable, dropped: %r", name, exc)
        return records

    # -- clients -------------------------------------------------------------------------------

    def local_client(self) -> KubeClient:
        return KubeClient(
            self.local_settings, timeout=10, connect_retries=1, user_agent="fornax-agent"
        )

    def parent_client(self) -> KubeClient:
        assert self.parent_settings is not None
        return KubeClient(
            self.parent_settings, timeout=10, connect_retries=1, user_agent="fornax-agent"
        )

    # -- events (informer threads: only queue work) -----------------------------------------

    def _on_local_mission(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        generation = obj["metadata"].get("generation")
        with self.lock:
            spec_changed = kind == "DELETED" or self.generations_seen.get(name) != generation
            if kind == "DELETED":
                self.generations_seen.pop(name, None)
                self.status_writer.forget(name)
            else:
                self.generations_seen[name] = generation
        if spec_changed:
            if self.parent_settings:
                self.queue.add(("exec", name))
            self.fold_later(name)
        # A status change of a local Mission is a change of this subtree's states: report it.
        self.queue.add("report", self.cfg.report_delay_seconds)

    def _on_local_sync(self) -> None:
        # Compare every local copy with the parent once both are listed: a copy whose Mission
        # was deleted upstream while this agent was down has no upstream event to bring it up.
        if self.parent_settings:
            for name, obj in self.missions.snapshot().items():
                if is_copy(obj):
                    self.queue.add(("copy", name))

    def _on_parent_mission(self, _kind: str, obj: dict[str, Any]) -> None:
        self.queue.add(("copy", obj["metadata"]["name"]))

    def _on_parent_sync(self) -> None:
        assert self.parent_missions is not None
        for name in set(self.parent_missions.snapshot()) | set(self.missions.snapshot()):
            self.queue.add(("copy", name))
        self.reports_up.forget()  # the parent may have lost or missed writes: diff afresh
        self.registered = False
        self.queue.add("report")
        self.beat.set()

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
        if news:  # this subtree's health changed: tell the parent now, not at the next beat
            self.beat.set()
        if kind == "DELETED":
            self._fold_all()

    def _on_report(self, kind: str, obj: dict[str, Any]) -> None:
        child = obj["metadata"]["name"]
        new = {} if kind == "DELETED" else ((obj.get("spec") or {}).get("missions") or {})
        if not isinstance(new, dict):
            log.warning("the report of child %s holds no mapping of Missions: ignored", child)
            new = {}
        with self.lock:
            old = self.reports_seen.get(child, {})
            self.reports_seen[child] = new
        for mission in set(old) | set(new):
            if old.get(mission) != new.get(mission):
                self.fold_later(mission)

    def _on_content(self, _kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        mission = (meta.get("labels") or {}).get(names.MISSION_LABEL)
        if (
            mission
            and (meta.get("annotations") or {}).get(names.APPLIED_BY_ANNOTATION) == self.cfg.cluster
        ):
            self.queue.add(("exec", mission))

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        for informer in self.informers:
            informer.start()
        self._watch_content_kinds({k for a in self.applied.values() for k in a.kinds})
        threading.Thread(target=self._ticker, name="ticker", daemon=True).start()
        if self.parent_settings:
            threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True).start()
        for name in self.commands.records:  # reverse commands a restart interrupted
            self.queue.add(("exec", name))

    def run_forever(self) -> None:
        self.start()
        log.info(
            "agent of cluster %s started (parent: %s)",
            self.cfg.cluster,
            self.parent_settings.server if self.parent_settings else "none, root",
        )
        while not self.stop.is_set():
            key = self.queue.get(timeout=0.5)
            if key is not None:
                self.handle(key)
        self.status_writer.close()
        self.commands.close()

    def handle(self, key: Hashable) -> None:
        """Run one piece of work; whatever it raises is retried later, never the agent's end."""
        verb, *args = key if isinstance(key, tuple) else (key,)
        try:
            self.handlers[verb](*args)
        except (KubeError, OSError) as exc:
            delay = self.retries.next(key)
            log.warning("%s failed, retrying in %.1f s: %s", key, delay, exc)
            self.queue.add(key, delay)
        except Exception as exc:  # RecursionError and MemoryError too: the work loop lives on
            FAULTS.unexpected(str(verb), exc, " ".join(map(str, args)))
            self.queue.add(key, self.retries.next(key))
        else:
            self.retries.reset(key)

    def _ticker(self) -> None:
        last_resync = time.monotonic()
        while not self.stop.wait(self.cfg.heartbeat_seconds):
            try:
                self.queue.add("children")
                if time.monotonic() - last_resync >= self.cfg.resync_seconds:
                    last_resync = time.monotonic()
                    for name, obj in self.missions.snapshot().items():
                        if is_copy(obj) and self.parent_settings:
                            self.queue.add(("exec", name))
                    self._fold_all()
            except Exception as exc:
                FAULTS.unexpected("ticker", exc)

    def _heartbeats(self) -> None:
        """The heartbeat thread: renew the token when due, then beat; every period, and soon
        after a change worth telling (``self.beat``). Nothing else runs here."""
        due = time.monotonic()
        failing = False
        while not self.stop.is_set():
            if self.beat.wait(max(0.0, due - time.monotonic())):
                self.stop.wait(self.cfg.report_delay_seconds)  # let a burst of changes settle
            self.beat.clear()
            if self.stop.is_set():
                return
            due = time.monotonic() + self.cfg.heartbeat_seconds  # a slow beat delays no other
            try:
                self.renew_token()
                self.heartbeat()
            except (KubeError, OSError) as exc:
                if not failing:  # once per outage, not once per period
                    log.warning("heartbeat to the parent failed (retrying every beat): %s", exc)
                failing = True
                self._drop_heartbeat_client()
            except Exception as exc:
                FAULTS.unexpected("heartbeat", exc)
                self._drop_heartbeat_client()
            else:
                if failing:
                    log.info("heartbeat to the parent works again")
                failing = False

    def _drop_heartbeat_client(self) -> None:
        if self.heartbeat_parent is not None:
            self.heartbeat_parent.close()
            self.heartbeat_parent = None

    def _fold_all(self) -> None:
        for name in self.missions.snapshot():
            self.fold_later(name)

    def _watch_content_kinds(self, kinds: set[str]) -> None:
        for kind in kinds:
            if kind in self.content_informers:
                continue
            api_version, plural = kind.split("|")
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            informer = Informer(
                f"content-{plural}",
                self.local_client,
                f"{prefix}/{plural}",
                self._on_content,
                label_selector=names.MISSION_LABEL,
                stop=self.stop,
            )
            self.content_informers[kind] = informer
            informer.start()

    # -- downward: copy -----------------------------------------------------------------------

    def copy(self, name: str) -> None:
        assert self.parent_missions is not None
        if not (self.parent_missions.synced.is_set() and self.missions.synced.is_set()):
            self.queue.add(("copy", name), RETRY_DELAY)
            return
        upstream = self.parent_missions.get(name)
        local = self.missions.get(name)
        if upstream is None:
            self._copied(name)
            if local is not None and is_copy(local):
                log.info("mission %s deleted at the parent: deleting the local copy", name)
                self.local.delete_if_exists(names.mission_path(name))
            return
        if local is not None and not is_copy(local):
            log.warning("mission %s exists locally and was not copied: left alone", name)
            return
        desired = self._copy_of(upstream)
        if local is not None and self._same_copy(local, desired):
            self._copied(name)
            return
        generation = as_int(upstream["metadata"].get("generation"))
        log.info("copying mission %s (parent generation %s)", name, generation)
        try:
            self.local.apply(
                names.mission_path(name),
                desired,
                field_manager=names.FIELD_MANAGER_AGENT,
                force=True,
            )
        except KubeApiError as exc:
            if exc.transient:
                raise
            # This cluster refuses the Mission (its CRD is stricter than the parent's): a
            # failure of that Mission, reported up, retried with its own backoff.
            delay = self.mission_retries.next(("copy", name))
            self.copy_failures[name] = (generation, f"copy refused by this cluster: {exc.message}")
            self.queue.add(("copy", name), delay)
            self.queue.add("report", self.cfg.report_delay_seconds)
            return
        self._copied(name)

    def _copied(self, name: str) -> None:
        self.mission_retries.reset(("copy", name))
        if self.copy_failures.pop(name, None) is not None:
            self.queue.add("report", self.cfg.report_delay_seconds)

    def _copy_of(self, upstream: dict[str, Any]) -> dict[str, Any]:
        meta = upstream["metadata"]
        return {
            "apiVersion": names.API_VERSION,
            "kind": "Mission",
            "metadata": {
                "name": meta["name"],
                "labels": dict(meta.get("labels") or {}),
                "annotations": {
                    names.COPIED_FROM_ANNOTATION: self.cfg.parent or "parent",
                    names.PARENT_GENERATION_ANNOTATION: str(meta.get("generation", 0)),
                },
            },
            "spec": upstream.get("spec") or {},
        }

    @staticmethod
    def _same_copy(local: dict[str, Any], desired: dict[str, Any]) -> bool:
        meta, want = local.get("metadata") or {}, desired["metadata"]
        annotations = meta.get("annotations") or {}
        return (
            local.get("spec") == desired["spec"]
            and (meta.get("labels") or {}) == want["labels"]
            and all(annotations.get(k) == v for k, v in want["annotations"].items())
        )

    # -- here: execute ------------------------------------------------------------------------

    def execute(self, name: str) -> None:
        if not self.missions.synced.is_set():
            self.queue.add(("exec", name), RETRY_DELAY)
            return
        local = self.missions.get(name)
        if local is None or not is_copy(local):
            self._retire(name)
            return
        generation = as_int(local["metadata"].get("generation"))
        if self._backing_off(name, generation):
            return
        state = self._attempt(name, local, generation)
        if state is None:
            return  # failed, no longer selects this cluster, or waits for a reversecommand
        self.retry_at.pop(name, None)
        self.mission_retries.reset(name)
        self._set_state(name, state, generation)

    def _backing_off(self, name: str, generation: int) -> bool:
        """True while Mission ``name`` waits out the backoff of its last failure."""
        waiting = self.retry_at.get(name)
        if waiting is None:
            return False
        if waiting[0] != generation:  # a new generation: a fresh start
            self.mission_retries.reset(name)
            del self.retry_at[name]
            return False
        left = waiting[1] - time.monotonic()
        if left > 0:
            self.queue.add(("exec", name), left)
            return True
        return False

    def _attempt(self, name: str, local: dict[str, Any], generation: int) -> str | None:
        """Carry Mission ``name`` out; a failure of any kind becomes its failed state."""
        try:
            return self._carry_out(name, local, local.get("spec"), generation)
        except MissionFailure as exc:
            reason = str(exc)
        except KubeApiError as exc:
            if exc.transient or exc.status < 400:
                raise  # the work loop retries it
            # refused: a 4xx (e.g. 403 where RBAC is narrower than the grant), or a 500 for a
            # field of the wrong type
            reason = exc.message
        except (KubeError, OSError):
            raise  # transient: the work loop retries it
        except Exception as exc:  # a bug or a resource exhausted: this Mission's failure only
            FAULTS.unexpected("exec", exc, name)
            reason = f"agent error: {describe(exc)}"
        self._failed(name, generation, reason)
        return None

    def _carry_out(
        self, name: str, local: dict[str, Any], spec: Any, generation: int
    ) -> str | None:
        """This cluster's state of Mission ``name`` (None: retired); MissionFailure when it fails.

        The placement is read first: a Mission whose other fields are broken is ``not match``
        on the clusters it does not select, and fails only where it does.
        """
        if not isinstance(spec, dict):
            raise MissionFailure(spec_problem(spec) or "spec: unreadable")
        placement = spec.get("placement")
        problem = placement_problem(placement) if placement is not None else None
        if problem:
            raise MissionFailure(problem)
        if not self._selects(spec):
            self._retire(name, st.NOT_MATCH, generation)
            return None
        problem = spec_problem(spec)
        if problem:
            raise MissionFailure(problem)
        if (spec.get("missionresource") or "").strip():
            state = self._execute_resource(name, generation, spec["missionresource"])
        else:
            state = self.commands.command_state(
                name, local["metadata"].get("uid") or "", generation, spec["missioncommand"]
            )
        if st.classify(state) != st.FAILED:
            check = (spec.get("statecheck") or {}).get("command")
            state = self.commands.statecheck(name, generation, check) or state
        return state

    def _selects(self, spec: Any) -> bool:
        """True when the Mission's placement selects this cluster (False when unreadable)."""
        placement = spec.get("placement") if isinstance(spec, dict) else None
        if placement is not None and placement_problem(placement):
            return False
        return placement_matches(placement, self.cfg.cluster, self.cfg.labels, self.cfg.kube_distro)

    def _failed(self, name: str, generation: int, reason: str) -> None:
        """Mission ``name`` failed here: say so, and try again after its own backoff."""
        delay = self.mission_retries.next(name)
        self.retry_at[name] = (generation, time.monotonic() + delay)
        self.queue.add(("exec", name), delay)
        state = st.failed(reason)
        if self.own_states.get(name) != state:
            log.warning("mission %s failed (retry in %.1f s): %s", name, delay, reason)
        self._set_state(name, state, generation)

    def _execute_resource(self, name: str, generation: int, resource: str) -> str:
        try:
            objects = load_manifests(resource, where="spec.missionresource")
        except ManifestError as exc:
            raise MissionFailure(str(exc)) from exc
        applied = self.applied.get(name)
        if applied is not None and applied.complete and applied.generation == generation:
            drifted, state = self.content.inspect(applied)
            if not drifted:
                return state
        # Not applied yet, a new generation, an apply that stopped half-way, or drifted.
        log.info("applying the content of mission %s (generation %s)", name, generation)
        fresh = self.content.apply(
            name, generation, objects, applied, lambda progress: self._remember(name, progress)
        )
        self._remember(name, fresh)
        return self.content.state(fresh)

    def _remember(self, name: str, applied: Applied | None) -> None:
        if applied is None:
            self.applied.pop(name, None)
            self.store.put("applied", name, None)
            return
        self.applied[name] = applied
        self.store.put("applied", name, applied.to_json())
        self._watch_content_kinds(set(applied.kinds))

    def _retire(self, name: str, state: str | None = None, generation: int | None = None) -> None:
        """Remove what this agent made for Mission ``name``; ``state`` is what to report."""
        applied = self.applied.get(name)
        if applied is not None:
            log.info("removing the content of mission %s", name)
            for namespace, reason in self.content.remove(name, applied):
                self.store.put("kept", namespace, {"mission": name, "reason": reason})
            self._remember(name, None)
        if not self.commands.retire(name):
            return  # its reversecommand waits or runs; its end brings the Mission back here
        self.retry_at.pop(name, None)
        self.mission_retries.reset(name)
        if state is None:
            self.executed.pop(name, None)
            if self.own_states.pop(name, None) is not None:
                self.queue.add("report", self.cfg.report_delay_seconds)
        else:
            self._set_state(name, state, generation)

    def _set_state(self, name: str, state: str, generation: int | None) -> None:
        if self.own_states.get(name) != state or self.executed.get(name) != generation:
            self.own_states[name] = state
            if generation is None:
                self.executed.pop(name, None)
            else:
                self.executed[name] = generation
            self.queue.add("report", self.cfg.report_delay_seconds)

    # -- upward: report and heartbeat --------------------------------------------------------

    def _report_client(self) -> KubeClient:
        """The work loop's client of the parent, rebuilt after a token renewal."""
        settings = self.parent_settings
        if self.report_parent is None or self.report_parent[0] is not settings:
            if self.report_parent is not None:
                self.report_parent[1].close()
            self.report_parent = (settings, self.parent_client())
        return self.report_parent[1]

    def report(self) -> None:
        if self.parent_settings is None:
            return
        wait = self.reports_up.pause()
        if wait > 0:
            self.queue.add("report", wait)  # changes until then go into the same write
            return
        assert self.parent_missions is not None
        copies = {n: o for n, o in self.missions.snapshot().items() if is_copy(o)}
        own = {n: s for n, s in self.own_states.items() if n in copies}
        status = {n: o.get("status") or {} for n, o in copies.items()}
        generations = {
            n: caught_up(
                as_int(o["metadata"]["annotations"].get(names.PARENT_GENERATION_ANNOTATION)),
                as_int(o["metadata"].get("generation")),
                self.executed.get(n),
                as_int((o.get("status") or {}).get("observedGeneration")),
            )
            for n, o in copies.items()
        }
        for name, (generation, reason) in self.copy_failures.items():
            if name not in copies:  # refused here: nothing below this cluster has it either
                own[name], status[name], generations[name] = st.failed(reason), {}, generation
        missions = self.composer.compose(own, status, generations)
        try:
            self.reports_up.write(self._report_client(), missions)
        except ReportMissing as exc:
            log.warning("%s", exc)
            self.queue.add("report", 10.0)
        except (KubeError, OSError):
            self.report_parent = None  # a fresh connection for the retry
            raise

    def _heartbeat_client(self) -> KubeClient:
        if self.heartbeat_parent is None:
            self.heartbeat_parent = self.parent_client()
        return self.heartbeat_parent

    def heartbeat(self) -> None:
        """Keep this cluster's EdgeCluster on the parent current (the heartbeat thread)."""
        if self.parent_settings is None:
            return
        status = self._own_status()
        if not self.registered:
            # Registration: labels and spec of the EdgeCluster the parent created for us.
            self._apply_upward(
                names.edgecluster_path(self.cfg.cluster),
                "EdgeCluster",
                labels=dict(self.cfg.labels),
                spec={"kubeconfig": self.cfg.kubeconfig, "kubeDistro": self.cfg.kube_distro},
            )
            self.registered = True
        path = names.edgecluster_path(self.cfg.cluster, status=True)
        self._apply_upward(path, "EdgeCluster", status=status)

    def _apply_upward(
        self, path: str, kind: str, labels: dict[str, str] | None = None, **fields: Any
    ) -> None:
        """Server-side apply of this cluster's own object on the parent (all it may write)."""
        metadata: dict[str, Any] = {"name": self.cfg.cluster}
        if labels is not None:
            metadata["labels"] = labels
        body = {"apiVersion": names.API_VERSION, "kind": kind, "metadata": metadata, **fields}
        self._heartbeat_client().apply(
            path, body, field_manager=names.FIELD_MANAGER_AGENT, force=True
        )

    def _own_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "lastHeartbeat": now_rfc3339(),
            "subEdgeClusterStates": self._sub_states(),
            "agentVersion": VERSION,
        }
        copies = {n: o for n, o in self.missions.snapshot().items() if is_copy(o)}
        status["receivedMissions"] = sorted(copies)
        status["activeMissions"] = sorted(
            n for n, o in copies.items() if self._selects(o.get("spec"))
        )
        try:
            with KubeClient(self.local_settings, timeout=3, connect_retries=0) as probe:
                ready = probe.request("GET", "/readyz") == "ok"
                nodes = probe.get("/api/v1/nodes").get("items") or []
        except KubeError as exc:
            status["healthStatus"] = "unhealthy"
            status["message"] = f"own API server does not answer: {exc}"[:300]
            return status
        status["healthStatus"] = "healthy" if ready else "unhealthy"
        status["message"] = "" if ready else "own API server is not ready"
        status["nodes"] = sorted(n["metadata"]["name"] for n in nodes)
        status["edgeNodes"] = sorted(
            n["metadata"]["name"]
            for n in nodes
            if EDGE_NODE_LABEL in (n["metadata"].get("labels") or {})
        )
        return status

    def _sub_states(self) -> dict[str, str]:
        states: dict[str, str] = {}
        with self.lock:
            disconnected = set(self.disconnected)
        for child, obj in self.children.snapshot().items():
            status = obj.get("status") or {}
            if child in disconnected:
                states[child] = "disconnected"
                continue
            states[child] = status.get("healthStatus") or "unhealthy"
            for path, health in (status.get("subEdgeClusterStates") or {}).items():
                states[st.join_path(child, path)] = health
        return states

    def renew_token(self) -> None:
        """Replace the parent token once ``token_renew_after`` of its lifetime has passed.

        The child's identity may request tokens for itself only (docs/child-identity.md); the
        new token goes into the parent kubeconfig file, and new connections use it.
        """
        settings = self.parent_settings
        if settings is None or not settings.token or not self.cfg.token_renewal:
            return
        claims = child_link.token_claims(settings.token)
        issued, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued, int) or not isinstance(expires, int) or expires <= issued:
            return
        lifetime = expires - issued
        if time.time() < issued + lifetime * self.cfg.token_renew_after:
            return
        assert self.cfg.parent_kubeconfig is not None
        token, _expiry = child_link.issue_token(
            self._heartbeat_client(),
            self.cfg.cluster,
            token_ttl=max(lifetime, child_link.MIN_TOKEN_TTL),
        )
        # The one kubeconfig writer: only the current context's user, atomically, mode 0600.
        set_user_token(self.cfg.parent_kubeconfig, token)
        # New clients (this thread's now, the work loop's and the watch's at their next
        # connection) use the new token.
        self.parent_settings = settings_from_kubeconfig(self.cfg.parent_kubeconfig)
        self._drop_heartbeat_client()
        log.info("renewed the token on the parent (lifetime %d s)", lifetime)

    # -- the parent side: children and their reports --------------------------------------------

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
                        "status": {"healthStatus": "disconnected", "subEdgeClusterStates": None}
                    }
                    self.local.patch(names.edgecluster_path(child, status=True), patch)
        if changed:
            self._fold_all()
            self.beat.set()

    def fold_later(self, name: str, delay: float = 0.0) -> None:
        """Mark Mission ``name`` for folding; marks made before its turn merge into one fold."""
        with self.lock:
            self.fold_pending[name] = None
        self.queue.add("fold", delay)

    def fold(self) -> None:
        """Fold the marked Missions, a batch at a time, within the status write budget."""
        if not (self.missions.synced.is_set() and self.reports.synced.is_set()):
            self.queue.add("fold", RETRY_DELAY)
            return
        for _done in range(FOLD_BATCH):
            wait = self.status_writes.wait()
            if wait > 0:
                self.queue.add("fold", wait)
                return
            with self.lock:
                if not self.fold_pending:
                    return
                name = next(iter(self.fold_pending))
                del self.fold_pending[name]
            if not self.status_writer.busy(name):  # busy: folded again once its write lands
                try:
                    self.fold_one(name)
                except (KubeError, OSError):
                    self.fold_later(name, RETRY_DELAY)
                    raise
                except Exception as exc:  # one Mission's fold, not every other's
                    FAULTS.unexpected("fold", exc, name)
                    self.fold_later(name, self.mission_retries.next(("fold", name)))
                else:
                    self.mission_retries.reset(("fold", name))
        self.queue.add("fold")  # more may wait: let work of a higher class go first

    def _status_done(self, name: str, failed: bool) -> None:
        """From a status writer: ``name`` changed during its write, or the write failed."""
        self.fold_later(name, RETRY_DELAY if failed else 0.0)

    def fold_one(self, name: str) -> None:
        local = self.missions.get(name)
        if local is None:
            return
        with self.lock:
            views = {
                child: {
                    "connected": child not in self.disconnected,
                    "missions": self.reports_seen.get(child, {}),
                }
                for child in self.children.snapshot()
            }
        generation = as_int(local["metadata"].get("generation"))
        status = fold(name, views, self.cfg.max_paths, generation)
        status["contentKind"] = content_kind(local.get("spec"))
        current = self.status_writer.base(name, local)
        patch = merge_patch({k: current[k] for k in status if k in current}, status)
        if not patch:
            return
        self.status_writes.take()
        self.status_writer.submit(name, patch)

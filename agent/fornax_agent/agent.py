"""The cluster agent: one per cluster of the tree, made of three parts with one work queue.

| module | part | work keys |
| --- | --- | --- |
| downward.py | copy the parent's Missions, carry out the matching ones | ("copy", m), ("exec", m) |
| upward.py | this cluster's report and heartbeat on its parent | "report" (+ heartbeat thread) |
| parentside.py | children's heartbeats and reports, folded into Missions | "fold", "children" |
| mirrors.py | the spec mirrors children watch instead of the Missions | ("mirror", m) |

Every change arrives through a watch (an Informer) and becomes a key in one de-duplicating work
queue, handled by one worker thread, so bursts coalesce and no two handlers race. Work that
moves Missions down goes before work that reports up, and a cluster's own execution of a
Mission waits while the mirror that passes it on to the children is being written; so does the
report up (``REPORT_HOLD`` at most). The heartbeat and the token renewal have a thread of their
own, and commands a pool of their own (commands.py): nothing a Mission does can delay them.

Failure isolation: whatever goes wrong with one Mission becomes that Mission's
``failed: <reason>`` state (downward.py); an unexpected exception anywhere is logged with its
traceback once and counted (faults.py); no thread of the agent ends on one.

The root cluster has no parent: it only folds its children's reports. A cluster cut off from
its parent keeps its content and keeps serving its own children; when the parent answers again
the Mission watch re-lists and the differences are applied.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)

from .commands import MissionCommands, Runner
from .config import AgentConfig
from .downward import Downward, is_copy
from .faults import FAULTS
from .informer import Informer
from .mirrors import MirrorKeeper, ParentMissions
from .missioncache import LocalMissions
from .parentside import ParentSide
from .ratelimit import Backoff
from .store import Store
from .upward import Heartbeat, ParentLink, Reporter
from .workqueue import WorkQueue

RETRY_DELAY = 0.5
RETRY_MAX = 5.0  # seconds: the longest wait before retrying work after a transient error
# Work that moves Missions down the tree goes before work that reports up.
PRIORITY = {"copy": 0, "mirror": 0, "exec": 1, "report": 2, "fold": 3, "children": 4}
# Seconds a report waits at most for the mirror writes in flight (Missions passed on) to answer.
REPORT_HOLD = 0.1

log = logging.getLogger("fornax.agent")


def priority_of(key: Hashable) -> int:
    return PRIORITY[key[0] if isinstance(key, tuple) else key]


class Agent:
    def __init__(self, config: AgentConfig, stop: threading.Event | None = None) -> None:
        self.cfg = config
        self.stop = stop or threading.Event()
        self.queue = WorkQueue(priority=priority_of)
        self.store = Store(config.state_dir)
        self.local_settings = settings_from_kubeconfig(config.kubeconfig)
        self.link = ParentLink(config.parent_kubeconfig) if config.parent_kubeconfig else None
        self.retries = Backoff(RETRY_DELAY, RETRY_MAX)  # work that failed for a transient cause
        self.seen: dict[str, tuple[Any, Any]] = {}  # Mission -> (generation, parent generation)
        self.lock = threading.Lock()
        self.report_held: float | None = None  # when a report first waited for mirror writes
        self.missions = LocalMissions(
            "missions",
            self.local_client,
            names.MISSIONS,
            self._on_local_mission,
            on_sync=self._on_local_sync,
            stop=self.stop,
        )
        self.parent_missions = self._parent_missions()
        self.commands = self._commands()
        self.down = Downward(
            config,
            self.queue,
            client_factory=self.local_client,
            missions=self.missions,
            parent_missions=self.parent_missions,
            store=self.store,
            commands=self.commands,
            stop=self.stop,
            on_state=self._state_changed,
        )
        self.parent_side = self._parent_side()
        self.missions.known = self.parent_side.status_writer.known
        self.mirrors = MirrorKeeper(
            self.queue,
            client_factory=self.local_client,
            missions=self.missions,
            children=self.parent_side.children,
            stop=self.stop,
            on_idle=self._mirrors_idle,
        )
        self.reporter, self.heartbeat = self._upward()
        self.informers = [
            self.missions,
            self.parent_side.children,
            self.parent_side.reports,
            self.mirrors.informer,
        ]
        if self.parent_missions is not None:
            self.informers.append(self.parent_missions)
        self.handlers: dict[str, Callable[..., None]] = {
            "copy": self.down.copy,
            "exec": self._execute,
            "fold": self.parent_side.fold,
            "report": self._report,
            "children": self.parent_side.check_children,
            "mirror": self.mirrors.keep,
        }

    def _parent_side(self) -> ParentSide:
        return ParentSide(
            self.cfg,
            self.queue,
            client_factory=self.local_client,
            missions=self.missions,
            stop=self.stop,
            on_folded=self._folded if self.link is not None else None,
            on_news=self._news,
            on_children=self._children_changed,
        )

    def _upward(self) -> tuple[Reporter | None, Heartbeat | None]:
        if self.link is None:
            return None, None
        reporter = Reporter(
            self.cfg,
            self.queue,
            link=self.link,
            missions=self.missions,
            downward=self.down,
            parent_side=self.parent_side,
        )
        heartbeat = Heartbeat(
            self.cfg,
            self.link,
            local_settings=self.local_settings,
            missions=self.missions,
            downward=self.down,
            parent_side=self.parent_side,
            stop=self.stop,
        )
        return reporter, heartbeat

    def _parent_missions(self) -> Informer | None:
        if self.link is None:
            return None
        return ParentMissions(
            self.link.client,
            self._on_parent_mission,
            on_sync=self._on_parent_sync,
            stop=self.stop,
        )

    def _commands(self) -> MissionCommands:
        cfg = self.cfg
        return MissionCommands(
            allowed=cfg.allow_commands,
            runner=Runner(
                cfg.command_timeout_seconds,
                cfg.kubectl,
                cfg.command_kubeconfig or cfg.kubeconfig,
                cfg.user,
            ),
            workers=cfg.command_workers,
            queue_size=cfg.command_queue,
            statecheck_interval=cfg.statecheck_interval_seconds,
            records={k: v for k, v in self.store.get("commands").items() if isinstance(v, dict)},
            persist=lambda name, record: self.store.put("commands", name, record),
            wake=lambda name, delay: self.queue.add(("exec", name), delay),
            stop=self.stop,
        )

    def local_client(self) -> KubeClient:
        return KubeClient(
            self.local_settings, timeout=10, connect_retries=1, user_agent="fornax-agent"
        )

    # -- wiring between the parts ------------------------------------------------------------

    def _state_changed(self) -> None:
        if self.reporter is not None:
            self.reporter.later()

    def _folded(self, _name: str) -> None:
        if self.reporter is not None:
            self.reporter.later()

    def _children_changed(self) -> None:
        self.mirrors.children_changed()

    def _news(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.news()

    def _report(self) -> None:
        """Write the report up, after the mirror writes in flight (REPORT_HOLD at most).

        Passing a Mission on goes before reporting it: the report of a fresh copy would reach
        the parent (and the parent's fold its Mission) while the copy's mirror is being written
        for the children, on the same cores when clusters share a machine. The report waits for
        those answers (``_mirrors_idle`` asks for it again), never longer than REPORT_HOLD, so a
        burst that keeps mirrors in flight does not starve it. A leaf writes no mirrors.
        """
        if self.reporter is None:
            return
        if self.mirrors.passing_any():
            now = time.monotonic()
            if self.report_held is None:
                self.report_held = now
            if now - self.report_held < REPORT_HOLD:
                self.queue.add("report", self.report_held + REPORT_HOLD - now)
                return
        self.report_held = None
        self.reporter.report()

    def _mirrors_idle(self) -> None:
        if self.report_held is not None:  # a report waits: it goes now
            self.queue.add("report")

    def _execute(self, name: str) -> None:
        # Passing a Mission on goes first: its execution here waits for the mirror write in
        # flight (one round trip) instead of slowing it down.
        if not self.mirrors.passing_on(name, lambda: self.queue.add(("exec", name))):
            self.down.execute(name)

    # -- events (informer threads: only queue work) -----------------------------------------

    def _on_local_mission(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        name = meta["name"]
        annotations = meta.get("annotations") or {}
        marks = (meta.get("generation"), annotations.get(names.PARENT_GENERATION_ANNOTATION))
        self.queue.add(("mirror", name))  # labels change no generation: the keeper compares
        with self.lock:
            if kind == "DELETED":
                self.seen.pop(name, None)
            elif self.seen.get(name) == marks:
                return  # a status write (ours): the fold already went up, nothing to do here
            else:
                self.seen[name] = marks
        if self.link is not None:
            self.queue.add(("exec", name))
        self.parent_side.mission_event(name, kind == "DELETED")
        self._state_changed()

    def _on_local_sync(self) -> None:
        # Compare every local copy with the parent once both are listed: a copy whose Mission
        # was deleted upstream while this agent was down has no upstream event to bring it up.
        self.down.listed()
        if self.link is not None:
            for name, obj in self.missions.snapshot().items():
                if is_copy(obj):
                    self.queue.add(("copy", name))
            self.queue.add("report")  # none was written before this list

    def _on_parent_mission(self, _kind: str, obj: dict[str, Any]) -> None:
        self.queue.add(("copy", obj["metadata"]["name"]))

    def _on_parent_sync(self) -> None:
        assert self.parent_missions is not None
        self.down.listed()
        for name in set(self.parent_missions.snapshot()) | set(self.missions.snapshot()):
            self.queue.add(("copy", name))
        if self.reporter is not None:
            self.reporter.forget()
        if self.heartbeat is not None:
            self.heartbeat.reconnected()

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        for informer in self.informers:
            informer.start()
        self.down.start()
        threading.Thread(target=self._ticker, name="ticker", daemon=True).start()
        if self.heartbeat is not None:
            threading.Thread(target=self.heartbeat.run, name="heartbeat", daemon=True).start()
        for name in self.commands.records:  # reverse commands a restart interrupted
            self.queue.add(("exec", name))

    def run_forever(self) -> None:
        self.start()
        log.info(
            "agent of cluster %s started (parent: %s)",
            self.cfg.cluster,
            self.link.settings.server if self.link else "none, root",
        )
        while not self.stop.is_set():
            key = self.queue.get(timeout=0.5)
            if key is not None:
                self.handle(key)
        self.parent_side.close()
        self.mirrors.close()
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
                    self._resync()
            except Exception as exc:
                FAULTS.unexpected("ticker", exc)

    def _resync(self) -> None:
        for name, obj in self.missions.snapshot().items():
            if is_copy(obj) and self.link is not None:
                self.queue.add(("exec", name))
        self.parent_side.fold_all()

"""Up the tree: this cluster's report and heartbeat on its parent, and the parent token.

- ``Reporter`` (the work loop's ``"report"`` key) composes every Mission's entry from this
  cluster's own state and its subtree's folded status (taken straight from the fold, not read
  back from this cluster's API server) and writes what changed, in shards (report.py).
- ``Heartbeat`` (a thread of its own, so no Mission can delay it) keeps this cluster's
  EdgeCluster status on the parent: every ``heartbeat_seconds``, and sooner only when what it
  says changed (a child's health, a sub-cluster, a Mission received); renews the token.

Each keeps one long-lived client per API server (a client holds a TLS connection): nothing is
rebuilt per beat or per report, only after a failure or a token renewal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import child_link, names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.nodes import EDGE_NODE_LABEL
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.rollup import (
    ReportComposer,
    caught_up,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (
    set_user_token,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.timestamps import rfc3339

from .downward import Downward, is_copy
from .faults import FAULTS
from .informer import Informer
from .parentside import ParentSide, as_int
from .report import ReportMissing, ReportWriter
from .workqueue import WorkQueue

VERSION = "0.1.0"
log = logging.getLogger("fornax.agent")


class ParentLink:
    """The parent's connection settings; replaced when the token is renewed."""

    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.settings = settings_from_kubeconfig(kubeconfig)

    def client(self) -> KubeClient:
        return KubeClient(self.settings, timeout=10, connect_retries=1, user_agent="fornax-agent")

    def reload(self) -> None:
        self.settings = settings_from_kubeconfig(self.kubeconfig)


class Kept:
    """One long-lived client, rebuilt only after a failure or when its settings change."""

    def __init__(self, make: Callable[[], KubeClient], version: Callable[[], Any]) -> None:
        self.make = make
        self.version = version
        self.held: tuple[Any, KubeClient] | None = None

    def get(self) -> KubeClient:
        version = self.version()
        if self.held is None or self.held[0] is not version:
            self.drop()
            self.held = (version, self.make())
        return self.held[1]

    def drop(self) -> None:
        if self.held is not None:
            self.held[1].close()
            self.held = None


class Reporter:
    def __init__(
        self,
        config: Any,
        queue: WorkQueue,
        *,
        link: ParentLink,
        missions: Informer,
        downward: Downward,
        parent_side: ParentSide,
    ) -> None:
        self.cfg = config
        self.queue = queue
        self.missions = missions
        self.downward = downward
        self.parent_side = parent_side
        self.writer = ReportWriter(config.cluster)
        self.composer = ReportComposer(config.cluster, config.max_paths)
        self.client = Kept(link.client, lambda: link.settings)

    def later(self) -> None:
        """Something in the report changed: write it, at once when it is a lone change on an
        idle writer, else after the coalescing window (report_delay_seconds)."""
        self.writer.changed()
        self.queue.add("report", 0.0 if self.writer.idle() else self.cfg.report_delay_seconds)

    def forget(self) -> None:
        """The parent may have lost or missed writes: diff afresh."""
        self.writer.forget()
        self.queue.add("report")

    def missions_now(self) -> dict[str, Any]:
        """Every Mission's entry of this cluster's report, as it stands."""
        down = self.downward
        copies = {n: o for n, o in self.missions.snapshot().items() if is_copy(o)}
        own = {n: s for n, s in down.own_states.items() if n in copies}
        status = {}
        generations = {}
        for name, obj in copies.items():
            folded = self.parent_side.status_of(name)
            status[name] = folded if folded is not None else (obj.get("status") or {})
            meta = obj["metadata"]
            generations[name] = caught_up(
                as_int(meta["annotations"].get(names.PARENT_GENERATION_ANNOTATION)),
                as_int(meta.get("generation")),
                down.executed.get(name),
                as_int(status[name].get("observedGeneration")),
            )
        for name, (generation, reason) in down.copy_failures.items():
            if name not in copies:  # refused here: nothing below this cluster has it either
                own[name], status[name], generations[name] = st.failed(reason), {}, generation
        return self.composer.compose(own, status, generations)

    def report(self) -> None:
        if not self.missions.synced.is_set():
            # This cluster's Missions are not listed yet (an agent just started): a report now
            # would tell the parent there are none. Their list asks for it (_on_local_sync).
            return
        wait = self.writer.pause()
        if wait > 0:
            self.queue.add("report", wait)  # changes until then go into the same write
            return
        missions = self.missions_now()
        try:
            self.writer.write(self.client.get(), missions, lambda: self.queue.due_before("report"))
        except ReportMissing as exc:
            log.warning("%s", exc)
            self.queue.add("report", 10.0)
        except (KubeError, OSError):
            self.client.drop()  # a fresh connection for the retry
            raise
        if self.writer.unfinished:
            self.queue.add("report")  # the rest of the round, after the more urgent work


class Heartbeat:
    def __init__(
        self,
        config: Any,
        link: ParentLink,
        *,
        local_settings: Any,
        missions: Informer,
        downward: Downward,
        parent_side: ParentSide,
        stop: threading.Event,
    ) -> None:
        self.cfg = config
        self.link = link
        self.missions = missions
        self.downward = downward
        self.parent_side = parent_side
        self.stop = stop
        self.beat = threading.Event()  # wakes the thread before its period is over
        self.registered = False
        self.sent: dict[str, Any] | None = None  # the status last sent, without its time
        self.beats = 0
        self.parent = Kept(link.client, lambda: link.settings)
        self.probe = Kept(
            lambda: KubeClient(local_settings, timeout=3, connect_retries=0), lambda: None
        )

    def news(self) -> None:
        """Something the heartbeat says may have changed: tell the parent soon."""
        self.beat.set()

    def reconnected(self) -> None:
        self.registered = False
        self.sent = None
        self.beat.set()

    def run(self) -> None:
        """Renew the token when due, then beat: every period, and soon after a change."""
        due = time.monotonic()
        failing = False
        while not self.stop.is_set():
            if self.beat.wait(max(0.0, due - time.monotonic())):
                self.stop.wait(self.cfg.report_delay_seconds)  # let a burst of changes settle
            self.beat.clear()
            if self.stop.is_set():
                return
            periodic = time.monotonic() >= due
            try:
                self.renew_token()
                if self.heartbeat(force=periodic):
                    due = time.monotonic() + self.cfg.heartbeat_seconds
            except (KubeError, OSError) as exc:
                if not failing:  # once per outage, not once per period
                    log.warning("heartbeat to the parent failed (retrying every beat): %s", exc)
                failing = True
                self._failed()
                due = time.monotonic() + self.cfg.heartbeat_seconds
            except Exception as exc:
                FAULTS.unexpected("heartbeat", exc)
                self._failed()
                due = time.monotonic() + self.cfg.heartbeat_seconds
            else:
                if failing:
                    log.info("heartbeat to the parent works again")
                failing = False

    def _failed(self) -> None:
        self.parent.drop()
        self.sent = None

    def heartbeat(self, force: bool = True) -> bool:
        """Send this cluster's EdgeCluster status; unless ``force``, only when it changed."""
        status = self.own_status()
        same = {k: v for k, v in status.items() if k != "lastHeartbeat"}
        if not force and self.registered and same == self.sent:
            return False
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
        self.sent = same
        self.beats += 1
        return True

    def _apply_upward(
        self, path: str, kind: str, labels: dict[str, str] | None = None, **fields: Any
    ) -> None:
        """Server-side apply of this cluster's own object on the parent (all it may write)."""
        metadata: dict[str, Any] = {"name": self.cfg.cluster}
        if labels is not None:
            metadata["labels"] = labels
        body = {"apiVersion": names.API_VERSION, "kind": kind, "metadata": metadata, **fields}
        self.parent.get().apply(path, body, field_manager=names.FIELD_MANAGER_AGENT, force=True)

    def own_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "lastHeartbeat": rfc3339(),
            "subEdgeClusterStates": self.parent_side.sub_states(),
            "agentVersion": VERSION,
        }
        copies = {n: o for n, o in self.missions.snapshot().items() if is_copy(o)}
        status["receivedMissions"] = sorted(copies)
        status["activeMissions"] = sorted(
            n for n, o in copies.items() if self.downward.selects(o.get("spec"))
        )
        status.update(self._own_health())
        return status

    def _own_health(self) -> dict[str, Any]:
        try:
            probe = self.probe.get()
            ready = probe.request("GET", "/readyz") == "ok"
            nodes = probe.get("/api/v1/nodes").get("items") or []
        except KubeError as exc:
            self.probe.drop()
            return {
                "healthStatus": names.UNHEALTHY,
                "message": f"own API server does not answer: {exc}"[:300],
            }
        return {
            "healthStatus": names.HEALTHY if ready else names.UNHEALTHY,
            "message": "" if ready else "own API server is not ready",
            "nodes": sorted(n["metadata"]["name"] for n in nodes),
            "edgeNodes": sorted(
                n["metadata"]["name"]
                for n in nodes
                if EDGE_NODE_LABEL in (n["metadata"].get("labels") or {})
            ),
        }

    def renew_token(self) -> None:
        """Replace the parent token once ``token_renew_after`` of its lifetime has passed.

        The child's identity may request tokens for itself only (docs/child-identity.md); the
        new token goes into the parent kubeconfig file, and new connections use it.
        """
        settings = self.link.settings
        if not settings.token or not self.cfg.token_renewal:
            return
        claims = child_link.token_claims(settings.token)
        issued, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued, int) or not isinstance(expires, int) or expires <= issued:
            return
        lifetime = expires - issued
        if time.time() < issued + lifetime * self.cfg.token_renew_after:
            return
        token, _expiry = child_link.issue_token(
            self.parent.get(),
            self.cfg.cluster,
            token_ttl=max(lifetime, child_link.MIN_TOKEN_TTL),
        )
        # The one kubeconfig writer: only the current context's user, atomically, mode 0600.
        set_user_token(self.link.kubeconfig, token)
        # New clients (this thread's now, the work loop's and the watch's at their next
        # connection) use the new token.
        self.link.reload()
        log.info("renewed the token on the parent (lifetime %d s)", lifetime)

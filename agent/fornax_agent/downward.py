"""Down the tree: copy the parent's Missions here, and carry out those that select this cluster.

Work keys (one de-duplicating queue, see agent.py): ``("copy", m)`` brings the local copy of
Mission ``m`` to the parent's; ``("exec", m)`` applies, restores or removes its content and
runs its commands. Whatever goes wrong with one Mission becomes its ``failed: <reason>`` state,
retried after a backoff of its own; ``on_state`` tells the report up that a state changed.

Content objects are watched (one informer per kind, label ``edgeclusters.kubeedge.io/mission``):
a change wakes the Mission, and ``inspect`` reads the objects from these caches, not from the
API server (see content.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.mission_spec import (
    placement_problem,
    spec_problem,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.placement import (
    placement_matches,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.resource import (
    ManifestError,
    load_manifests,
)

from .commands import MissionCommands
from .content import Applied, Content, MissionFailure
from .faults import FAULTS, describe
from .informer import Informer
from .parentside import as_int
from .ratelimit import Backoff
from .store import Store
from .workqueue import WorkQueue

log = logging.getLogger("fornax.agent")
RETRY_DELAY = 0.5
MISSION_RETRY_MAX = 60.0  # seconds: the longest wait before retrying a failed Mission


def is_copy(mission: dict[str, Any] | None) -> bool:
    annotations = ((mission or {}).get("metadata") or {}).get("annotations") or {}
    return names.COPIED_FROM_ANNOTATION in annotations


def object_key(path: str) -> tuple[str, str] | None:
    """(``apiVersion|plural``, informer key) of an object path, None when it is not one."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        api_version, rest = "v1", parts[2:]
    elif len(parts) > 3 and parts[0] == "apis":
        api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        return None
    if len(rest) == 4 and rest[0] == "namespaces":
        return f"{api_version}|{rest[2]}", f"{rest[1]}/{rest[3]}"
    if len(rest) == 2:
        return f"{api_version}|{rest[0]}", rest[1]
    return None


class Downward:
    def __init__(
        self,
        config: Any,
        queue: WorkQueue,
        *,
        client_factory: Callable[[], KubeClient],
        missions: Informer,
        parent_missions: Informer | None,
        store: Store,
        commands: MissionCommands,
        stop: threading.Event,
        on_state: Callable[[], None],
    ) -> None:
        self.cfg = config
        self.queue = queue
        self.client_factory = client_factory
        self.local = client_factory()
        self.missions = missions
        self.parent_missions = parent_missions
        self.store = store
        self.commands = commands
        self.stop = stop
        self.on_state = on_state  # a state or a copy failure changed: report it up
        self.content = Content(self.local, config.cluster, config.policy, self.cached)
        self.content_informers: dict[str, Informer] = {}
        self.applied = self._stored_records()
        self.mission_retries = Backoff(RETRY_DELAY, MISSION_RETRY_MAX)  # failed Missions
        self.retry_at: dict[str, tuple[int, float]] = {}  # Mission -> (generation, retry when)
        self.copy_failures: dict[str, tuple[int, str]] = {}  # Mission -> (parent gen, reason)
        self.own_states: dict[str, str] = {}
        self.executed: dict[str, int] = {}  # Mission -> local generation its state is for
        self.deferred: set[tuple[str, str]] = set()  # work that came before the watches listed
        self.deferred_lock = threading.Lock()

    def _stored_records(self) -> dict[str, Applied]:
        """What the store says was applied; an unreadable record is dropped, not fatal."""
        records = {}
        for name, data in self.store.get("applied").items():
            try:
                records[name] = Applied.from_json(data)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("stored record of mission %s is unreadable, dropped: %r", name, exc)
        return records

    # -- content watches -------------------------------------------------------------------------

    def start(self) -> None:
        self.watch_kinds({k for a in self.applied.values() for k in a.kinds})

    def watch_kinds(self, kinds: set[str]) -> None:
        for kind in kinds:
            if kind in self.content_informers:
                continue
            api_version, plural = kind.split("|")
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            informer = Informer(
                f"content-{plural}",
                self.client_factory,
                f"{prefix}/{plural}",
                self.on_content,
                label_selector=names.MISSION_LABEL,
                stop=self.stop,
            )
            self.content_informers[kind] = informer
            informer.start()

    def cached(self, path: str) -> tuple[bool, dict[str, Any] | None]:
        """(known, object) of a content object from the watches; known False: not watched yet."""
        key = object_key(path)
        informer = self.content_informers.get(key[0]) if key else None
        if key is None or informer is None or not informer.synced.is_set():
            return False, None
        return True, informer.get(key[1])

    def on_content(self, _kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        mission = (meta.get("labels") or {}).get(names.MISSION_LABEL)
        if (
            mission
            and (meta.get("annotations") or {}).get(names.APPLIED_BY_ANNOTATION) == self.cfg.cluster
        ):
            self.queue.add(("exec", mission))

    def _defer(self, key: tuple[str, str]) -> None:
        """``key`` came before the watches it reads listed: run it again when they have
        (``listed``), or after RETRY_DELAY at the latest."""
        with self.deferred_lock:
            self.deferred.add(key)
        self.queue.add(key, RETRY_DELAY)

    def listed(self) -> None:
        """A watch of Missions (here or the parent's) has listed: deferred work goes now."""
        with self.deferred_lock:
            keys, self.deferred = self.deferred, set()
        for key in keys:
            self.queue.add(key)

    # -- copy ------------------------------------------------------------------------------------

    def copy(self, name: str) -> None:
        assert self.parent_missions is not None
        if not (self.parent_missions.synced.is_set() and self.missions.synced.is_set()):
            self._defer(("copy", name))
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
            _left_alone(name)
            return
        desired = self.copy_of(upstream)
        if local is not None and self.same_copy(local, desired):
            self._copied(name)
            return
        version = None if local is None else local["metadata"].get("resourceVersion")
        self._write_copy(name, desired, as_int(upstream["metadata"].get("generation")), version)

    def _write_copy(
        self, name: str, desired: dict[str, Any], generation: int, version: str | None
    ) -> None:
        """Create the copy, or replace it whole: the agent alone writes a copy (its status
        aside), a create is refused if a Mission of that name appeared here meanwhile, and
        both cost this API server less than an apply (docs/agent.md, "Writes on the path")."""
        log.info("copying mission %s (parent generation %s)", name, generation)
        try:
            written = self.local.write_whole(names.MISSIONS, desired, version, is_copy)
        except KubeApiError as exc:
            if exc.transient:
                raise
            # This cluster refuses the Mission (its CRD is stricter than the parent's): a
            # failure of that Mission, reported up, retried with its own backoff.
            delay = self.mission_retries.next(("copy", name))
            self.copy_failures[name] = (generation, f"copy refused by this cluster: {exc.message}")
            self.queue.add(("copy", name), delay)
            self.on_state()
            return
        if written is None:
            _left_alone(name)
            return
        # The copy takes effect now (its mirror for the children, its execution here), not
        # when this agent's own watch brings it back a few milliseconds later.
        self.missions.offer(written)
        self._copied(name)

    def _copied(self, name: str) -> None:
        self.mission_retries.reset(("copy", name))
        if self.copy_failures.pop(name, None) is not None:
            self.on_state()

    def copy_of(self, upstream: dict[str, Any]) -> dict[str, Any]:
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
    def same_copy(local: dict[str, Any], desired: dict[str, Any]) -> bool:
        meta, want = local.get("metadata") or {}, desired["metadata"]
        annotations = meta.get("annotations") or {}
        return (
            local.get("spec") == desired["spec"]
            and (meta.get("labels") or {}) == want["labels"]
            and all(annotations.get(k) == v for k, v in want["annotations"].items())
        )

    # -- execute ---------------------------------------------------------------------------------

    def execute(self, name: str) -> None:
        if not self.missions.synced.is_set():
            self._defer(("exec", name))
            return
        local = self.missions.get(name)
        if local is None or not is_copy(local):
            self.retire(name)
            return
        generation = as_int(local["metadata"].get("generation"))
        if self._backing_off(name, generation):
            return
        state = self._attempt(name, local, generation)
        if state is None:
            return  # failed, no longer selects this cluster, or waits for a reversecommand
        self.retry_at.pop(name, None)
        self.mission_retries.reset(name)
        self.set_state(name, state, generation)

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
        if not self.selects(spec):
            self.retire(name, st.NOT_MATCH, generation)
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

    def selects(self, spec: Any) -> bool:
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
        self.set_state(name, state, generation)

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
        self.watch_kinds(set(applied.kinds))

    def retire(self, name: str, state: str | None = None, generation: int | None = None) -> None:
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
                self.on_state()
        else:
            self.set_state(name, state, generation)

    def set_state(self, name: str, state: str, generation: int | None) -> None:
        if self.own_states.get(name) != state or self.executed.get(name) != generation:
            self.own_states[name] = state
            if generation is None:
                self.executed.pop(name, None)
            else:
                self.executed[name] = generation
            self.on_state()


def _left_alone(name: str) -> None:
    """A local Mission that is not a copy shares the parent's Mission's name: never replaced."""
    log.warning("mission %s exists locally and was not copied: left alone", name)

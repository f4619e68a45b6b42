"""A Mission's content in this cluster: check it, apply it, restore it, remove what it made.

Rules, in the order they are applied:

1. **Rights.** Every object of the content is looked up (API discovery gives its resource,
   group and scope) and checked against the cluster's grant (``MissionPolicy.problem``) before
   anything is applied; one refused object refuses the whole Mission
   (``not allowed here: <kind>/<namespace> ...``).
2. **Ownership.** An object belongs to exactly one Mission: it carries the Mission's name
   (label ``edgeclusters.kubeedge.io/mission``) and the applying cluster (annotation
   ``applied-by``). An object that exists without this cluster's mark is left alone; one that
   belongs to another Mission is not taken over (``<kind>/<ns>/<name> belongs to Mission
   <other>``). Again nothing is applied.
3. **A record before the apply.** What is about to be applied is recorded first (persisted by
   the agent), and what was applied as it goes, so when the 2nd of several objects fails, the
   1st is known: a later apply that no longer names it, or the Mission's deletion, removes it.
4. **Removal** deletes only objects that carry this Mission's and this cluster's marks. A
   Namespace the Mission created is deleted only when it holds nothing else: every object in
   it is the Mission's, depends on another object (ownerReferences: pods of a Deployment), or
   is one the cluster makes in every namespace. Otherwise it stays, and says why in its
   ``edgeclusters.kubeedge.io/kept`` annotation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import states as st
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.policy import MissionPolicy
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
    resource_path,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.resource import (
    Discovery,
    ResourceInfo,
    UnknownKind,
)

log = logging.getLogger("fornax.agent.content")

NOT_YET = -1  # in a record: an object about to be applied (its generation is not known yet)
NAMESPACES = "/api/v1/namespaces/"
# Objects the cluster itself creates in every namespace, and kinds that only record history.
AUTOMATIC_OBJECTS = {("serviceaccounts", "", "default"), ("configmaps", "", "kube-root-ca.crt")}
SKIPPED_KINDS = {("events", ""), ("events", "events.k8s.io")}


class MissionFailure(Exception):
    """This Mission cannot be carried out here; the message is the reason its state gives."""


class ContentConflict(MissionFailure):
    """An object of the content exists and belongs to someone else: it is left alone."""


class NotAllowed(MissionFailure):
    """An object of the content is outside the rights this cluster grants Missions."""


@dataclass
class Applied:
    """What the agent applied for one Mission (persisted across restarts).

    ``complete`` is False while an apply is under way or after one stopped half-way: the
    record then holds everything that may exist (the previous objects and those about to be
    applied), so that removal finds them all.
    """

    generation: int
    objects: dict[str, int] = field(default_factory=dict)  # object path -> metadata.generation
    kinds: list[str] = field(default_factory=list)  # "apiVersion|plural" of the objects
    complete: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "objects": self.objects,
            "kinds": self.kinds,
            "complete": self.complete,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Applied:
        return cls(
            int(data["generation"]),
            {str(k): int(v) for k, v in dict(data["objects"]).items()},
            list(data.get("kinds") or []),
            bool(data.get("complete", True)),
        )


@dataclass(frozen=True)
class Planned:
    """One object of the content, with where it goes."""

    obj: dict[str, Any]
    info: ResourceInfo
    namespace: str | None
    path: str

    @property
    def kind_key(self) -> str:
        return f"{self.info.api_version}|{self.info.plural}"

    @property
    def label(self) -> str:
        name = self.obj["metadata"]["name"]
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.info.kind}/{where}{name}"


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def marks(obj: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(the Mission label, the applied-by annotation) of a live object."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return labels.get(names.MISSION_LABEL), annotations.get(names.APPLIED_BY_ANNOTATION)


def owned_by(obj: Mapping[str, Any], mission: str, cluster: str) -> bool:
    return marks(obj) == (mission, cluster)


def is_namespace_path(path: str) -> bool:
    return path.startswith(NAMESPACES) and "/" not in path[len(NAMESPACES) :]


def _string_map(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


Cache = Callable[[str], tuple[bool, "dict[str, Any] | None"]]


def _generation(obj: Mapping[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 0)


class Content:
    def __init__(
        self,
        client: KubeClient,
        cluster: str,
        policy: MissionPolicy,
        cached: Cache | None = None,
    ) -> None:
        """``cached(path)``: (known, object) from the agent's watches of content (known False
        where a kind is not watched yet); without it every read goes to the API server."""
        self.client = client
        self.cluster = cluster
        self.policy = policy
        self.discovery = Discovery(client)
        self.cached = cached
        self.answers: dict[str, dict[str, Any]] = {}  # path -> the object as our apply left it
        self.reads = 0  # objects read from the API server (tests read it)

    def marked(self, mission: str, obj: dict[str, Any]) -> dict[str, Any]:
        """The object with the marks that say which Mission and which agent made it."""
        marked = dict(obj)
        meta = dict(marked.get("metadata") or {})
        meta["labels"] = {
            **(meta.get("labels") or {}),
            names.MISSION_LABEL: mission,
            names.MANAGED_BY_LABEL: names.MANAGED_BY,
        }
        meta["annotations"] = {
            **(meta.get("annotations") or {}),
            names.APPLIED_BY_ANNOTATION: self.cluster,
        }
        marked["metadata"] = meta
        return marked

    # -- before anything is applied ---------------------------------------------------------

    def plan(self, objects: list[dict[str, Any]]) -> list[Planned]:
        """Every object with its resource and place, each checked against the grant."""
        planned = []
        for index, obj in enumerate(objects):
            meta = obj["metadata"]
            for name in ("labels", "annotations"):
                if meta.get(name) is not None and not _string_map(meta[name]):
                    raise MissionFailure(
                        f"spec.missionresource document {index + 1}: metadata.{name} must map "
                        "strings to strings"
                    )
            try:
                info = self.discovery.lookup(obj["apiVersion"], obj["kind"])
            except UnknownKind as exc:
                raise MissionFailure(str(exc)) from exc
            namespace = (meta.get("namespace") or "default") if info.namespaced else None
            problem = self.policy.problem(obj, info.plural, group_of(info.api_version), namespace)
            if problem:
                raise NotAllowed(problem)
            path = resource_path(info.api_version, info.plural, meta["name"], namespace)
            planned.append(Planned(obj, info, namespace, path))
        return planned

    def check_owners(self, mission: str, planned: list[Planned]) -> None:
        """Refuse (ContentConflict) when an object exists and is not this Mission's.

        An object the watch of its kind holds with this Mission's and this cluster's marks is
        this Mission's: no read. Any other is read from the API server, since the watches see
        only objects with a Mission's label and cannot tell that a stranger's is absent.
        """
        for item in planned:
            if self._known_as(mission, item.path):
                continue
            self.reads += 1
            live = self.client.get_or_none(item.path)
            if live is None:
                continue
            label, applied_by = marks(live)
            if applied_by != self.cluster or not label:
                raise ContentConflict(
                    f"{item.label} exists and was not created by Fornax on {self.cluster}: "
                    "left alone"
                )
            if label != mission:
                raise ContentConflict(f"{item.label} belongs to Mission {label}")

    def _known_as(self, mission: str, path: str) -> bool:
        known, live = self.cached(path) if self.cached else (False, None)
        return bool(known and live is not None and owned_by(live, mission, self.cluster))

    # -- applying ---------------------------------------------------------------------------

    def apply(
        self,
        mission: str,
        generation: int,
        objects: list[dict[str, Any]],
        previous: Applied | None,
        record: Callable[[Applied], None],
    ) -> Applied:
        """Apply every object, or none when one is refused; ``record`` persists progress.

        On a failure half-way the record keeps what may exist and MissionFailure (or, for a
        transient error, the KubeError) is raised; the next apply or the removal cleans up.
        """
        planned = self.plan(objects)
        self.check_owners(mission, planned)
        kinds = list(
            dict.fromkeys([p.kind_key for p in planned] + list(previous.kinds if previous else []))
        )
        progress = Applied(
            generation,
            {**(previous.objects if previous else {}), **{p.path: NOT_YET for p in planned}},
            kinds,
            complete=False,
        )
        record(progress)
        done: dict[str, int] = {}
        for item in planned:
            try:
                result = self.client.apply(
                    item.path,
                    self.marked(mission, item.obj),
                    field_manager=names.FIELD_MANAGER_AGENT,
                    force=True,
                )
            except KubeApiError as exc:
                record(progress)
                if exc.transient:
                    raise
                note = f" ({len(done)} applied before it, removed with the Mission)"
                raise MissionFailure(f"{item.label}{note if done else ''}: {exc.message}") from exc
            generation_now = _generation(result or {})
            done[item.path] = progress.objects[item.path] = generation_now
            if isinstance(result, dict):
                self.answers[item.path] = result
        if previous is not None:
            self.remove(mission, previous, keep=set(done))
        return Applied(generation, done, list(dict.fromkeys(p.kind_key for p in planned)))

    def inspect(self, applied: Applied) -> tuple[bool, str]:
        """(drifted, state) from one look at every object we made.

        Drifted: an object is gone, or someone changed its spec since our apply (generation).
        Each object is read from the watch's cache, or from our apply's answer while the watch
        has not caught up with it; from the API server only when neither knows it (a kind not
        watched yet, an object the cache lacks and no fresh answer stands for).
        """
        drifted = False
        states = []
        for path, generation in applied.objects.items():
            live = self._look(path, generation)
            if live is None or _generation(live) != generation:
                drifted = True
            states.append(st.object_state(live) if live else st.PENDING)
        return drifted, st.combine(states)

    def _look(self, path: str, generation: int) -> dict[str, Any] | None:
        known, live = self.cached(path) if self.cached else (False, None)
        if known and live is not None and _generation(live) >= generation:
            self.answers.pop(path, None)  # the watch has caught up with our apply
            return live
        # Not in the cache (not seen by the watch yet, or gone since): the answer serves once,
        # right after our apply; after that the server is asked. Older in the cache: the
        # answer serves until the watch catches up.
        answer = self.answers.pop(path, None) if known and live is None else self.answers.get(path)
        if answer is not None and _generation(answer) == generation:
            return answer
        self.reads += 1
        return self.client.get_or_none(path)

    def state(self, applied: Applied) -> str:
        return self.inspect(applied)[1]

    # -- removing ---------------------------------------------------------------------------

    def remove(
        self, mission: str, applied: Applied, keep: set[str] | None = None
    ) -> list[tuple[str, str]]:
        """Delete what ``applied`` lists (but ``keep``) that carries this Mission's marks.

        Namespaces go last, and only when empty of anything else; returns (namespace, reason)
        for those left standing.
        """
        kept = []
        paths = [p for p in applied.objects if not (keep and p in keep)]
        for path in sorted(paths, key=is_namespace_path):
            self.answers.pop(path, None)
            live = self.client.get_or_none(path)
            if live is None or not owned_by(live, mission, self.cluster):
                continue
            if is_namespace_path(path):
                reason = self._namespace_kept(mission, live, applied)
                if reason:
                    kept.append((live["metadata"]["name"], reason))
                    continue
            try:
                self.client.delete(path, propagation="Background")
            except KubeApiError as exc:
                if exc.status != 404:
                    raise
        return kept

    def _namespace_kept(self, mission: str, live: dict[str, Any], applied: Applied) -> str | None:
        """Why Namespace ``live`` must stay (None: it holds only what the Mission made)."""
        meta = live.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return None
        namespace = meta["name"]
        other = self.foreign_object(mission, namespace, applied)
        if other is None:
            return None
        reason = f"namespace {namespace} kept: {other}"
        log.warning("%s", reason)
        try:
            self.client.patch(
                f"{NAMESPACES}{namespace}",
                {"metadata": {"annotations": {names.KEPT_ANNOTATION: reason}}},
            )
        except KubeApiError as exc:  # the note is a courtesy; the namespace stays either way
            log.warning("could not annotate namespace %s: %s", namespace, exc)
        return reason

    def foreign_object(self, mission: str, namespace: str, applied: Applied) -> str | None:
        """Why ``namespace`` holds more than Mission ``mission`` made (None: it does not): the
        first object of someone else's.

        Kinds this agent may not list count as holding something: what cannot be seen is kept.
        """
        services = {
            p.rsplit("/", 1)[1] for p in applied.objects if "/services/" in p
        }  # their Endpoints are the cluster's
        for info in self.discovery.resources(namespaced=True, verb="list", refresh=True):
            group = group_of(info.api_version)
            if (info.plural, group) in SKIPPED_KINDS:
                continue
            try:
                items = (
                    self.client.get(
                        resource_path(info.api_version, info.plural, namespace=namespace)
                    ).get("items")
                    or []
                )
            except KubeApiError as exc:
                if exc.status in (404, 405):
                    continue
                if exc.status in (401, 403):
                    return (
                        f"this agent may not list {info.plural} there, so it cannot tell that "
                        f"Mission {mission} made all it holds"
                    )
                raise
            for item in items:
                meta = item.get("metadata") or {}
                name = meta.get("name")
                if (
                    meta.get("deletionTimestamp")
                    or meta.get("ownerReferences")
                    or owned_by(item, mission, self.cluster)
                    or (info.plural, group, name) in AUTOMATIC_OBJECTS
                    or (info.plural == "endpoints" and not group and name in services)
                ):
                    continue
                return f"it holds {info.kind} {name}, which Mission {mission} did not create"
        return None

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""present / absent / wait for the objects a module manages: written once for every module.

``ObjectService`` holds what a module's options say about changing objects (field manager,
force, check mode) and gives every module the same behaviour:

- ``present``: server-side apply; ``changed`` and the diff compare only the fields this field
  manager applies (apply.py); in check mode a server dry run;
- ``present_all``: many objects in one task; every one is first applied as a server dry run,
  and only when all pass are the real applies sent (and only for objects that change), so a bad
  object changes nothing and a second run sends no write;
- ``absent``: delete when there (dry run in check mode), the diff shows what goes;
- ``wait_for`` / ``wait_gone``: bounded polls (waiter.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .apply import ApplyResult, apply_object, delete_object
from .args_common import DEFAULT_FIELD_MANAGER
from .client import KubeApiError, KubeClient
from .waiter import WaitOutcome, poll

# What happened to one object (the ``operation`` of a result).
CREATED, UPDATED, UNCHANGED, DELETED, ABSENT = (
    "created",
    "updated",
    "unchanged",
    "deleted",
    "absent",
)


@dataclass
class Change:
    changed: bool
    operation: str  # CREATED, UPDATED, UNCHANGED, DELETED or ABSENT
    before: Optional[dict]  # the fields that count, before (None: absent)
    after: Optional[dict]  # the same after (None: absent)
    result: Optional[dict] = None  # the object the server returned (present only)

    @property
    def diff(self) -> dict:
        return {"before": self.before or {}, "after": self.after or {}}


class BulkError(ValueError):
    """Some objects of a bulk request were refused; ``problems`` names each (label: why)."""

    def __init__(self, message: str, problems: Sequence[str], done: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)
        self.done = list(done)  # labels of what was changed before the failure


def _applied(outcome: ApplyResult) -> Change:
    operation = CREATED if outcome.before is None else UPDATED
    if not outcome.changed:
        operation = UNCHANGED
    return Change(outcome.changed, operation, outcome.before, outcome.after, outcome.result)


def deletion_view(live: Mapping[str, Any]) -> dict:
    """What a diff shows of an object that goes: its name and its spec."""
    metadata = live.get("metadata") or {}
    return {"metadata": {"name": metadata.get("name")}, "spec": live.get("spec")}


class ObjectService:
    def __init__(
        self,
        client: KubeClient,
        *,
        field_manager: str = DEFAULT_FIELD_MANAGER,
        force: bool = False,
        check_mode: bool = False,
    ) -> None:
        self.client = client
        self.field_manager = field_manager
        self.force = force
        self.check_mode = check_mode

    def _apply(self, path: str, desired: Mapping[str, Any], live: Any, dry_run: bool) -> Change:
        outcome = apply_object(
            self.client,
            path,
            desired,
            field_manager=self.field_manager,
            force=self.force,
            dry_run=dry_run,
            live=live,
        )
        return _applied(outcome)

    def present(self, path: str, desired: Mapping[str, Any], live: Any = False) -> Change:
        """Apply ``desired`` (dry run in check mode); ``live`` as apply_object takes it."""
        return self._apply(path, desired, live, self.check_mode)

    def present_all(
        self,
        items: Sequence[tuple[str, str, Mapping[str, Any]]],
        live: Mapping[str, Optional[dict]],
        describe: Callable[[BaseException], str] = str,
    ) -> list[Change]:
        """Apply many ``(label, path, desired)``; ``live`` maps each path to its object or None.

        Every object goes through a server dry run first (admission judges each); any refusal
        raises BulkError naming every refused label before anything is stored. Then only the
        objects that would change are applied for real.
        """
        planned, problems = [], []
        for label, path, desired in items:
            try:
                planned.append(self._apply(path, desired, live.get(path), True))
            except KubeApiError as exc:
                problems.append(f"{label}: {describe(exc)}")
        if problems:
            raise BulkError(
                f"{len(problems)} of {len(items)} refused by the API server, nothing was "
                f"changed: {'; '.join(problems)}",
                problems,
            )
        if self.check_mode:
            return planned
        done: list[Change] = []
        for (label, path, desired), plan in zip(items, planned):  # noqa: B905 - Python 3.8
            if not plan.changed:
                done.append(plan)
                continue
            try:
                done.append(self._apply(path, desired, live.get(path), False))
            except KubeApiError as exc:
                changed = [items[i][0] for i, c in enumerate(done) if c.changed]
                problem = f"{label}: {describe(exc)}"
                raise BulkError(
                    f"{problem} (after {len(changed)} changed)", [problem], changed
                ) from exc
        return done

    def absent(self, path: str, live: Any = False) -> Change:
        """Delete the object at ``path`` when it is there (dry run in check mode)."""
        found = delete_object(self.client, path, dry_run=self.check_mode, live=live)
        if found is None:
            return Change(False, ABSENT, None, None)
        return Change(True, DELETED, deletion_view(found), None)

    def read_all(self, collection: str, names: Sequence[str]) -> dict[str, Optional[dict]]:
        """name -> the live object or None, in one LIST when there are several names."""
        if len(names) == 1:
            return {names[0]: self.client.get_or_none(f"{collection}/{names[0]}")}
        items = self.client.get(collection).get("items") or []
        by_name = {(o.get("metadata") or {}).get("name"): o for o in items}
        return {name: by_name.get(name) for name in names}

    def wait_for(
        self,
        path: str,
        check: Callable[[Any], Any],
        *,
        timeout: float,
        sleep: float,
        met: Callable[[Any], bool] = bool,
    ) -> WaitOutcome:
        """Poll the object at ``path`` until ``met(check(object))`` or ``timeout``."""
        return poll(lambda: self.client.get(path), check, timeout=timeout, sleep=sleep, met=met)

    def wait_gone(self, path: str, *, timeout: float, sleep: float) -> WaitOutcome:
        """Poll until nothing is at ``path`` (outcome.value: the object still there)."""
        return poll(
            lambda: self.client.get_or_none(path),
            lambda obj: obj is None,
            timeout=timeout,
            sleep=sleep,
        )

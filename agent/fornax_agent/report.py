"""Writing this cluster's report on its parent: in shards, only what changed, paced.

A child's report is split into ``names.REPORT_SHARDS`` ClusterReports named ``<cluster>.<i>``
(created by cluster_link, named in the child's RBAC); Mission ``m`` lives in shard
``names.report_shard(m)``. A change of one Mission rewrites one shard, about 1/16 of the
report, instead of an object holding every Mission: the parent decodes, validates and stores
a small object, and its agent folds only the Missions of that shard.

A shard goes in groups (rollup.group_entries): Missions whose entries differ only in their
generation are one entry and a map Mission -> generation (``spec.groups``), the few others one
by one (``spec.missions``). What a write costs the parent's API server grows with the fields of
the object it validates and stores, not with the patch: a shard of 62 alike entries costs it
~4 ms as one group, ~15 ms one by one. Each write replaces the shard's spec (a JSON patch: a
shard in groups is small). A parent whose CRD predates groups drops the field: the writer sees
it missing from the first write's answer and writes entries one by one, as below, until the
next (re)connection.

The writer remembers what the parent holds per shard. After a (re)connection it does not read
the shards back: the first write of each shard replaces its whole ``spec`` (a JSON patch, one
round trip); later writes are merge-patch diffs. A parent linked before shards existed has
none (the first shard write answers 404 or 403): the writer then falls back to the single
whole report ``<cluster>`` as agents before it did, until the next (re)connection. With
shards, the whole report is emptied once, so a stale copy there cannot shadow the shards
(the parent reads a whole report's entry before a shard's: see parentside.py).

Pacing: a child spends at most about ``1 / GAP_FACTOR`` of its time waiting for a busy parent
to take its reports. It holds a credit of ``CREDIT`` seconds of write time, refilled at
``1 / GAP_FACTOR`` second per second; a round spends the time its writes took beyond ``QUICK``
each (a parent that answers that fast is not busy: its answer time is the disk, not load), and
a round that leaves a debt makes the next wait ``GAP_FACTOR * debt`` (at most ``MAX_GAP``). So a
child whose parent keeps up writes each change at once (a Mission created, then ready a moment
later, goes up the tree without a pause), while one whose writes take ``d`` seconds, one after
the other, waits about ``GAP_FACTOR * d`` after each: a busy parent gets fewer, fuller writes.
A burst (``BURST_CHANGES`` changes or more waiting, e.g. a thousand new Missions arriving) is
written once it settles (no change for ``SETTLE`` seconds) or when its first change is
``MAX_AGE`` seconds old, whichever comes first: a burst touches every shard, and a round per
arriving Mission would rewrite each shard over and over while the parent is busiest. A burst
that has settled does not wait for the rest of the gap left by a round written during it (once
per ``MAX_GAP``, or per ``GAP_FACTOR`` times the last round's duration when that is longer, so
the share of time spent writing stays bounded; the rest of that debt is forgiven): that round's
gap would otherwise hold the final state back for up to ``MAX_GAP``. On a parent so busy that a
round takes longer than ``MAX_GAP`` (200 children writing 16 shards each), a burst whose
Missions arrive in clumps "settles" between every two clumps: skipping the gap at each would
keep every child writing all the time, and the parent, busy with their rounds, would create
and mirror the Missions themselves ever more slowly.
A few changes are written at once, as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.rollup import group_entries
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    JSON_PATCH,
    KubeApiError,
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.patch import merge_patch
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.timestamps import rfc3339

GAP_FACTOR = 10.0  # a child spends at most about a tenth of its time writing reports
MAX_GAP = 30.0  # seconds: the longest pause between two rounds of report writes
CREDIT = 0.2  # seconds of write time a child may spend before the gap applies
QUICK = 0.05  # seconds: a write answered within this costs no credit (the parent keeps up)
BURST_CHANGES = 16  # changes waiting that make a burst
SETTLE = 1.0  # seconds without a change after which a burst is written
MAX_AGE = 10.0  # seconds: a burst's first change waits at most this long (docs/agent.md)
WHOLE = None  # the shard key of the whole report <cluster>

log = logging.getLogger(__name__)


class ReportMissing(KubeError):
    """The parent has no ClusterReport for this cluster: it must be linked (cluster_link)."""


def split(missions: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """``missions`` by shard: every shard present, empty ones too."""
    shards: dict[int, dict[str, Any]] = {i: {} for i in range(names.REPORT_SHARDS)}
    for name, entry in missions.items():
        shards[names.report_shard(name)][name] = entry
    return shards


class ReportWriter:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.sharded: bool | None = None  # None: not known since the last (re)connection
        self.grouped: bool | None = None  # shards in groups (None: not known, as sharded)
        self.stored: dict[int | None, dict[str, Any]] = {}  # shard -> what the parent holds
        self.next_write = 0.0  # time.monotonic() before which the next round should wait
        self.credit = CREDIT  # seconds of write time left (negative: a debt), as of credit_at
        self.credit_at = time.monotonic()
        self.waiting = 0  # changes since the last round began
        self.first_change = 0.0  # time.monotonic() of the first of them
        self.last_change = 0.0
        self.last_early = -float("inf")  # time.monotonic() of the last round begun inside a gap
        self.early_spacing = MAX_GAP  # seconds from one such round to the next, at least
        self.writes = 0  # objects written (tests and benchmarks read it)
        self.unfinished = False  # the last round stopped for more urgent work: resume at once

    def forget(self) -> None:
        """After a broken link: the parent's copy may differ from what was last sent."""
        self.sharded = None
        self.grouped = None
        self.stored = {}

    def changed(self) -> None:
        """Something in the report changed (call it for every change: it detects bursts)."""
        now = time.monotonic()
        if not self.waiting:
            self.first_change = now
        self.waiting += 1
        self.last_change = now

    def pause(self) -> float:
        """Seconds to wait before the next round of writes (0.0: write now)."""
        if self.unfinished:
            return 0.0  # the rest of a round that gave way: it would have gone on anyway
        now = time.monotonic()
        wait = self.next_write - now
        if self.waiting >= BURST_CHANGES:
            settle = min(self.last_change + SETTLE, self.first_change + MAX_AGE) - now
            if settle <= 0 and now - self.last_early >= self.early_spacing:
                return 0.0  # a settled burst goes before the gap ends, now and then
            wait = max(wait, settle)
        return max(0.0, wait)

    def path(self, shard: int | None) -> str:
        name = self.cluster if shard is WHOLE else f"{self.cluster}.{shard}"
        return names.clusterreport_path(name)

    def write(
        self,
        client: KubeClient,
        missions: dict[str, Any],
        urgent: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Bring the parent's report to ``missions``; False when nothing needed writing.

        Between two shard writes the round gives way when ``urgent()`` says more urgent work
        waits (a Mission to copy down): ``unfinished`` is then set, and the next round goes at
        once. A round of 16 shards on a parent answering in 12 ms would otherwise hold a copy
        down for 0.2 s (a busy parent: seconds)."""
        started = time.monotonic()
        self.waiting = 0  # what changes from now on goes into the next round
        resumed, self.unfinished = self.unfinished, False
        if started < self.next_write and not resumed:  # a settled burst: the gap is forgiven
            self.last_early = started
            self.credit, self.credit_at = 0.0, started
        writes = self.writes
        if self.sharded is None:
            self.sharded = self._try_shards(client, missions)
            wrote = True
        else:
            wrote = False
        targets = split(missions) if self.sharded else {WHOLE: missions}
        for shard, want in targets.items():
            if self.stored.get(shard) != want:
                if wrote and urgent():
                    self.unfinished = True
                    break
                self._write_one(client, shard, want)
                wrote = True
        if wrote:
            self._spend(started, time.monotonic(), self.writes - writes)
        return wrote

    def idle(self) -> bool:
        """True when a change now would be written at once: no gap to wait, no burst."""
        return self.waiting <= 1 and time.monotonic() >= self.next_write

    def _spend(self, started: float, ended: float, writes: int) -> None:
        """Charge a round of ``writes`` from ``started`` to ``ended``; set the gap after it and
        the spacing of rounds begun inside a gap."""
        refilled = min(CREDIT, self.credit + (started - self.credit_at) / GAP_FACTOR)
        cost = max(0.0, ended - started - QUICK * writes)
        # A debt is bounded: it is waited out within MAX_GAP.
        self.credit = max(-MAX_GAP / GAP_FACTOR, refilled - cost)
        self.credit_at = ended
        self.next_write = ended + GAP_FACTOR * max(0.0, -self.credit)
        self.early_spacing = max(MAX_GAP, GAP_FACTOR * (ended - started))

    def _try_shards(self, client: KubeClient, missions: dict[str, Any]) -> bool:
        """True when the parent holds this cluster's shards (its first one written here)."""
        first = 0
        try:
            self._write_one(client, first, split(missions)[first])
        except KubeApiError as exc:
            if exc.status not in (403, 404):
                raise
            return False
        self._empty_whole(client)
        return True

    def _empty_whole(self, client: KubeClient) -> None:
        """Empty the whole report (written by this agent before it had shards), once."""
        current = client.get_or_none(self.path(WHOLE))
        if current is not None and (current.get("spec") or {}).get("missions"):
            client.patch(
                self.path(WHOLE),
                {"spec": {"missions": None, "missionCount": 0, "reportedAt": rfc3339()}},
            )
        self.stored[WHOLE] = {}

    def _write_one(self, client: KubeClient, shard: int | None, want: dict[str, Any]) -> None:
        try:
            self._send(client, shard, want)
        except (KubeError, OSError):
            # It may or may not have landed: the next write of this shard replaces it whole.
            self.stored.pop(shard, None)
            raise
        self.stored[shard] = want
        self.writes += 1

    def _send(self, client: KubeClient, shard: int | None, want: dict[str, Any]) -> None:
        spec: dict[str, Any] = {"missionCount": len(want), "reportedAt": rfc3339()}
        grouping = shard is not WHOLE and self.grouped is not False
        if grouping and self._send_grouped(client, shard, spec, want):
            return
        have = self.stored.get(shard)
        if have is None and shard is not WHOLE:
            # Unknown content: replace the whole spec in one round trip.
            body = [{"op": "add", "path": "/spec", "value": {**spec, "missions": want}}]
            client.request(
                "PATCH", self.path(shard), body, content_type=JSON_PATCH, resend_safe=True
            )
        else:
            if have is None:
                have = self._read_whole(client)
            difference = merge_patch(have, want)
            if difference:
                spec["missions"] = difference
            client.patch(self.path(shard), {"spec": spec})

    def _send_grouped(
        self, client: KubeClient, shard: int | None, spec: dict[str, Any], want: dict[str, Any]
    ) -> bool:
        """Replace the shard's spec with ``want`` in groups; False when the parent's CRD predates
        groups (its API server dropped the field: the shard is then written one by one)."""
        groups, rest = group_entries(want)
        value = {**spec, "groups": groups}
        if rest:
            value["missions"] = rest
        body = [{"op": "add", "path": "/spec", "value": value}]
        answer = client.request(
            "PATCH", self.path(shard), body, content_type=JSON_PATCH, resend_safe=True
        )
        if self.grouped is None:
            held = answer.get("spec") if isinstance(answer, dict) else None
            if isinstance(held, dict) and "groups" in held:
                self.grouped = True
            elif not groups:
                return True  # nothing grouped, so the shard is right: ask again next time
            else:
                self.grouped = False
                log.info("the parent's ClusterReports hold no groups: entries one by one")
        return bool(self.grouped)

    def _read_whole(self, client: KubeClient) -> dict[str, Any]:
        current = client.get_or_none(self.path(WHOLE))
        if current is None:
            raise ReportMissing(
                f"the parent has no ClusterReport {self.cluster!r}: link this cluster "
                "with centaurus.fornax.cluster_link"
            )
        return (current.get("spec") or {}).get("missions") or {}

"""Writing this cluster's ClusterReport on its parent: only what changed, as a merge patch.

A report holds every Mission of the subtree; rewriting it whole for each change would make the
parent decode and re-track the full object every time. The writer remembers what the parent
holds (fetched once after a (re)connection) and sends the difference.

The parent still stores the whole object on every write, so the writer also paces itself: after
a write that took ``d`` seconds it waits ``GAP_FACTOR * d`` (at most ``MAX_GAP``) before the
next. A quiet parent answers in milliseconds and reports stay immediate; a parent busy with
hundreds of children answers slowly, and every child then writes less often, with more news
in each write.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.patch import merge_patch

GAP_FACTOR = 10.0  # a child spends at most about a tenth of its time writing reports
MAX_GAP = 5.0  # seconds: the longest pause between two report writes


class ReportMissing(KubeError):
    """The parent has no ClusterReport for this cluster: it must be linked (cluster_link)."""


class ReportWriter:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.path = names.clusterreport_path(cluster)
        self.stored: dict[str, Any] | None = None  # what the parent holds, when known
        self.next_write = 0.0  # time.monotonic() before which the next write should wait

    def forget(self) -> None:
        """After a broken link: the parent's copy may differ from what was last sent."""
        self.stored = None

    def pause(self) -> float:
        """Seconds to wait before the next write (0.0: write now)."""
        return max(0.0, self.next_write - time.monotonic())

    def write(self, client: KubeClient, missions: dict[str, Any]) -> bool:
        """Bring the parent's report to ``missions``; False when nothing needed writing."""
        if missions == self.stored:
            return False
        started = time.monotonic()
        if self.stored is None:
            current = client.get_or_none(self.path)
            if current is None:
                raise ReportMissing(
                    f"the parent has no ClusterReport {self.cluster!r}: link this cluster "
                    "with centaurus.fornax.cluster_link"
                )
            self.stored = (current.get("spec") or {}).get("missions") or {}
        spec: dict[str, Any] = {
            "missionCount": len(missions),
            "reportedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        difference = merge_patch(self.stored, missions)
        if difference:
            spec["missions"] = difference
        client.patch(self.path, {"spec": spec})
        self.stored = missions
        ended = time.monotonic()
        self.next_write = ended + min(MAX_GAP, GAP_FACTOR * (ended - started))
        return True

"""Writing this cluster's ClusterReport on its parent: only what changed, as a merge patch.

A report holds every Mission of the subtree; rewriting it whole for each change would make the
parent decode and re-track the full object every time. The writer remembers what the parent
holds (fetched once after a (re)connection) and sends the difference.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeClient,
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.patch import merge_patch


class ReportMissing(KubeError):
    """The parent has no ClusterReport for this cluster: it must be linked (cluster_link)."""


class ReportWriter:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.path = names.clusterreport_path(cluster)
        self.stored: dict[str, Any] | None = None  # what the parent holds, when known

    def forget(self) -> None:
        """After a broken link: the parent's copy may differ from what was last sent."""
        self.stored = None

    def write(self, client: KubeClient, missions: dict[str, Any]) -> bool:
        """Bring the parent's report to ``missions``; False when nothing needed writing."""
        if missions == self.stored:
            return False
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
        return True

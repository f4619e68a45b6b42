# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Parent links -> one rooted tree: unique names, known single parents, no cycles, one root."""

from __future__ import annotations

from collections import deque

from ..fornax.limits import MAX_TIERS
from .errors import ProblemLog
from .model import Cluster


def build_tree(declared: list[Cluster], log: ProblemLog) -> dict[str, Cluster]:
    """Link parents and children; return the clusters top-down (breadth-first), root first.

    Sets ``parent``, ``children``, ``tier`` and ``path``. Adds a problem for every duplicate
    name, unknown or second parent, parent cycle, cluster deeper than MAX_TIERS allows, and for
    a file with no root or several.
    """
    by_name: dict[str, Cluster] = {}
    for cluster in declared:
        first = by_name.get(cluster.name)
        if first is not None:
            log.add(cluster.entry, f"duplicate cluster name, first declared at {first.entry}")
        else:
            by_name[cluster.name] = cluster
    check_unique_hosts(declared, log)

    roots: list[Cluster] = []
    for cluster in by_name.values():
        parents = cluster.declared_parents
        if len(parents) > 1:
            log.add(
                cluster.entry,
                f"two parents: nested under {parents[1]!r} but field 'parent' says "
                f"{parents[0]!r}; a cluster has exactly one parent",
            )
            continue
        if not parents:
            roots.append(cluster)
            continue
        parent = by_name.get(parents[0])
        if parent is None:
            log.add(cluster.entry, f"field 'parent': unknown cluster {parents[0]!r}")
            continue
        cluster.parent = parent
        parent.children.append(cluster)
    if log:
        return {}

    if len(roots) > 1:
        names = ", ".join(repr(root.name) for root in roots)
        log.add(
            roots[1].entry,
            f"a hierarchy has exactly one root (the cloud cluster), found {len(roots)}: {names};"
            " give all but one a parent",
        )
    ordered = top_down(roots[:1])
    if len(ordered) < len(by_name):
        report_cycles(by_name, ordered, log)
    check_depth(ordered, log)
    if not roots and not log:  # pragma: no cover - a rootless finite graph always has a cycle
        log.add("clusters", "no root cluster (one without a parent)")
    return ordered


def check_depth(ordered: dict[str, Cluster], log: ProblemLog) -> None:
    """A problem for each cluster of the first tier deeper than MAX_TIERS allows."""
    for cluster in ordered.values():
        if cluster.tier == MAX_TIERS:  # the tiers below it are too deep as well
            log.add(
                cluster.entry,
                f"tier {cluster.tier} ({cluster.path}) is deeper than the {MAX_TIERS} tiers a "
                f"tree may have (tier 0 to {MAX_TIERS - 1})",
            )


def top_down(roots: list[Cluster]) -> dict[str, Cluster]:
    """Breadth-first from ``roots``, setting tier and path on the way."""
    ordered: dict[str, Cluster] = {}
    queue = deque(roots)
    for root in roots:
        root.tier, root.path = 0, root.name
    while queue:
        cluster = queue.popleft()
        ordered[cluster.name] = cluster
        for child in cluster.children:
            child.tier = cluster.tier + 1
            child.path = f"{cluster.path}/{child.name}"
            queue.append(child)
    return ordered


def report_cycles(
    by_name: dict[str, Cluster], reached: dict[str, Cluster], log: ProblemLog
) -> None:
    """One problem per parent cycle among the clusters the root does not reach."""
    settled = set(reached)
    for start in by_name.values():
        if start.name in settled:
            continue
        trail: list[Cluster] = []
        on_trail: set[str] = set()
        cluster = start
        while cluster is not None and cluster.name not in settled and cluster.name not in on_trail:
            trail.append(cluster)
            on_trail.add(cluster.name)
            cluster = cluster.parent
        if cluster is not None and cluster.name in on_trail:
            loop = trail[[c.name for c in trail].index(cluster.name) :]
            names = " -> ".join(c.name for c in [*loop, loop[0]])
            log.add(loop[0].entry, f"parent links form a cycle: {names}")
        settled.update(on_trail)


def check_unique_hosts(declared: list[Cluster], log: ProblemLog) -> None:
    """A host belongs to one cluster, listed once (its roles go in one ``roles`` list)."""
    owner: dict[str, str] = {}
    for cluster in declared:
        for host in cluster.hosts:
            first = owner.get(host.name)
            if first is not None:
                log.add(host.entry, f"duplicate host name, first declared at {first}")
            else:
                owner[host.name] = host.entry

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Deterministic allocation of pod/service CIDRs and VPC VNIs the file leaves out.

A pool is a row of equal slots (CIDR blocks of ``prefixLength``, or VNIs). Each requester (a
cluster or VPC name) has its own probe sequence ``slot(name, attempt) = blake2b(kind, name,
attempt) mod slots``. Allocation runs in rounds: in round ``r`` every requester still without
a slot proposes its ``r``-th probe; a proposal wins when the slot is free, nothing given in the
file overlaps it and no requester earlier in name order proposed it in the same round. After
``PROBE_ROUNDS`` rounds the few left take the first free slot after their first choice.

Guarantees (tests/unit/inventory/test_allocate.py checks both):

- Same file, same result: nothing depends on dict order, time or randomness.
- Adding a requester never moves one that won its first choice (round 0), unless the
  newcomer's first choice is the same slot and its name sorts first. In a pool used to a
  fraction ``f``, that chance is below ``f`` per newcomer; with the default pools (32,768
  blocks each) and 100 clusters it is below 0.4 %. Pin a value in the file to rule it out.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
from collections.abc import Callable, Iterable
from typing import Optional

from .addresses import IpNetwork, Span, cidr_span, ipv4_text, parse_cidr
from .errors import ProblemLog
from .model import CidrPool, Cluster, Hierarchy, VniPool

PROBE_ROUNDS = 16
MAX_SLOTS = 1 << 24  # a pool is used for at most this many blocks


class Placement:
    """Where one requester landed: ``slot`` in the pool, won in probe round ``round``."""

    __slots__ = ("round", "slot")

    def __init__(self, slot: int, probe_round: int) -> None:
        self.slot = slot
        self.round = probe_round

    def __repr__(self) -> str:
        return f"Placement(slot={self.slot}, round={self.round})"


def probe(kind: str, name: str, attempt: int, slots: int) -> int:
    digest = hashlib.blake2b(f"{kind}\0{name}\0{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % slots


def place(
    kind: str, names: Iterable[str], slots: int, reserved: Callable[[int], bool]
) -> tuple[dict[str, Placement], list[str]]:
    """Slots for ``names`` (see the module docstring); returns (placements, names left over)."""
    pending = sorted(set(names))
    placed: dict[str, Placement] = {}
    taken: set[int] = set()
    for attempt in range(PROBE_ROUNDS):
        if not pending:
            break
        proposals: dict[int, str] = {}
        for name in pending:
            slot = probe(kind, name, attempt, slots)
            if slot not in taken and slot not in proposals and not reserved(slot):
                proposals[slot] = name
        for slot, name in proposals.items():
            placed[name] = Placement(slot, attempt)
        taken.update(proposals)
        pending = [name for name in pending if name not in placed]
    if not pending:
        return placed, []
    free = [slot for slot in range(slots) if slot not in taken and not reserved(slot)]
    left: list[str] = []
    for name in pending:
        if not free:
            left.append(name)
            continue
        index = bisect.bisect_left(free, probe(kind, name, 0, slots)) % len(free)
        placed[name] = Placement(free.pop(index), PROBE_ROUNDS)
    return placed, left


class Intervals:
    """Sorted, merged inclusive integer intervals with O(log n) membership."""

    def __init__(self, intervals: Iterable[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for first, last in sorted(intervals):
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        self.firsts = [first for first, _last in merged]
        self.lasts = [last for _first, last in merged]

    def __contains__(self, value: int) -> bool:
        index = bisect.bisect_right(self.firsts, value) - 1
        return index >= 0 and value <= self.lasts[index]


class CidrSlots:
    """A CIDR pool seen as slots: block ``i`` starts at ``base + i * block_size``."""

    def __init__(self, pool: CidrPool) -> None:
        network, reason = parse_cidr(pool.cidr)
        if network is None:  # pragma: no cover - the parser checked the pool
            raise ValueError(reason)
        self.network: IpNetwork = network
        self.prefix = pool.prefix_length
        self.block = 1 << (network.max_prefixlen - pool.prefix_length)
        self.base = int(network.network_address)
        self.count = min(network.num_addresses // self.block, MAX_SLOTS)

    def slots_of(self, cidrs: Iterable[str]) -> list[tuple[int, int]]:
        """The slot ranges the given CIDRs overlap (CIDRs outside the pool are skipped)."""
        ranges = []
        end = self.base + self.count * self.block - 1
        for text in cidrs:
            found, _reason = cidr_span(text)
            if found is None or found[0] != self.network.version:
                continue
            _version, first, last = found
            if last < self.base or first > end:
                continue
            ranges.append(
                (
                    (max(first, self.base) - self.base) // self.block,
                    (min(last, end) - self.base) // self.block,
                )
            )
        return ranges

    def cidr(self, slot: int) -> str:
        first = self.base + slot * self.block
        if self.network.version == 4:
            return f"{ipv4_text(first)}/{self.prefix}"
        return str(ipaddress.ip_network((first, self.prefix)))

    def span(self, slot: int) -> Span:
        first = self.base + slot * self.block
        return (self.network.version, first, first + self.block - 1)


def allocate_cidrs(
    kind: str,
    pool: CidrPool,
    wanting: list[Cluster],
    in_use: list[str],
    log: ProblemLog,
    *,
    spans: Optional[dict[str, Span]] = None,
) -> dict[str, Placement]:
    """Blocks of ``pool`` for ``wanting`` clusters, avoiding every CIDR in ``in_use``; the
    span of each block handed out goes to ``spans``."""
    slots = CidrSlots(pool)
    reserved = Intervals(slots.slots_of(in_use))
    placed, left = place(kind, (c.name for c in wanting), slots.count, reserved.__contains__)
    for cluster in wanting:
        placement = placed.get(cluster.name)
        if placement is not None:
            value = slots.cidr(placement.slot)
            if spans is not None:
                spans[value] = slots.span(placement.slot)
            if kind == "podCidr":
                cluster.pod_cidr = value
            else:
                cluster.service_cidr = value
    if left:
        log.add(
            f"pools.{kind}",
            f"pool {pool.cidr} (blocks of /{pool.prefix_length}) is exhausted: no block left "
            f"for {len(left)} cluster(s), first {left[0]!r}; widen the pool or set {kind} "
            "on the clusters",
        )
    return placed


def allocate_vnis(hierarchy: Hierarchy, log: ProblemLog) -> dict[str, Placement]:
    """VNIs for the VPCs without one, avoiding every VNI the file gives."""
    pool: VniPool = hierarchy.pools.vni
    given = {vpc.vni for vpc in hierarchy.vpcs.values() if vpc.vni is not None}
    given.update(
        presence.declared_vni
        for vpc in hierarchy.vpcs.values()
        for presence in vpc.presences
        if presence.declared_vni is not None
    )
    wanting = [vpc for vpc in hierarchy.vpcs.values() if vpc.vni is None]
    if not wanting:
        return {}
    count = pool.last - pool.first + 1
    placed, left = place(
        "vni", (vpc.name for vpc in wanting), count, lambda slot: pool.first + slot in given
    )
    for vpc in wanting:
        placement = placed.get(vpc.name)
        if placement is not None:
            vpc.vni = pool.first + placement.slot
    if left:
        log.add(
            "pools.vni",
            f"VNI pool {pool.first}..{pool.last} is exhausted: no VNI left for VPC {left[0]!r}",
        )
    return placed


def allocate(hierarchy: Hierarchy, log: ProblemLog) -> dict[str, dict[str, Placement]]:
    """Fill every missing pod CIDR, service CIDR and VPC VNI; returns the placements by kind.

    Pod CIDRs first, then service CIDRs (which also avoid the pod CIDRs just allocated),
    then VNIs. Explicit values are never moved.
    """
    clusters = list(hierarchy.clusters.values())
    given: list[str] = [c.pod_cidr for c in clusters if c.pod_cidr is not None]
    given.extend(c.service_cidr for c in clusters if c.service_cidr is not None)
    pods = allocate_cidrs(
        "podCidr",
        hierarchy.pools.pod_cidr,
        [c for c in clusters if c.pod_cidr is None],
        given,
        log,
        spans=hierarchy.spans,
    )
    wanting_service = [c for c in clusters if c.service_cidr is None]
    services: dict[str, Placement] = {}
    if wanting_service:
        if pools_overlap(hierarchy.pools.pod_cidr, hierarchy.pools.service_cidr):
            given = [c.pod_cidr for c in clusters if c.pod_cidr is not None]
            given.extend(c.service_cidr for c in clusters if c.service_cidr is not None)
        services = allocate_cidrs(
            "serviceCidr",
            hierarchy.pools.service_cidr,
            wanting_service,
            given,
            log,
            spans=hierarchy.spans,
        )
    return {"podCidr": pods, "serviceCidr": services, "vni": allocate_vnis(hierarchy, log)}


def pools_overlap(one: CidrPool, other: CidrPool) -> bool:
    first, _first_prefix = parse_cidr(one.cidr)
    second, _second_prefix = parse_cidr(other.cidr)
    return first is not None and second is not None and first.overlaps(second)


def first_choice(kind: str, name: str, slots: int) -> int:
    """The slot ``name`` asks for first (used by the stability tests and docs)."""
    return probe(kind, name, 0, slots)


def slot_count(pool: CidrPool) -> int:
    return CidrSlots(pool).count


__all__ = ["Placement", "allocate", "first_choice", "place", "slot_count"]

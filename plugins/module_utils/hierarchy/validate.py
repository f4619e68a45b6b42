# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Rules across clusters: VPC references, CIDR overlaps, VNI clashes, gateways for VPCs."""

from __future__ import annotations

from typing import Any

from .addresses import Span, cidr_span, overlapping_pairs
from .errors import ProblemLog
from .model import Hierarchy


def check_vpc_references(hierarchy: Hierarchy, declared: list, log: ProblemLog) -> None:
    """VPC names unique; each presence names a known cluster, once per VPC."""
    for vpc in declared:
        first = hierarchy.vpcs.get(vpc.name)
        if first is not None and first is not vpc:
            log.add(vpc.entry, f"duplicate VPC name, first declared at {first.entry}")
            continue
        hierarchy.vpcs[vpc.name] = vpc
        seen: dict[str, str] = {}
        for presence in vpc.presences:
            if presence.cluster not in hierarchy.clusters:
                log.add(presence.entry, f"field 'cluster': unknown cluster {presence.cluster!r}")
            elif presence.cluster in seen:
                log.add(
                    presence.entry,
                    f"cluster {presence.cluster!r} already listed at {seen[presence.cluster]}; "
                    "put all of its subnets in one entry",
                )
            else:
                seen[presence.cluster] = presence.entry


def check_cluster_cidrs(hierarchy: Hierarchy, log: ProblemLog) -> None:
    """No two pod/service CIDRs of the tree overlap (given or allocated)."""
    ranges: list[tuple[Span, Any]] = []
    known = hierarchy.spans  # allocated ones, read already
    for cluster in hierarchy.clusters.values():
        for field, text in (("podCidr", cluster.pod_cidr), ("serviceCidr", cluster.service_cidr)):
            if text is None:
                continue
            found = known.get(text)
            if found is None:
                found, _reason = cidr_span(text)
            if found is not None:
                ranges.append((found, (cluster.entry, field, text)))
    for (entry, field, text), (other_entry, other_field, other_text) in overlapping_pairs(ranges):
        log.add(
            other_entry,
            f"field {other_field!r}: {other_text} overlaps {field} {text} of {entry}",
        )


def check_vpc_subnets(hierarchy: Hierarchy, log: ProblemLog) -> None:
    """Within a VPC, subnets in different clusters (or the same one) do not overlap."""
    for vpc in hierarchy.vpcs.values():
        ranges: list[tuple[Span, Any]] = []
        for presence in vpc.presences:
            for text in presence.subnets:
                found, _reason = cidr_span(text)
                if found is not None:
                    ranges.append((found, (presence.entry, text)))
        for (entry, text), (other_entry, other_text) in overlapping_pairs(ranges):
            log.add(other_entry, f"subnet {other_text} overlaps subnet {text} of {entry}")


def check_vnis(hierarchy: Hierarchy, log: ProblemLog) -> None:
    """In each cluster, every VPC present there has its own VNI."""
    in_cluster: dict[tuple[str, int], str] = {}
    for vpc in hierarchy.vpcs.values():
        for presence in vpc.presences:
            vni = vpc.vni_in(presence)
            key = (presence.cluster, vni)
            other = in_cluster.get(key)
            if other is not None:
                log.add(
                    presence.entry,
                    f"VNI clash: VNI {vni} of VPC {vpc.name!r} in cluster {presence.cluster!r} "
                    f"is already used there by VPC {other!r}",
                )
            else:
                in_cluster[key] = vpc.name


def check_vpc_gateways(hierarchy: Hierarchy, log: ProblemLog) -> None:
    """A VPC spanning clusters needs, in each of them, a gateway with a WAN address."""
    for vpc in hierarchy.vpcs.values():
        clusters = [presence.cluster for presence in vpc.presences]
        if len(clusters) < 2:
            continue
        for presence in vpc.presences:
            cluster = hierarchy.clusters[presence.cluster]
            others = ", ".join(repr(name) for name in clusters if name != cluster.name)
            if cluster.gateway is None:
                log.add(
                    presence.entry,
                    f"VPC {vpc.name!r} spans clusters ({others} too) but cluster "
                    f"{cluster.name!r} has no host with role gateway",
                )
            elif cluster.gateway.wan_address is None:
                log.add(
                    f"{cluster.entry}.gateway",
                    f"gateway {cluster.gateway.host!r} has no wanAddress, but VPC {vpc.name!r} "
                    f"spans clusters {cluster.name!r}, {others}",
                )


def check_addresses(hierarchy: Hierarchy, log: ProblemLog) -> None:
    check_cluster_cidrs(hierarchy, log)
    check_vpc_subnets(hierarchy, log)
    check_vnis(hierarchy, log)
    check_vpc_gateways(hierarchy, log)

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Facts about a cluster's nodes that roles and tests share: names, labels, pod subnets.

The one place that says which label makes a node an edge node (the agent counts the nodes that
carry it as the EdgeCluster's ``edgeNodes``) and how a cluster's pod CIDR is split between its
nodes (each node's CNI bridge hands out addresses from its own part, so no two nodes of a
cluster give a pod the same address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Optional

EDGE_NODE_LABEL = "node-role.kubernetes.io/edge"
# A node subnet must leave room for the bridge's gateway and some pods.
MIN_NODE_SUBNET_ADDRESSES = 16


class NodeError(ValueError):
    """Bad input about a node, naming the field and the value."""


def node_pod_cidr(pod_cidr: Optional[str], nodes: Sequence[str], node: str) -> str:
    """The part of ``pod_cidr`` that ``node`` hands out: the CIDR split into the fewest equal
    power-of-two parts that give every name of ``nodes`` (sorted) one part, in order."""
    if not pod_cidr:
        raise NodeError(
            f"node {node!r}: its cluster has no pod CIDR (fornax_pod_cidr is {pod_cidr!r}); "
            "give the cluster a podCidr or the tree a pod pool"
        )
    try:
        network = ipaddress.ip_network(str(pod_cidr), strict=True)
    except ValueError as exc:
        raise NodeError(
            f"node {node!r}: fornax_pod_cidr {pod_cidr!r} is not a CIDR: {exc}"
        ) from exc
    names = sorted(set(nodes))
    if node not in names:
        raise NodeError(f"node {node!r} is not among the cluster's nodes {names}")
    bits = max(len(names) - 1, 0).bit_length()
    if network.num_addresses >> bits < MIN_NODE_SUBNET_ADDRESSES:
        raise NodeError(
            f"fornax_pod_cidr {pod_cidr} is too small for {len(names)} nodes: each needs at "
            f"least {MIN_NODE_SUBNET_ADDRESSES} addresses"
        )
    return str(list(network.subnets(prefixlen_diff=bits))[names.index(node)])


def node_labels(
    host_roles: Sequence[str], labels: Optional[dict[str, str]] = None
) -> dict[str, str]:
    """The labels a node gets: the inventory's, plus the edge label for an ``edge_node`` host."""
    result = dict(labels or {})
    if "edge_node" in host_roles:
        result[EDGE_NODE_LABEL] = ""
    return result

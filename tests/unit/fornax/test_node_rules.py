"""The rules of module_utils/fornax/nodes.py: a node's pod subnet and its labels."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.nodes import (
    EDGE_NODE_LABEL,
    NodeError,
    node_labels,
    node_pod_cidr,
)


def test_a_single_node_gets_the_whole_pod_cidr() -> None:
    assert node_pod_cidr("10.0.3.0/24", ["n1"], "n1") == "10.0.3.0/24"


def test_nodes_get_disjoint_parts_in_sorted_order() -> None:
    nodes = ["c", "a", "b"]
    parts = [node_pod_cidr("10.0.0.0/24", nodes, n) for n in ("a", "b", "c")]
    assert parts == ["10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/26"]


@pytest.mark.parametrize(
    ("cidr", "nodes", "node", "message"),
    [
        (None, ["n1"], "n1", "has no pod CIDR"),
        ("", ["n1"], "n1", "has no pod CIDR"),
        ("10.0.0.1/24", ["n1"], "n1", "is not a CIDR"),
        ("10.0.0.0/24", ["n1"], "n2", "not among the cluster's nodes"),
        ("10.0.0.0/28", ["n1", "n2"], "n1", "too small for 2 nodes"),
    ],
)
def test_bad_input_names_the_node_and_the_value(
    cidr: str | None, nodes: list[str], node: str, message: str
) -> None:
    with pytest.raises(NodeError, match=message) as err:
        node_pod_cidr(cidr, nodes, node)
    assert repr(node) in str(err.value) or str(cidr) in str(err.value)


def test_edge_nodes_get_the_label_the_agent_counts() -> None:
    assert node_labels(["edge_node"], {"zone": "a"}) == {"zone": "a", EDGE_NODE_LABEL: ""}
    assert node_labels(["control_plane"], {"zone": "a"}) == {"zone": "a"}

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The ``centaurus.fornax.node_pod_cidr`` and ``node_labels`` filters.

Both apply the rules of module_utils/fornax/nodes.py.

Documented in node_pod_cidr.yml and node_labels.yml.
"""

from __future__ import annotations

from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.nodes import (
    NodeError,
    node_labels,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.nodes import (
    node_pod_cidr as _node_pod_cidr,
)


def node_pod_cidr(pod_cidr: Optional[str], nodes: Any, node: str) -> str:
    """The part of the cluster's pod CIDR that ``node`` hands out to its pods."""
    try:
        return _node_pod_cidr(pod_cidr, [str(n) for n in nodes or []], str(node))
    except NodeError as exc:
        raise AnsibleFilterError(f"node_pod_cidr: {exc}") from exc


def node_labels_filter(host_roles: Any, labels: Optional[dict] = None) -> dict:
    """The labels of a node: the given ones plus the edge label for an edge_node host."""
    return node_labels(
        [str(r) for r in host_roles or []], {str(k): str(v) for k, v in (labels or {}).items()}
    )


class FilterModule:
    def filters(self) -> dict:
        return {"node_pod_cidr": node_pod_cidr, "node_labels": node_labels_filter}

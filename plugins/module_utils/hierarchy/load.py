# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""One call from a loaded document to a checked, fully resolved hierarchy."""

from __future__ import annotations

from typing import Any, Optional

from .allocate import allocate
from .errors import ProblemLog
from .inherit import resolve_cluster_settings
from .model import Hierarchy
from .parse import parse_document
from .tree import build_tree
from .validate import check_addresses, check_vpc_references


def load_hierarchy(data: Any, source: Optional[str] = None) -> Hierarchy:
    """Parse, link, inherit, allocate and validate; raise HierarchyError on any problem.

    Stages stop at the first one that finds problems (later stages would only report
    consequences), and each stage reports all of its problems at once.
    """
    log = ProblemLog(source)
    document = parse_document(data, log)
    log.raise_if_any()
    clusters = build_tree(document.clusters, log)
    log.raise_if_any()
    hierarchy = Hierarchy(clusters, {}, document.defaults, document.pools, source)
    check_vpc_references(hierarchy, document.vpcs, log)
    resolve_cluster_settings(clusters, document.defaults, log)
    log.raise_if_any()
    allocate(hierarchy, log)
    log.raise_if_any()
    check_addresses(hierarchy, log)
    log.raise_if_any()
    return hierarchy

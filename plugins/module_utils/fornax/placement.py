# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Which clusters a Mission's placement selects: the one definition of the matching rule.

- An empty placement (no cluster names, no labels) selects every cluster.
- ``clusters: [{name: X}]`` selects the cluster named X.
- ``matchlabels: {k: v}`` selects a cluster when ANY one pair is among its labels (the original's
  semantics: not a Kubernetes label selector, where all pairs must match).
- A cluster selected by either list is selected.

Every cluster carries built-in labels besides its own (see ``builtin_labels``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from .names import DISTRO_LABEL

HOSTNAME_LABEL = "kubernetes.io/hostname"
EDGECLUSTER_ROLE_LABEL = "role.kubernetes.io/edgecluster"


def builtin_labels(name: str, distro: str = "k8s") -> dict:
    """The labels every cluster has, whatever its own labels say."""
    return {HOSTNAME_LABEL: name, EDGECLUSTER_ROLE_LABEL: "", DISTRO_LABEL: distro}


def cluster_labels(name: str, labels: Optional[Mapping[str, str]], distro: str = "k8s") -> dict:
    """A cluster's own labels plus the built-in ones (built-ins win: they describe facts)."""
    merged = dict(labels or {})
    merged.update(builtin_labels(name, distro))
    return merged


def placement_names(placement: Optional[Mapping[str, Any]]) -> list:
    clusters = (placement or {}).get("clusters") or []
    return [c.get("name") for c in clusters if isinstance(c, Mapping) and c.get("name")]


def placement_is_empty(placement: Optional[Mapping[str, Any]]) -> bool:
    return not placement_names(placement) and not (placement or {}).get("matchlabels")


def placement_matches(
    placement: Optional[Mapping[str, Any]],
    name: str,
    labels: Optional[Mapping[str, str]] = None,
    distro: str = "k8s",
) -> bool:
    """True when the placement selects the cluster ``name`` with ``labels``."""
    if placement_is_empty(placement):
        return True
    if name in placement_names(placement):
        return True
    wanted = (placement or {}).get("matchlabels") or {}
    have = cluster_labels(name, labels, distro)
    return any(key in have and have[key] == str(value) for key, value in wanted.items())

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""How big a Fornax tree and what its clusters report may be: every bound defined once.

The inventory plugin refuses a hierarchy file beyond the tree bounds; a parent clamps what a
child reports to the report bounds (rollup.clamp_entry); the CRDs carry the same numbers, so
the API server refuses what the agent would drop (tests/unit/fornax/test_limits.py checks
that every CRD says what this module says, and crds/ is where a change must follow).
"""

from __future__ import annotations

# -- the tree -----------------------------------------------------------------------------------

# Tiers a tree may have: the root is tier 0, the deepest cluster tier MAX_TIERS - 1. Exported to
# playbooks as ``fornax_max_tiers``.
MAX_TIERS = 16
# Clusters in one tree: also the most any report may claim for a subtree.
MAX_CLUSTERS = 100_000

# -- names and state paths ----------------------------------------------------------------------

# A cluster name is a DNS-1123 label: it is a Kubernetes object name and a segment of paths.
NAME_MAX = 63
NAME_PATTERN = f"[a-z0-9]([-a-z0-9]{{0,{NAME_MAX - 2}}}[a-z0-9])?"
# A state path names a cluster below the one holding a Mission (``b``, ``b/c``): at most one
# segment per tier below the root.
MAX_PATH_SEGMENTS = MAX_TIERS - 1
MAX_PATH_LENGTH = MAX_PATH_SEGMENTS * (NAME_MAX + 1) - 1
# The bucket that holds the smallest folded subtrees: ``*`` or ``<path>/*`` (rollup.OTHERS).
OTHERS = "*"
_DEEPER = f"(/{NAME_PATTERN})"
PATH_PATTERN = f"^{NAME_PATTERN}{_DEEPER}{{0,{MAX_PATH_SEGMENTS - 1}}}$"
# ... and a summary's: a path, or the bucket below a path (or at the top).
SUMMARY_PATH_PATTERN = (
    f"^({NAME_PATTERN}{_DEEPER}{{0,{MAX_PATH_SEGMENTS - 1}}}"
    f"|({NAME_PATTERN}{_DEEPER}{{0,{MAX_PATH_SEGMENTS - 2}}}/)?[{OTHERS}])$"
)

# -- what one Mission's status (or one child's report of it) holds ------------------------------

# A state string: the agent's own are short (``failed: <reason>`` keeps 300 characters of the
# reason; a statecheck's output is cut at 200); longer ones are cut with "...".
MAX_STATE_LENGTH = 512
# Per-path states, and folded subtree summaries, in one Mission's status or one child's entry
# for it: the ceiling of the agent's ``max_paths``.
MAX_PATHS = 1000
# Groups in one ClusterReport shard: Missions whose entries are alike, sent as one entry and a
# name -> generation map (the API server validates an object per field, so a shard of 62 alike
# entries costs it ~4 ms as one group, ~15 ms one by one). An honest child sends its other
# entries one by one (rollup.group_entries).
MAX_REPORT_GROUPS = 100


def cel_all_keys_match(pattern: str) -> str:
    """The CEL rule a CRD puts on a map whose keys must match ``pattern``."""
    return f"self.all(k, k.matches('{pattern}'))"

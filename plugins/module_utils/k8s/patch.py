# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""JSON merge patches (RFC 7386) computed from two documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge_patch(old: Any, new: Any) -> Any:
    """The smallest merge patch turning ``old`` into ``new``.

    Mappings are compared key by key (a removed key becomes null); any other value that differs
    is replaced whole. Two equal documents give an empty patch ({}).
    """
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return new
    patch: dict = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            if isinstance(value, Mapping) and isinstance(old[key], Mapping):
                patch[key] = merge_patch(old[key], value)
            else:
                patch[key] = value
    return patch


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """``doc`` with ``patch`` applied, as an API server would (used to check patches)."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(doc) if isinstance(doc, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result

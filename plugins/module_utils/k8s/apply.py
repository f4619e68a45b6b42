# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Server-side apply that reports honest changes and diffs.

A live object carries much that an apply never touches: status, defaults, managedFields,
resourceVersion. Comparing whole objects reports false changes (the complaint against
kubernetes.core). Here both sides are projected onto the fields this field manager applies
(what it sends now plus what it owned before), so ``changed`` is true exactly when one of those
fields differs, and check mode goes through the server's dry run.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .client import KubeClient

FieldTree = dict  # nested dict of map keys; {} marks a leaf (a scalar or an atomic list)


@dataclass
class ApplyResult:
    changed: bool
    before: Optional[dict]  # live object projected onto the applied fields (None: absent)
    after: Optional[dict]  # the same projection of the object after the (dry-run) apply
    result: Optional[dict]  # the full object the server returned


def shape_of(obj: Any) -> FieldTree:
    """The key tree of a desired object: maps are followed, everything else is a leaf."""
    if not isinstance(obj, Mapping):
        return {}
    return {key: shape_of(value) for key, value in obj.items()}


def _fields_v1_tree(fields: Mapping[str, Any]) -> FieldTree:
    tree: FieldTree = {}
    for key, value in fields.items():
        if key.startswith("f:"):
            sub = value if isinstance(value, Mapping) else {}
            # A list's elements are keyed k:/v:/i:; treat the list as one leaf.
            nested = {k: v for k, v in sub.items() if k.startswith("f:")}
            listy = any(k[:2] in ("k:", "v:", "i:") for k in sub)
            tree[key[2:]] = {} if listy else _fields_v1_tree(nested)
    return tree


def owned_fields(obj: Optional[Mapping[str, Any]], manager: str) -> FieldTree:
    """The fields ``manager`` owns through apply in ``obj`` (from metadata.managedFields)."""
    tree: FieldTree = {}
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            if entry.get("subresource"):
                continue
            tree = merge_trees(tree, _fields_v1_tree(entry.get("fieldsV1") or {}))
    return tree


def merge_trees(a: FieldTree, b: FieldTree) -> FieldTree:
    merged = dict(a)
    for key, sub in b.items():
        if key not in merged:
            merged[key] = sub
        elif merged[key] and sub:
            merged[key] = merge_trees(merged[key], sub)
        else:
            merged[key] = {}  # a leaf on either side: compare the whole value
    return merged


def project(obj: Any, tree: FieldTree) -> Any:
    """The parts of ``obj`` named by ``tree`` (missing keys are left out)."""
    if not isinstance(obj, Mapping):
        return copy.deepcopy(obj)
    out = {}
    for key, sub in tree.items():
        if key not in obj:
            continue
        value = obj[key]
        out[key] = project(value, sub) if sub and isinstance(value, Mapping) else value
    return copy.deepcopy(out)


def apply_object(
    client: KubeClient,
    path: str,
    desired: Mapping[str, Any],
    *,
    field_manager: str,
    force: bool = False,
    dry_run: bool = False,
    live: Any = False,
) -> ApplyResult:
    """Apply ``desired`` at ``path`` and compare only the fields this manager applies.

    ``live`` is the object as read before (pass it when already fetched; None means absent).
    """
    before_obj = client.get_or_none(path) if live is False else live
    tree = merge_trees(shape_of(desired), owned_fields(before_obj, field_manager))
    for volatile in ("resourceVersion", "managedFields", "uid", "creationTimestamp"):
        tree.get("metadata", {}).pop(volatile, None)
    result = client.apply(path, desired, field_manager=field_manager, force=force, dry_run=dry_run)
    before = project(before_obj, tree) if before_obj is not None else None
    after = project(result, tree)
    return ApplyResult(changed=before != after, before=before, after=after, result=result)


def delete_object(
    client: KubeClient, path: str, *, dry_run: bool = False, live: Any = False
) -> Optional[dict]:
    """Delete the object at ``path`` if it exists; return what was there (None: nothing).

    ``live`` is the object as read before (pass it when already fetched; None means absent).
    """
    if live is False:
        live = client.get_or_none(path)
    if live is not None:
        client.delete_if_exists(path, dry_run=dry_run)
    return live

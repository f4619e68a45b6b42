"""Any wrong type anywhere in the file is reported as a HierarchyError, never a crash."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hierarchy_docs import base_document

from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.errors import (
    HierarchyError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.load import (
    load_hierarchy,
)

ODD_VALUES: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], [1], {}, {"a": {}}, [{"b": []}]]


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path into ``value``."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found += paths(item, (*prefix, index))
    return found


def replaced(document: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


ALL_PATHS = paths(base_document())


@pytest.mark.parametrize("seed", range(8))
def test_odd_values_everywhere(seed):
    rng = random.Random(seed)
    for path in ALL_PATHS:
        document = replaced(base_document(), path, rng.choice(ODD_VALUES))
        try:
            load_hierarchy(document, source="fornax.yml")
        except HierarchyError as exc:
            assert str(exc).startswith("fornax.yml: invalid Fornax hierarchy"), path

"""Fixtures of the hierarchy inventory tests."""

from __future__ import annotations

from typing import Any

import pytest
from hierarchy_docs import base_document


@pytest.fixture
def doc() -> dict[str, Any]:
    """A fresh copy of the valid base document, free to modify."""
    return base_document()

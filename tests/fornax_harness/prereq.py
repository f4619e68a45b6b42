"""The no-silent-skip rule: under CI a missing prerequisite fails loudly, elsewhere it skips."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(ok: bool, what: str, how: str) -> None:
    """Stop the test when ``ok`` is false: a failure under CI=true, a skip elsewhere.

    ``what`` names the missing prerequisite, ``how`` says how to install or enable it.
    """
    if ok:
        return
    message = f"missing prerequisite: {what}. {how}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""PyYAML, imported once and guarded: module_utils must import on hosts without it."""

from __future__ import annotations

import traceback

try:
    import yaml
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    yaml = None  # type: ignore[assignment]
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None


def require_yaml() -> None:
    """Raise ImportError with an install hint when PyYAML is missing."""
    if yaml is None:
        raise ImportError(
            "PyYAML is required (pip install PyYAML, or apt-get install python3-yaml):\n"
            f"{YAML_IMPORT_ERROR}"
        )

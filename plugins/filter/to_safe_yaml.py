# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The ``centaurus.fornax.to_safe_yaml`` filter: YAML that Go's YAML 1.1 readers read back.

Documented in to_safe_yaml.yml. Built on module_utils/k8s/yaml_support.safe_dump, the one place
that knows which plain scalars a YAML 1.1 reader takes for something else.
"""

from __future__ import annotations

import json
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import (
    safe_dump,
)


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} has no YAML form a Go reader shares")


def to_safe_yaml(value: Any, indent: int = 2) -> str:
    """``value`` as block YAML in which every string a YAML 1.1 reader would take for a
    number, a boolean or null (``101``, ``on``, ``y``, ``1e3``, ``0o17``...) is quoted."""
    try:
        # Ansible hands filters its own (tagged) subclasses of str, dict and list: JSON turns
        # them back into the plain values the dumper knows.
        plain = json.loads(json.dumps(value, default=_refuse))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"to_safe_yaml: {exc}") from exc
    return safe_dump(plain, indent=indent)


class FilterModule:
    def filters(self) -> dict:
        return {"to_safe_yaml": to_safe_yaml}

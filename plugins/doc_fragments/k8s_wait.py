# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Wait options shared by the modules that can wait for an object's state."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until the object reaches the wanted state (after applying or deleting it).
      - With O(state=absent), waits until the object is gone.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait at most; then the task fails and says what is still behind.
    type: int
    default: 120
  wait_sleep:
    description:
      - Seconds between two looks at the object.
    type: float
    default: 1
"""

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Bounded polling: look at something until a condition holds or the time is up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class WaitOutcome:
    met: bool
    value: Any  # the last thing looked at
    verdict: Any  # what the check said about it last
    elapsed: float
    looks: int


def poll(
    fetch: Callable[[], Any],
    check: Callable[[Any], Any],
    *,
    timeout: float,
    sleep: float = 1.0,
    met: Callable[[Any], bool] = bool,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> WaitOutcome:
    """Call ``fetch`` then ``check`` until ``met(verdict)`` or ``timeout`` seconds have passed.

    The first look happens at once; the pause between looks starts short (a tenth of ``sleep``)
    and grows to ``sleep``, so a condition that is almost met is seen quickly.
    """
    started = clock()
    looks = 0
    delay = max(sleep / 10, 0.05)
    while True:
        value = fetch()
        verdict = check(value)
        looks += 1
        elapsed = clock() - started
        if met(verdict):
            return WaitOutcome(True, value, verdict, elapsed, looks)
        if elapsed >= timeout:
            return WaitOutcome(False, value, verdict, elapsed, looks)
        pause(min(delay, max(0.0, timeout - elapsed)))
        delay = min(delay * 2, sleep)

"""Unexpected exceptions: logged with their traceback once, counted always, survived.

Every thread of the agent (the work loop, the informers, the heartbeat, the status writers,
the command workers) hands what it did not expect to ``FAULTS.unexpected`` and carries on. The
traceback is logged the first time an exception type is raised at a given place; later ones are
one line with the running count, so a Mission that fails the same way every retry cannot flood
the journal, and a fault is never silent either.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import Counter

log = logging.getLogger("fornax.agent.faults")


def origin(exc: BaseException) -> str:
    """Where ``exc`` was raised: the innermost frame's file and line."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


def describe(exc: BaseException) -> str:
    """One line for a state or a log: the exception's type and message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def unexpected(self, where: str, exc: BaseException, what: str = "") -> int:
        """Record an exception nobody expected in ``where`` (a thread or a work kind);
        ``what`` names the item (a Mission). Returns how often this fault was seen."""
        key = (where, type(exc).__name__, origin(exc))
        with self.lock:
            self.counts[key] += 1
            seen = self.counts[key]
        item = f" ({what})" if what else ""
        if seen == 1:
            log.error(
                "unexpected %s in %s%s, at %s; the agent carries on (traceback logged once):",
                type(exc).__name__,
                where,
                item,
                key[2],
                exc_info=exc,
            )
        else:
            log.warning(
                "unexpected %s in %s%s again (%d times): %s",
                type(exc).__name__,
                where,
                item,
                seen,
                describe(exc)[:300],
            )
        return seen

    def total(self) -> int:
        with self.lock:
            return sum(self.counts.values())


FAULTS = Faults()

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Problems found in a hierarchy file, reported together with the entry they concern."""

from __future__ import annotations

from typing import Optional

# Enough to fix a file in one go without burying the first problem in a wall of text.
MAX_REPORTED = 25


class Problem:
    """One thing wrong with the file: where (``entry``, e.g. ``clusters[3] 'b'``, and the
    ``line`` when a reader of the file found it) and why."""

    __slots__ = ("entry", "line", "reason")

    def __init__(self, entry: str, reason: str) -> None:
        self.entry = entry
        self.reason = reason
        self.line: Optional[int] = None

    def __str__(self) -> str:
        where = f"{self.entry} (line {self.line})" if self.line else self.entry
        return f"{where}: {self.reason}" if where else self.reason

    def __repr__(self) -> str:
        return f"Problem({self.entry!r}, {self.reason!r})"


class HierarchyError(ValueError):
    """The file does not describe a valid hierarchy; ``problems`` lists every reason found."""

    def __init__(self, source: Optional[str], problems: list[Problem]) -> None:
        self.source = source or "<hierarchy>"
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        shown = [f"  - {problem}" for problem in self.problems[:MAX_REPORTED]]
        hidden = len(self.problems) - len(shown)
        if hidden > 0:
            shown.append(f"  - ... and {hidden} more")
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        return f"{self.source}: invalid Fornax hierarchy, {count} {noun}:\n" + "\n".join(shown)


class ProblemLog:
    """Collects problems of one stage; ``raise_if_any`` ends the stage when it found some."""

    def __init__(self, source: Optional[str]) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, entry: str, reason: str) -> None:
        self.problems.append(Problem(entry, reason))

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise HierarchyError(self.source, self.problems)

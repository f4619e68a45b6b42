"""Stand-ins for the agent's pieces in unit tests (no API server behind them)."""

from __future__ import annotations

import threading
from typing import Any


class StubInformer:
    """An informer already synced over a fixed dict of objects."""

    def __init__(self, objects: dict) -> None:
        self.objects = objects
        self.synced = threading.Event()
        self.synced.set()

    def snapshot(self) -> dict:
        return dict(self.objects)

    def get(self, key: str) -> Any:
        return self.objects.get(key)

    def count(self) -> int:
        return len(self.objects)

    def offer(self, obj: Any) -> bool:
        """The answer of a write, taken as the watch would bring it."""
        self.objects[obj["metadata"]["name"]] = obj
        return True

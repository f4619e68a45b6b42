"""What the agent must remember across its own restarts, in one small JSON file."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any


class Store:
    """A dict persisted atomically (write to a temporary file, then rename)."""

    def __init__(self, directory: str, name: str = "agent-state.json") -> None:
        self.path = Path(directory) / name
        self.lock = threading.Lock()
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        # A damaged file costs what it held, never the agent's start.
        self.data: dict[str, Any] = {
            k: v for k, v in (data if isinstance(data, dict) else {}).items() if isinstance(v, dict)
        }

    def get(self, section: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.data.get(section) or {})

    def put(self, section: str, key: str, value: Any) -> None:
        with self.lock:
            bucket = self.data.setdefault(section, {})
            if value is None:
                if key not in bucket:
                    return
                del bucket[key]
            elif bucket.get(key) == value:
                return
            else:
                bucket[key] = value
            self._flush()

    def _flush(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.data, handle, sort_keys=True)
        os.replace(tmp, self.path)

# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Kubernetes timestamps: RFC 3339 in UTC with whole seconds, as the API server writes them."""

from __future__ import annotations

import calendar
import time
from typing import Any, Optional

RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


def rfc3339(moment: Optional[float] = None) -> str:
    """``moment`` (seconds since the epoch; now when None) as an RFC 3339 UTC timestamp."""
    return time.strftime(RFC3339, time.gmtime(int(time.time() if moment is None else moment)))


def parse_rfc3339(text: Any) -> Optional[float]:
    """Seconds since the epoch of a timestamp in RFC3339's form, or None when it is not one."""
    try:
        return float(calendar.timegm(time.strptime(str(text), RFC3339)))
    except ValueError:
        return None

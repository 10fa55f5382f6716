"""The one place Stepstone reads the time, so tests can move it."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def iso(ts: float | None = None) -> str:
    """An ISO 8601 UTC timestamp for storage and display."""
    moment = now() if ts is None else ts
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")

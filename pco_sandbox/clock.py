"""The sandbox's clock: every created_at / updated_at / token expiry comes from here.

By default it follows the wall clock; `advance()` moves it forward (e.g. to expire an OAuth access
token or to make a later edit fall into a new second). A frozen clock only moves when advanced.
Rate-limit windows and webhook retry delays use real monotonic time instead, so advancing the
clock never waits and never unblocks a client early.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def format_timestamp(moment: datetime) -> str:
    """PCO's timestamp format: UTC, second resolution, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        """`start` (aware or naive-UTC) sets the current time; `frozen` stops it following the wall."""
        self._lock = threading.Lock()
        self._frozen = frozen
        now = datetime.now(UTC)
        start = now if start is None else (start if start.tzinfo else start.replace(tzinfo=UTC))
        self._offset = start - now      # wall-clock following: now() = wall + offset
        self._fixed = start             # frozen: now() = fixed

    def now(self) -> datetime:
        with self._lock:
            return self._fixed if self._frozen else datetime.now(UTC) + self._offset

    def timestamp(self) -> str:
        return format_timestamp(self.now())

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move the clock forward (negative values are refused: PCO's time does not run back)."""
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += delta
            self._fixed += delta
        return self.now()

    def set(self, moment: datetime) -> None:
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        with self._lock:
            self._offset = moment - datetime.now(UTC)
            self._fixed = moment

    @property
    def frozen(self) -> bool:
        return self._frozen

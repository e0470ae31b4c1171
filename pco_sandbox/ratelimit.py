"""PCO's per-credential rate limit: 100 requests per 20 s by default, a fixed window per credential.

Every request counts, rejected ones included, so a client that ignores 429 sees "118 of 100"
(the documented sample). A 429 carries `Retry-After` = whole seconds until the window resets.
Requests with `offset` above 30,000 are judged against a stricter 75 per window (DOC). The
window algorithm itself is undocumented; a fixed window that starts at a credential's first
request is the simplest one consistent with the samples. Windows run on real monotonic time.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds|m|min)?\s*$")
UNLIMITED = 1_000_000_000


@dataclass(frozen=True)
class RateLimit:
    limit: int
    period: float  # seconds

    @classmethod
    def parse(cls, text: str) -> "RateLimit":
        """"100/20s", "100/20", "2/1s", "100/500ms", "60/1m"; "off" / "none" / "unlimited" disables it.

        Raises ValueError naming the expected form.
        """
        if text.strip().lower() in ("off", "none", "unlimited", "0"):
            return cls(UNLIMITED, 20.0)
        match = _SPEC.match(text)
        if not match or int(match.group(1)) <= 0 or float(match.group(2)) <= 0:
            raise ValueError(f"rate limit {text!r} is not '<requests>/<seconds>s' (e.g. 100/20s) or 'off'")
        unit = match.group(3) or "s"
        scale = {"ms": 0.001, "m": 60.0, "min": 60.0}.get(unit, 1.0)
        return cls(int(match.group(1)), float(match.group(2)) * scale)

    @property
    def period_header(self) -> str:
        """The period as PCO prints it on ordinary responses ("20")."""
        return f"{self.period:g}"

    @property
    def period_text(self) -> str:
        """The period as PCO prints it in 429s and error pages ("20 seconds")."""
        return f"{self.period:g} seconds"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    limit: int
    period: RateLimit
    retry_after: int


class RateLimiter:
    def __init__(self, rate: RateLimit, *, deep_offset_limit: int = 75, deep_offset_threshold: int = 30_000,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.deep_offset_limit = deep_offset_limit
        self.deep_offset_threshold = deep_offset_threshold
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # credential -> (window start, count)

    def set_rate(self, rate: RateLimit) -> None:
        with self._lock:
            self.rate = rate
            self._windows.clear()

    def hit(self, credential: str, *, offset: int = 0, lowered_limit: int | None = None) -> Verdict:
        """Count one request for `credential` and judge it against the limit that applies to it."""
        rate = self.rate
        limit = rate.limit
        if offset > self.deep_offset_threshold and limit != UNLIMITED:
            limit = min(limit, self.deep_offset_limit)
        if lowered_limit is not None:
            limit = min(limit, lowered_limit)
        now = self._monotonic()
        with self._lock:
            start, count = self._windows.get(credential, (now, 0))
            if now >= start + rate.period:
                start, count = now, 0
            count += 1
            self._windows[credential] = (start, count)
        retry_after = max(1, math.ceil(start + rate.period - now))
        return Verdict(count <= limit, count, limit, rate, retry_after)

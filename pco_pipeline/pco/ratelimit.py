"""One request budget per credential, shared by every thread in the process.

PCO allows about 100 requests per 20 s per user, but the limit and period are per-response
values (`X-PCO-API-Request-Rate-Limit`, `-Period` — "20" or "20 seconds" — and `-Count`),
stricter for deep offsets (75, or even 10, per 20 s). The window algorithm is undocumented, so
the budget enforces the strictest reading that still uses the whole allowance: **no more than
`limit` requests in any `period`-long interval**, where a request occupies the budget from the
moment it is sent until `period` seconds after its response arrived. The server saw the request
somewhere in between, so whether PCO counts in fixed windows, sliding windows or a token
bucket, a request released by this budget is never over the limit — 429s only happen when
someone else spends the same credential, and `Rate-Count` reveals that spending too: a count
above every request this process holds a place for is booked as outside usage.

`Rate-Count` also says when PCO has *forgotten* requests sooner than that strict reading: the
requests whose answers arrived before a request was sent were counted before it, so a count
lower than theirs + 1 means the server no longer counts the oldest of them (its window reset).
Their places are freed at once. With PCO's fixed windows this turns "resume a period after each
answer", which replays the previous window's stagger, into "resume the whole budget as soon as
the first answer of the new window shows the reset" — without ever guessing the window's start.

On a 429 every thread waits `Retry-After` (the budget is closed until then).

Waiting requests are served first come, first served (per tier): when a window resets, the
request a listing asked for first — the page its caller needs next — goes out first, and each
waiter is woken alone when its turn comes, not the whole crowd on every change.

Tiers: a request at offset > 30,000 is in the `deep_offset` tier; the tier's limit is learned
from its own responses (the count is shared, the limit is stricter). Until a response of a tier
has arrived, its requests go one at a time, so learning its limit costs no 429s.
"""

from __future__ import annotations

import heapq
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DEFAULT_LIMIT = 100
DEFAULT_PERIOD = 20.0
DEEP_OFFSET = 30_000
DEEP_OFFSET_LIMIT = 75

_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "secs": 1, "m": 60, "min": 60, "minute": 60,
          "minutes": 60, "mins": 60, "h": 3600, "hour": 3600, "hours": 3600}


def parse_period(value: str | None) -> float | None:
    """`"20"` or `"20 seconds"` (also `"1 minute"`) → seconds; None when unreadable."""
    if not value:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2).lower()
    factor = _UNITS.get(unit) if unit else 1
    if factor is None or number <= 0:
        return None
    return number * factor


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """What PCO's rate headers said on one response."""

    limit: int | None
    period: float | None
    count: int | None
    retry_after: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> "RateLimitStatus":
        return cls(limit=_int(headers.get("X-PCO-API-Request-Rate-Limit")),
                   period=parse_period(headers.get("X-PCO-API-Request-Rate-Period")),
                   count=_int(headers.get("X-PCO-API-Request-Rate-Count")),
                   retry_after=_seconds(headers.get("Retry-After")))

    def describe(self) -> str:
        if self.limit is None:
            return "unknown (no rate headers)"
        period = f"{self.period:g} s" if self.period else "an unknown period"
        used = f", {self.count} used in the current window" if self.count is not None else ""
        return f"{self.limit} requests per {period}{used}"


def tier_for_offset(offset: int | None) -> str:
    return "deep_offset" if offset is not None and offset > DEEP_OFFSET else "default"


class Abandoned(Exception):
    """A waiting request was given up by its caller before it was sent (nothing reached PCO)."""


@dataclass(slots=True)
class Slot:
    """A request's place in the budget, from `acquire` to `release`."""

    sent_at: float
    waited: float
    tier: str
    done: bool = False


class RateBudget:
    def __init__(self, limit: int = DEFAULT_LIMIT, period: float = DEFAULT_PERIOD,
                 clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._lines: dict[str, deque[threading.Condition]] = {}  # waiters per tier, in arrival order
        self._limits = {"default": limit, "deep_offset": min(limit, DEEP_OFFSET_LIMIT)}
        self._period = period
        self._in_flight: list[Slot] = []
        self._completed: list[tuple[float, float]] = []  # heap of (expires_at, answered_at)
        self._outside: list[float] = []  # expiry times of requests someone else made
        self._closed_until = 0.0
        self._learned: set[str] = set()
        self.last_status: RateLimitStatus | None = None

    @property
    def period(self) -> float:
        return self._period

    def limit(self, tier: str = "default") -> int:
        return self._limits.get(tier, self._limits["default"])

    def _forget_expired(self, now: float) -> None:
        while self._completed and self._completed[0][0] <= now:
            heapq.heappop(self._completed)
        self._outside = [t for t in self._outside if t > now]

    def in_use(self) -> int:
        with self._lock:
            self._forget_expired(self._clock())
            return len(self._in_flight) + len(self._completed) + len(self._outside)

    def acquire(self, tier: str = "default", cancel: threading.Event | None = None) -> Slot:
        """Block until a request of `tier` may be sent; the caller must `release` the slot.

        Requests of a tier are let through in the order they called. Raises Abandoned when
        `cancel` is set while waiting (see `wake_all`).
        """
        with self._lock:
            start = self._clock()
            turn = threading.Condition(self._lock)
            line = self._lines.setdefault(tier, deque())
            line.append(turn)
            try:
                while True:
                    if cancel is not None and cancel.is_set():
                        raise Abandoned("the request was abandoned while waiting for the rate budget")
                    if line[0] is not turn:
                        turn.wait()  # woken when it is first in line (or to check `cancel`)
                        continue
                    now = self._clock()
                    self._forget_expired(now)
                    if now < self._closed_until:
                        turn.wait(self._closed_until - now)
                        continue
                    used = len(self._in_flight) + len(self._completed) + len(self._outside)
                    excess = used - self.limit(tier)
                    probing = tier not in self._learned and any(s.tier == tier for s in self._in_flight)
                    if excess < 0 and not probing:
                        slot = Slot(sent_at=now, waited=now - start, tier=tier)
                        self._in_flight.append(slot)
                        return slot
                    # The (excess+1)-th expiry frees a place; in-flight requests free none until
                    # they complete (which wakes the first in line).
                    expiries = sorted([entry[0] for entry in self._completed] + self._outside)
                    turn.wait(expiries[excess] - now if 0 <= excess < len(expiries) else self._period)
            finally:
                first = line[0] is turn
                line.remove(turn)
                if first and line:
                    line[0].notify()  # the next in line may find a place too

    def _wake_first(self) -> None:
        """Something changed (a place freed, the budget reopened): the first waiter of each tier checks."""
        for line in self._lines.values():
            if line:
                line[0].notify()

    def release(self, slot: Slot, status: RateLimitStatus | None = None) -> None:
        """The request of `slot` finished (any outcome); `status` is what its response said."""
        with self._lock:
            if slot.done:
                return
            slot.done = True
            now = self._clock()
            self._in_flight.remove(slot)
            if status is not None:
                self._learned.add(slot.tier)  # a response came: its rate headers (if any) are known
                if status.limit is not None:
                    self._learn(slot, status, status.limit, now)
            heapq.heappush(self._completed, (now + self._period, now))
            self._wake_first()

    def _learn(self, slot: Slot, status: RateLimitStatus, limit: int, now: float) -> None:
        """What a response's rate headers (`limit`, its X-PCO-API-Request-Rate-Limit) say."""
        self.last_status = status
        if status.period:
            self._period = status.period
        self._limits[slot.tier] = max(1, limit)
        if slot.tier == "default":
            self._limits["deep_offset"] = min(self._limits["deep_offset"], self._limits["default"])
        if status.count is None:
            return
        self._forget_expired(now)
        self._forget_what_the_server_forgot(slot.sent_at, status.count)
        # Requests of ours the server may have counted before this one: every one we hold, since
        # concurrent requests reach it in any order. More than that on its count is outside usage.
        ours = 1 + len(self._in_flight) + len(self._completed)
        outside = status.count - ours
        self._outside = [now + self._period] * outside if outside > 0 else []

    def _forget_what_the_server_forgot(self, sent_at: float, count: int) -> None:
        """Free the places of answered requests the server no longer counts.

        Every request answered before `sent_at` reached the server before the request that
        reported `count`, so if the server still counted all of them the count would be at
        least their number + 1. The server forgot the ones it counted first, which concurrent
        requests do not reveal; freeing the places that were answered first is safe whichever
        they were, because a request is counted before it is answered: the places kept still
        expire no earlier than the server forgets the requests it still counts.
        """
        counted_before = sorted((entry for entry in self._completed if entry[1] <= sent_at),
                                key=lambda entry: entry[1])
        forgotten = len(counted_before) - (count - 1)
        if forgotten <= 0:
            return
        gone = {id(entry) for entry in counted_before[:forgotten]}
        self._completed = [entry for entry in self._completed if id(entry) not in gone]
        heapq.heapify(self._completed)
        self._wake_first()

    def wake_all(self) -> None:
        """Let every waiter re-check its cancel event."""
        with self._lock:
            for line in self._lines.values():
                for turn in line:
                    turn.notify()

    def close_for(self, seconds: float) -> None:
        """After a 429: nobody sends for `seconds` (PCO's Retry-After)."""
        with self._lock:
            self._closed_until = max(self._closed_until, self._clock() + seconds)
            self._wake_first()

    def seconds_until_open(self) -> float:
        with self._lock:
            return max(0.0, self._closed_until - self._clock())


_registry: dict[str, RateBudget] = {}
_registry_lock = threading.Lock()


def budget_for(key: str) -> RateBudget:
    """The process-wide budget of one credential (`key` is a fingerprint, never the secret)."""
    with _registry_lock:
        budget = _registry.get(key)
        if budget is None:
            budget = _registry[key] = RateBudget()
        return budget

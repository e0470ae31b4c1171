"""What a client spent: requests, 429s, retries, pages, records, bytes, seconds waiting.

`client.counters.snapshot()` is a frozen `CounterSnapshot`; subtracting two snapshots gives
what happened in between, which is how an asset reports its own share of a shared client:

    before = pco.counters.snapshot()
    ...                                   # the asset's requests
    context.add_output_metadata((pco.counters.snapshot() - before).as_metadata())
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    requests: int = 0          # HTTP requests sent to the API (retries included)
    rate_limited: int = 0      # 429 responses
    retries: int = 0           # requests sent again after a 429, timeout, connection error or 5xx
    pages: int = 0             # collection pages read
    records: int = 0           # records parsed from pages
    record_errors: int = 0     # malformed records (reported, not fatal)
    bytes_received: int = 0    # response body bytes
    wait_seconds: float = 0.0  # blocked by the rate budget (pacing and Retry-After)
    backoff_seconds: float = 0.0  # sleeping between retries of failed requests

    def __sub__(self, other: "CounterSnapshot") -> "CounterSnapshot":
        return CounterSnapshot(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})

    def __add__(self, other: "CounterSnapshot") -> "CounterSnapshot":
        return CounterSnapshot(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)

    def as_metadata(self, prefix: str = "pco_") -> dict[str, int | float]:
        """Plain values (ints, seconds rounded to ms) under `pco_*` keys, ready for Dagster metadata."""
        return {f"{prefix}{k}": (round(v, 3) if isinstance(v, float) else v) for k, v in self.as_dict().items()}


class Counters:
    """Thread-safe running totals of one client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = CounterSnapshot()

    def add(self, **increments: int | float) -> None:
        with self._lock:
            totals = self._totals
            self._totals = replace(totals, **{name: getattr(totals, name) + amount
                                              for name, amount in increments.items()})

    def snapshot(self) -> CounterSnapshot:
        with self._lock:
            return self._totals

    def reset(self) -> CounterSnapshot:
        """Zero the totals; returns what they were."""
        with self._lock:
            before, self._totals = self._totals, CounterSnapshot()
            return before

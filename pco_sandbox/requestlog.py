"""What clients asked the sandbox: a bounded request log and running counters.

Counters never reset on their own (`reset()` clears both); the log keeps the newest `capacity`
entries. Requests to the /_sandbox/ controls are not recorded.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LoggedRequest:
    at: str                 # sandbox clock
    method: str
    path: str
    query: str
    status: int
    credential: str | None  # the rate-limit bucket, never a secret
    duration_ms: float
    faults: tuple[str, ...]
    request_id: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self, capacity: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=capacity)
        self._by_route: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)
            self._by_route[f"{entry.method} {entry.path}"] += 1
            self._by_status[entry.status] += 1

    def entries(self, limit: int | None = None) -> list[LoggedRequest]:
        with self._lock:
            entries = list(self._entries)
        return entries[-limit:] if limit else entries

    def counters(self) -> dict[str, Any]:
        """{"requests": n, "rate_limited": n429, "by_status": {...}, "by_route": {"GET /people/v2/people": n}}."""
        with self._lock:
            return {"requests": sum(self._by_status.values()), "rate_limited": self._by_status.get(429, 0),
                    "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
                    "by_route": dict(sorted(self._by_route.items()))}

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_route.clear()
            self._by_status.clear()

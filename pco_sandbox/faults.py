"""Fault injection: the failures a PCO client must survive, on demand.

A `Fault` applies to requests matching its method / path prefix, either with a probability per
request or to the next `count` requests (both: each of the next `count` firings happens with that
probability; neither: every request). Kinds:

* latency    — wait `latency_ms` before answering (adds up across latency faults);
* error      — answer `status` (default 503) with a JSON error document;
* reset      — drop the connection without a response (a TCP reset over HTTP; in-process the
               client gets httpx.RemoteProtocolError);
* timeout    — hold the request for `seconds` (or until the client gives up), then drop it
               (in-process: httpx.ReadTimeout after `seconds`);
* malformed  — answer 200 with the real body cut in half (invalid JSON);
* rate_limit — judge the request against a lowered limit `limit` (like "24 of 10", ISS#1449).

Decisions use a seeded random generator, so a seeded sandbox fails the same way every run.
"""

from __future__ import annotations

import itertools
import random
import socket
import struct
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = ("latency", "error", "reset", "timeout", "malformed", "rate_limit")
TERMINAL_KINDS = frozenset({"error", "reset", "timeout", "malformed"})


@dataclass
class Fault:
    kind: str
    probability: float | None = None
    count: int | None = None
    method: str | None = None
    path_prefix: str | None = None
    latency_ms: float = 0.0
    status: int = 503
    seconds: float = 30.0
    limit: int = 10
    id: int = 0
    fired: int = field(default=0)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and \
            (self.path_prefix is None or path.startswith(self.path_prefix))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    """What the faults decided for one request."""

    latency_ms: float = 0.0
    lowered_limit: int | None = None
    terminal: Fault | None = None

    @property
    def names(self) -> list[str]:
        names = ["latency"] if self.latency_ms else []
        if self.lowered_limit is not None:
            names.append("rate_limit")
        if self.terminal is not None:
            names.append(self.terminal.kind)
        return names


class Faults:
    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._random = random.Random(seed)

    def add(self, kind: str, **options: Any) -> Fault:
        """Register a fault (see the module doc for kinds and options). Raises ValueError."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose one of {', '.join(FAULT_KINDS)}")
        unknown = set(options) - {"probability", "count", "method", "path_prefix", "latency_ms", "status",
                                  "seconds", "limit"}
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
        fault = Fault(kind, **options)
        if fault.probability is not None and not 0.0 <= fault.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if fault.count is not None and fault.count < 1:
            raise ValueError("count must be at least 1")
        if kind == "error" and not 400 <= fault.status <= 599:
            raise ValueError("an error fault's status must be 4xx or 5xx")
        with self._lock:
            fault.id = next(self._ids)
            self._faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) < before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def plan(self, method: str, path: str) -> Plan:
        plan = Plan()
        with self._lock:
            if not self._faults:
                return plan
            for fault in list(self._faults):
                if not fault.matches(method, path):
                    continue
                if fault.kind in TERMINAL_KINDS and plan.terminal is not None:
                    continue
                if fault.probability is not None and self._random.random() >= fault.probability:
                    continue
                fault.fired += 1
                if fault.count is not None and fault.fired >= fault.count:
                    self._faults.remove(fault)
                if fault.kind == "latency":
                    plan.latency_ms += fault.latency_ms
                elif fault.kind == "rate_limit":
                    plan.lowered_limit = fault.limit if plan.lowered_limit is None else min(plan.lowered_limit,
                                                                                           fault.limit)
                else:
                    plan.terminal = fault
        return plan


def abort_connection(send: Any) -> bool:
    """Reset the client's TCP connection under uvicorn (linger 0, then abort → RST).

    uvicorn hands the app its protocol cycle's bound `send`; the cycle holds the transport.
    Returns False when there is no socket to reset (in-process transports).
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()
    return True

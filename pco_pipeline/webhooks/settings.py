"""The receiver's configuration: webhook secrets, request limits and the listener's connection limits.

PCO gives every subscription its own `authenticity_secret`, and one receiver URL serves many
subscriptions, so the receiver holds a list of secrets. They come from `PCO_WEBHOOK_SECRETS`
(comma-separated) and/or from the caller. A secret is never part of a repr, a log line or an
error message.

The receiver is the one listener exposed to the internet, and everything a connection costs
before its signature can be checked is spent on behalf of anyone: `ConnectionLimits` bounds it
in the process itself (a reverse proxy in front is welcome, but not relied on).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SECRETS_ENV = "PCO_WEBHOOK_SECRETS"
MAX_BODY_ENV = "PCO_WEBHOOK_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 256 * 1024
# Bounds the memory one request may take; PCO's own deliveries are a few KiB.
LARGEST_MAX_BODY_BYTES = 64 * 1024 * 1024

READ_TIMEOUT_ENV = "PCO_WEBHOOK_READ_TIMEOUT_SECONDS"
MAX_HEADER_BYTES_ENV = "PCO_WEBHOOK_MAX_HEADER_BYTES"
KEEP_ALIVE_ENV = "PCO_WEBHOOK_KEEP_ALIVE_SECONDS"
MAX_CONCURRENCY_ENV = "PCO_WEBHOOK_MAX_CONCURRENCY"
BACKLOG_ENV = "PCO_WEBHOOK_BACKLOG"
# A request (line, headers and body) must have arrived this long after the connection opened, or
# after its first byte on a kept-alive connection. A PCO delivery of a few KiB takes milliseconds;
# a request still trickling in after this is holding a connection on purpose (slowloris).
DEFAULT_READ_TIMEOUT_SECONDS = 10.0
# h11's own default; PCO's request line and headers are under 2 KiB.
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
# uvicorn's default: an idle kept-alive connection is closed after this.
DEFAULT_KEEP_ALIVE_SECONDS = 5.0
# A request that arrives while this many connections are open, or this many requests are in
# progress, is answered 503 (PCO retries it). PCO delivers a handful at a time; 256 × the
# 256 KiB body limit bounds the memory requests can hold at ~64 MiB.
DEFAULT_MAX_CONCURRENCY = 256
# Connections the kernel queues before the server accepts them (uvicorn's default).
DEFAULT_BACKLOG = 2048


class WebhookSettingsError(ValueError):
    """A receiver setting is wrong; the message names the setting (never a secret's value)."""


@dataclass(frozen=True)
class _Range:
    """The values one numeric setting accepts, with its environment variable for error messages."""

    env: str
    low: int | float
    high: int | float
    unit: str

    @property
    def whole(self) -> bool:
        return isinstance(self.low, int)

    def describe(self) -> str:
        if self.whole:
            return f"a whole number of {self.unit} from {self.low} to {self.high}"
        return f"a number of {self.unit} from {self.low:g} to {self.high:g}"

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int if self.whole else (int, float)):
            return False
        return math.isfinite(value) and self.low <= value <= self.high

    def check(self, name: str, value: object) -> None:
        if not self.accepts(value):
            raise WebhookSettingsError(f"{name} ({self.env}) must be {self.describe()}")

    def read(self, environ: Mapping[str, str]) -> int | float | None:
        """The variable's value, None when unset; WebhookSettingsError naming it when unusable."""
        raw = environ.get(self.env, "").strip()
        if not raw:
            return None
        try:
            value: int | float = int(raw) if self.whole else float(raw)
        except ValueError:
            value = math.nan
        if not self.accepts(value):
            raise WebhookSettingsError(f"{self.env} must be {self.describe()}, got {raw!r}")
        return value


def _range(env: str, low: int | float, high: int | float, unit: str) -> dict:
    """Field metadata: the range a numeric setting accepts and the variable it is read from."""
    return {"range": _Range(env, low, high, unit)}


def _check_ranges(settings: DataclassInstance) -> None:
    for f in fields(settings):
        if "range" in f.metadata:
            f.metadata["range"].check(f.name, getattr(settings, f.name))


def _from_env(cls: type, environ: Mapping[str, str]) -> dict:
    """The keyword arguments of `cls` whose variables are set in `environ`."""
    values = {f.name: f.metadata["range"].read(environ) for f in fields(cls) if "range" in f.metadata}
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class ConnectionLimits:
    """What one HTTP connection may cost the listener before (and while) a request is served.

    Applied by `webhooks.server` (uvicorn's settings, plus the read timeout uvicorn lacks).
    """

    read_timeout_seconds: float = field(default=DEFAULT_READ_TIMEOUT_SECONDS,
                                        metadata=_range(READ_TIMEOUT_ENV, 0.1, 300.0, "seconds"))
    max_header_bytes: int = field(default=DEFAULT_MAX_HEADER_BYTES,
                                  metadata=_range(MAX_HEADER_BYTES_ENV, 1024, 1024 * 1024, "bytes"))
    keep_alive_seconds: float = field(default=DEFAULT_KEEP_ALIVE_SECONDS,
                                      metadata=_range(KEEP_ALIVE_ENV, 0.1, 300.0, "seconds"))
    max_concurrency: int = field(default=DEFAULT_MAX_CONCURRENCY,
                                 metadata=_range(MAX_CONCURRENCY_ENV, 1, 100_000, "connections"))
    backlog: int = field(default=DEFAULT_BACKLOG, metadata=_range(BACKLOG_ENV, 1, 65_535, "connections"))

    def __post_init__(self) -> None:
        _check_ranges(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ConnectionLimits":
        """Limits from the `PCO_WEBHOOK_*` variables above (defaults for those unset).

        Raises WebhookSettingsError naming the variable when a value is unusable.
        """
        return cls(**_from_env(cls, os.environ if environ is None else environ))


def parse_secrets(text: str) -> tuple[str, ...]:
    """The secrets in a comma-separated list: whitespace trimmed, empty entries and repeats dropped."""
    return _unique(part.strip() for part in text.split(","))


def _unique(secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for s in secrets if s))


@dataclass(frozen=True)
class ReceiverSettings:
    """What the receiver checks a delivery against, and the limits of the listener serving it.
    `secrets` is hidden from repr."""

    secrets: tuple[str, ...] = field(default=(), repr=False)
    max_body_bytes: int = field(default=DEFAULT_MAX_BODY_BYTES,
                                metadata=_range(MAX_BODY_ENV, 1, LARGEST_MAX_BODY_BYTES, "bytes"))
    limits: ConnectionLimits = ConnectionLimits()

    def __post_init__(self) -> None:
        if isinstance(self.secrets, str) or not all(isinstance(s, str) for s in self.secrets):
            raise WebhookSettingsError("webhook secrets must be a sequence of strings")
        object.__setattr__(self, "secrets", _unique(s.strip() for s in self.secrets))
        _check_ranges(self)
        if not isinstance(self.limits, ConnectionLimits):
            raise WebhookSettingsError("limits must be a ConnectionLimits")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 extra_secrets: Iterable[str] = ()) -> "ReceiverSettings":
        """Settings from `PCO_WEBHOOK_SECRETS`, `PCO_WEBHOOK_MAX_BODY_BYTES` and the connection
        limits' variables, plus `extra_secrets`.

        Raises WebhookSettingsError naming the variable when a value is unusable.
        """
        environ = os.environ if environ is None else environ
        secrets = (*parse_secrets(environ.get(SECRETS_ENV, "")), *extra_secrets)
        return cls(secrets=secrets, limits=ConnectionLimits.from_env(environ), **_from_env(cls, environ))

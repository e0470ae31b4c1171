"""The receiver's configuration: webhook secrets and the body size limit.

PCO gives every subscription its own `authenticity_secret`, and one receiver URL serves many
subscriptions, so the receiver holds a list of secrets. They come from `PCO_WEBHOOK_SECRETS`
(comma-separated) and/or from the caller. A secret is never part of a repr, a log line or an
error message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SECRETS_ENV = "PCO_WEBHOOK_SECRETS"
MAX_BODY_ENV = "PCO_WEBHOOK_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 256 * 1024
# Bounds the memory one request may take; PCO's own deliveries are a few KiB.
LARGEST_MAX_BODY_BYTES = 64 * 1024 * 1024


class WebhookSettingsError(ValueError):
    """A receiver setting is wrong; the message names the setting (never a secret's value)."""


def parse_secrets(text: str) -> tuple[str, ...]:
    """The secrets in a comma-separated list: whitespace trimmed, empty entries and repeats dropped."""
    return _unique(part.strip() for part in text.split(","))


def _unique(secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for s in secrets if s))


@dataclass(frozen=True)
class ReceiverSettings:
    """What the receiver checks a delivery against. `secrets` is hidden from repr."""

    secrets: tuple[str, ...] = field(default=(), repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if isinstance(self.secrets, str) or not all(isinstance(s, str) for s in self.secrets):
            raise WebhookSettingsError("webhook secrets must be a sequence of strings")
        object.__setattr__(self, "secrets", _unique(s.strip() for s in self.secrets))
        if (isinstance(self.max_body_bytes, bool) or not isinstance(self.max_body_bytes, int)
                or not 1 <= self.max_body_bytes <= LARGEST_MAX_BODY_BYTES):
            raise WebhookSettingsError(
                f"the webhook body size limit must be an integer from 1 to {LARGEST_MAX_BODY_BYTES} bytes")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 extra_secrets: Iterable[str] = ()) -> "ReceiverSettings":
        """Settings from `PCO_WEBHOOK_SECRETS` and `PCO_WEBHOOK_MAX_BODY_BYTES`, plus `extra_secrets`.

        Raises WebhookSettingsError naming the variable when a value is unusable.
        """
        environ = os.environ if environ is None else environ
        secrets = (*parse_secrets(environ.get(SECRETS_ENV, "")), *extra_secrets)
        raw_limit = environ.get(MAX_BODY_ENV, "").strip()
        if not raw_limit:
            return cls(secrets=secrets)
        try:
            limit = int(raw_limit)
            return cls(secrets=secrets, max_body_bytes=limit)
        except (ValueError, WebhookSettingsError):
            raise WebhookSettingsError(
                f"{MAX_BODY_ENV} must be a whole number of bytes from 1 to {LARGEST_MAX_BODY_BYTES}, "
                f"got {raw_limit!r}") from None

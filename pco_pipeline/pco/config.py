"""Client configuration: where PCO is, how to authenticate, which API versions, how to retry.

Environment (read by `PCOConfig.from_env`):

| variable | meaning |
|---|---|
| `PCO_API_BASE` | API root, default `https://api.planningcenteronline.com` (the sandbox sets its own) |
| `PCO_APP_ID`, `PCO_SECRET` | a personal access token (HTTP Basic) |
| `PCO_OAUTH_CLIENT_ID`, `PCO_OAUTH_CLIENT_SECRET`, `PCO_OAUTH_REFRESH_TOKEN` | OAuth 2 instead of a PAT |
| `PCO_OAUTH_ACCESS_TOKEN` | optional current access token (else the first request refreshes) |
| `PCO_OAUTH_TOKEN_FILE` | optional JSON file where rotated OAuth tokens are kept (mode 0600) |

When both a PAT and OAuth are configured, OAuth is used (`pco-pipeline check-connection` shows
which). PCO rotates the refresh token on every refresh, so an OAuth deployment needs the token file
(or an `on_tokens` callback) to survive a restart; the file, when present, wins over the env.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import httpx

from pco_pipeline import __version__
from pco_pipeline.pco.errors import PCOConfigError

DEFAULT_BASE_URL = "https://api.planningcenteronline.com"

# One pinned X-PCO-API-Version per PCO app, so a default changed in someone's developer
# account cannot change the shapes we read (ISS#1336: the PAT default is not always applied).
# People: the version the golden corpus (/work/shared/pco_golden) was recorded at; the others
# are the versions whose reference pages the spec (pco_api.md §3) describes.
API_VERSIONS: Mapping[str, str] = MappingProxyType({
    "people": "2026-06-04",
    "groups": "2023-07-10",
    "check-ins": "2025-05-28",
    "calendar": "2022-07-07",
    "webhooks": "2022-10-20",
})

USER_AGENT = f"pco_pipeline/{__version__} (church database sync; python-httpx/{httpx.__version__})"


def module_of(path: str) -> str | None:
    """The PCO app a path belongs to: `/check-ins/v2/events` → `check-ins`."""
    segment = path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
    return segment or None


def _masked(value: str) -> str:
    return f"{value[:4]}…" if len(value) > 8 else "…"


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """A personal access token: application id + secret, sent as HTTP Basic."""

    app_id: str = field(repr=False)
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"BasicCredentials(app_id={_masked(self.app_id)!r}, secret=<hidden>)"


@dataclass(frozen=True, slots=True)
class OAuthCredentials:
    """OAuth 2 client + tokens. `expires_at` is a Unix time; None means unknown (refresh first)."""

    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    token_file: str | None = None

    def __repr__(self) -> str:
        return (f"OAuthCredentials(client_id={_masked(self.client_id)!r}, tokens=<hidden>, "
                f"expires_at={self.expires_at!r}, token_file={self.token_file!r})")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries for timeouts, connection errors and 5xx (GET/PATCH/DELETE, unsent POSTs).

    The wait before retry n (0-based) is `backoff_base * 2**n`, capped at `backoff_max`, with
    "equal jitter" (half fixed, half random) so parallel clients do not retry in lockstep.
    429s are not errors: they wait `Retry-After`; `max_rate_limit_waits` only stops a server
    that answers 429 forever.
    """

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_rate_limit_waits: int = 50

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** attempt))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


# Requests in flight when total_count lets a listing plan its offsets ahead. The rate budget,
# not this, bounds the request rate; this hides latency and server time. PCO counts in windows
# and a listing's last window is what it waits for: once that window opens, its requests should
# all be on the wire at once, so the default is one window of PCO's default limit (100 / 20 s).
# Measured at 200 ms per page (bench/bench_client.py, 20,000 people), from the second window's
# opening to the last record: 100 in flight 0.66 s, 64 in flight 0.82 s (two round trips),
# 32 in flight 1.06 s. More than a window's worth could never be sent at once.
DEFAULT_PREFETCH = 100
MAX_PREFETCH = 100


@dataclass(frozen=True, slots=True)
class PCOConfig:
    base_url: str = DEFAULT_BASE_URL
    basic: BasicCredentials | None = None
    oauth: OAuthCredentials | None = None
    api_versions: Mapping[str, str] = field(default_factory=lambda: API_VERSIONS)
    timeout: float = 30.0
    connect_timeout: float = 10.0
    retry: RetryPolicy = RetryPolicy()
    prefetch: int = DEFAULT_PREFETCH
    user_agent: str = USER_AGENT

    @property
    def auth_method(self) -> str | None:
        """`basic` (personal access token), `oauth`, or None when nothing is configured."""
        if self.oauth is not None:
            return "oauth"
        if self.basic is not None:
            return "basic"
        return None

    def validated(self) -> "PCOConfig":
        """Self, or PCOConfigError naming the setting that is missing or wrong."""
        if not self.base_url.startswith(("http://", "https://")):
            raise PCOConfigError(f"PCO_API_BASE must be an http(s) URL, got {self.base_url!r}")
        if self.auth_method is None:
            raise PCOConfigError(
                "PCO credentials are not configured: set PCO_APP_ID and PCO_SECRET (a personal access "
                "token from https://api.planningcenteronline.com/oauth/applications), or "
                "PCO_OAUTH_CLIENT_ID, PCO_OAUTH_CLIENT_SECRET and PCO_OAUTH_REFRESH_TOKEN")
        if not 1 <= self.prefetch <= MAX_PREFETCH:
            raise PCOConfigError(f"prefetch must be between 1 and {MAX_PREFETCH}, got {self.prefetch}")
        return self

    def budget_key(self) -> str:
        """Fingerprint of the credential (never the secret itself): the rate budget's key.

        PCO limits per user. A PAT is one user; an OAuth client is assumed to act for one
        connected user per process (the church's account), since its tokens rotate.
        """
        if self.oauth is not None:
            material = f"{self.base_url}|oauth|{self.oauth.client_id}"
        elif self.basic is not None:
            material = f"{self.base_url}|basic|{self.basic.app_id}|{self.basic.secret}"
        else:
            material = f"{self.base_url}|anonymous"
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def with_overrides(self, **changes) -> "PCOConfig":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "PCOConfig":
        """Configuration from the environment (see the module docstring); not validated yet.

        Half-configured credentials (an app id without a secret, an OAuth client without a
        refresh token) raise PCOConfigError naming the missing variable.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        basic = _basic_from(get("PCO_APP_ID"), get("PCO_SECRET"))
        oauth = _oauth_from(get("PCO_OAUTH_CLIENT_ID"), get("PCO_OAUTH_CLIENT_SECRET"),
                            get("PCO_OAUTH_REFRESH_TOKEN"), get("PCO_OAUTH_ACCESS_TOKEN"),
                            get("PCO_OAUTH_TOKEN_FILE"))
        return cls(base_url=(get("PCO_API_BASE") or DEFAULT_BASE_URL).rstrip("/"), basic=basic,
                   oauth=oauth, **overrides)


def _basic_from(app_id: str | None, secret: str | None) -> BasicCredentials | None:
    if app_id and secret:
        return BasicCredentials(app_id=app_id, secret=secret)
    if app_id or secret:
        missing = "PCO_SECRET" if app_id else "PCO_APP_ID"
        raise PCOConfigError(f"{missing} is not set (a personal access token needs both PCO_APP_ID and PCO_SECRET)")
    return None


def _oauth_from(client_id: str | None, client_secret: str | None, refresh_token: str | None,
                access_token: str | None, token_file: str | None) -> OAuthCredentials | None:
    named = {"PCO_OAUTH_CLIENT_ID": client_id, "PCO_OAUTH_CLIENT_SECRET": client_secret,
             "PCO_OAUTH_REFRESH_TOKEN": refresh_token}
    if not any(named.values()) and not access_token:
        return None
    # A token file written by an earlier refresh may stand in for the refresh-token variable.
    if token_file and not refresh_token and os.path.exists(token_file):
        named.pop("PCO_OAUTH_REFRESH_TOKEN")
    missing = [name for name, value in named.items() if not value]
    if missing:
        raise PCOConfigError(f"{', '.join(missing)} not set (OAuth needs PCO_OAUTH_CLIENT_ID, "
                             "PCO_OAUTH_CLIENT_SECRET and PCO_OAUTH_REFRESH_TOKEN)")
    assert client_id and client_secret  # neither is missing
    return OAuthCredentials(client_id=client_id, client_secret=client_secret,
                            refresh_token=refresh_token or "", access_token=access_token,
                            token_file=token_file)

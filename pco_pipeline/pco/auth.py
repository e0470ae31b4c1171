"""Authorization headers: a personal access token (HTTP Basic) or OAuth 2 with refresh.

OAuth access tokens live 2 hours; the session refreshes one `REFRESH_MARGIN` seconds before it
expires and, once per request, when PCO answers 401 anyway (revoked early, clock skew). Refresh
tokens rotate on every refresh: the new pair is written to the token file (when configured)
and handed to `on_tokens`, so the next process starts from the live refresh token.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from pco_pipeline.pco.config import BasicCredentials, OAuthCredentials
from pco_pipeline.pco.errors import PCOAuthError, PCOConnectionError, parse_error_body

log = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float | None
    scopes: tuple[str, ...] = ()


class BasicAuthenticator:
    method = "basic"
    scopes: tuple[str, ...] | None = None

    def __init__(self, credentials: BasicCredentials):
        token = base64.b64encode(f"{credentials.app_id}:{credentials.secret}".encode()).decode()
        self._header = f"Basic {token}"

    def __repr__(self) -> str:
        return "BasicAuthenticator(<hidden>)"

    def authorization(self) -> str:
        return self._header

    def refresh_after_401(self, used: str) -> bool:
        return False  # a PAT cannot be renewed: the 401 stands


class OAuthSession:
    """Bearer tokens for one OAuth connection, refreshed at `token_url`; thread-safe."""

    method = "oauth"

    def __init__(self, credentials: OAuthCredentials, token_url: str,
                 post_form: Callable[[str, dict[str, str]], httpx.Response],
                 on_tokens: Callable[[TokenSet], None] | None = None,
                 clock: Callable[[], float] = time.time, refresh_margin: float = REFRESH_MARGIN):
        self._credentials = credentials
        self._token_url = token_url
        self._post_form = post_form
        self._on_tokens = on_tokens
        self._clock = clock
        self._margin = refresh_margin
        self._lock = threading.Lock()
        stored = _read_token_file(credentials.token_file) if credentials.token_file else None
        self._access = stored.access_token if stored else credentials.access_token
        self._refresh = stored.refresh_token if stored else credentials.refresh_token
        self._expires_at = stored.expires_at if stored else credentials.expires_at
        self.scopes: tuple[str, ...] | None = stored.scopes if stored and stored.scopes else None
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"OAuthSession(token_url={self._token_url!r}, expires_at={self._expires_at!r}, tokens=<hidden>)"

    def authorization(self) -> str:
        with self._lock:
            if self._access is None or (self._expires_at is not None
                                        and self._expires_at - self._clock() < self._margin):
                self._refresh_locked()
            return f"Bearer {self._access}"

    def refresh_after_401(self, used: str) -> bool:
        """Refresh unless another thread already did since `used` was sent; True = retry."""
        with self._lock:
            if used == f"Bearer {self._access}":
                self._refresh_locked()
            return True

    def _refresh_locked(self) -> None:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh,
                "client_id": self._credentials.client_id, "client_secret": self._credentials.client_secret}
        try:
            response = self._post_form(self._token_url, form)
        except httpx.TransportError as exc:
            raise PCOConnectionError(
                f"could not reach the PCO token endpoint to refresh the OAuth token ({type(exc).__name__}): "
                "check PCO_API_BASE and the network", method="POST", path="/oauth/token") from None
        if response.status_code != 200:
            details = parse_error_body(response.content, response.headers.get("content-type", ""))
            said = "; ".join(d.text() for d in details) or f"status {response.status_code}"
            raise PCOAuthError(
                f"refreshing the OAuth token failed ({said}): reconnect the PCO account and set "
                "PCO_OAUTH_REFRESH_TOKEN to the new refresh token", status=response.status_code,
                method="POST", path="/oauth/token", request_id=response.headers.get("X-Request-Id"),
                details=details)
        try:
            body = response.json()
            access, refresh = body["access_token"], body.get("refresh_token") or self._refresh
        except (ValueError, KeyError, TypeError):
            raise PCOAuthError("the PCO token endpoint answered without an access_token",
                               status=response.status_code, method="POST", path="/oauth/token") from None
        expires_in = body.get("expires_in")
        self._access, self._refresh = access, refresh
        # from our own clock, not PCO's created_at: a skewed clock must not make tokens look stale
        self._expires_at = self._clock() + float(expires_in) if expires_in is not None else None
        scope = body.get("scope")
        if isinstance(scope, str):
            self.scopes = tuple(scope.split())
        self.refreshes += 1
        tokens = TokenSet(access, refresh, self._expires_at, self.scopes or ())
        if self._credentials.token_file:
            _write_token_file(self._credentials.token_file, tokens)
        if self._on_tokens is not None:
            self._on_tokens(tokens)
        log.info("refreshed the PCO OAuth access token (expires in %s s)", expires_in)


def _read_token_file(path: str) -> TokenSet | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return TokenSet(access_token=data.get("access_token"), refresh_token=data["refresh_token"],
                        expires_at=data.get("expires_at"), scopes=tuple(data.get("scopes") or ()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable PCO token file %s (%s)", path, type(exc).__name__)
        return None


def _write_token_file(path: str, tokens: TokenSet) -> None:
    """Atomically replace the token file, readable by its owner only."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".pco-tokens-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
                       "expires_at": tokens.expires_at, "scopes": list(tokens.scopes)}, handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise

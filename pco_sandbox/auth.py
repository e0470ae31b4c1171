"""Who may call the sandbox: personal access tokens (HTTP Basic) and OAuth 2 bearer tokens.

* Personal access token: `Authorization: Basic base64(app_id:secret)`. The accepted pair comes from
  the sandbox config (`--app-id` / `--secret`, else env PCO_APP_ID / PCO_SECRET, else the demo pair
  below). More pairs, each with its own scopes, can be added (`add_personal_access_token`).
* OAuth 2 authorization code: `GET /oauth/authorize?client_id&redirect_uri&response_type=code&scope`
  (auto-approved) redirects with `?code=`; `POST /oauth/token` exchanges it (grant_type
  authorization_code) or a refresh token (grant_type refresh_token) for
  `{access_token, token_type: "bearer", expires_in: 7200, refresh_token, scope, created_at}`.
  Refresh tokens rotate: each is good once. Access tokens expire on the sandbox clock.
* Scopes are PCO app names; a credential without the app's scope gets 403 (hint PELICAN).

The rate limit is per user: the personal access token's application id, or the OAuth user.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pco_sandbox import errors
from pco_sandbox.clock import Clock
from pco_sandbox.errors import ApiError

DEMO_APP_ID = "sandbox-app-id"
DEMO_SECRET = "sandbox-secret"
DEMO_OAUTH_CLIENT_ID = "sandbox-oauth-client"
DEMO_OAUTH_CLIENT_SECRET = "sandbox-oauth-secret"
ALL_SCOPES = frozenset({"people", "groups", "check_ins", "calendar", "webhooks", "services", "giving", "api"})

ACCESS_TOKEN_SECONDS = 7200
REFRESH_TOKEN_DAYS = 90
AUTHORIZATION_CODE_MINUTES = 10

_INVALID_GRANT = ("The provided authorization grant is invalid, expired, revoked, does not match the redirection "
                  "URI used in the authorization request, or was issued to another client.")
_INVALID_CLIENT = ("Client authentication failed due to unknown client, no client authentication included, "
                   "or unsupported authentication method.")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    rate_key: str          # the rate-limit bucket ("pat:<app id>" / "user:<id>")
    auth_method: str       # X-PCO-API-Auth-Method
    scopes: frozenset[str]
    application_id: str


@dataclass
class _Grant:
    client_id: str
    user_id: str
    scopes: frozenset[str]
    expires_at: datetime
    redirect_uri: str | None = None


class OAuthError(Exception):
    """An OAuth token endpoint error: status and the `{error, error_description}` body."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(error)
        self.status = status
        self.body = {"error": error, "error_description": description}


class Auth:
    def __init__(self, clock: Clock, app_id: str = DEMO_APP_ID, secret: str = DEMO_SECRET,
                 scopes: Iterable[str] = ALL_SCOPES) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, frozenset[str]]] = {}       # app id -> (secret, scopes)
        self._clients: dict[str, tuple[str, str | None]] = {}          # client id -> (secret, redirect uri)
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self.add_personal_access_token(app_id, secret, scopes)
        self.register_oauth_client(DEMO_OAUTH_CLIENT_ID, DEMO_OAUTH_CLIENT_SECRET)

    # --- configuration ----------------------------------------------------------------------------

    def add_personal_access_token(self, app_id: str, secret: str, scopes: Iterable[str] = ALL_SCOPES) -> None:
        with self._lock:
            self._tokens[app_id] = (secret, frozenset(scopes))

    def set_scopes(self, app_id: str, scopes: Iterable[str]) -> None:
        """Change what a personal access token may reach (for 403 tests)."""
        with self._lock:
            secret, _ = self._tokens[app_id]
            self._tokens[app_id] = (secret, frozenset(scopes))

    def register_oauth_client(self, client_id: str, client_secret: str, redirect_uri: str | None = None) -> None:
        with self._lock:
            self._clients[client_id] = (client_secret, redirect_uri)

    def revoke_all_tokens(self) -> None:
        """Invalidate every OAuth token at once, as PCO occasionally does (ISS#1310)."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    # --- OAuth --------------------------------------------------------------------------------------

    def authorize(self, client_id: str, scopes: Iterable[str] | str, redirect_uri: str | None = None,
                  user_id: str = "1") -> str:
        """Issue an authorization code as if the user approved the app. Raises OAuthError."""
        if client_id not in self._clients:
            raise OAuthError(401, "invalid_client", _INVALID_CLIENT)
        scope_set = frozenset(scopes.split() if isinstance(scopes, str) else scopes)
        code = secrets.token_hex(32)
        with self._lock:
            self._codes[code] = _Grant(client_id, user_id, scope_set,
                                       self.clock.now() + timedelta(minutes=AUTHORIZATION_CODE_MINUTES), redirect_uri)
        return code

    def token(self, form: Mapping[str, str], authorization: str | None = None) -> dict[str, Any]:
        """POST /oauth/token. Returns the token response or raises OAuthError."""
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = _basic_pair(authorization)
        if basic is not None:
            client_id, client_secret = basic
        registered = self._clients.get(client_id or "")
        if client_id is None or registered is None or not hmac.compare_digest(registered[0], client_secret or ""):
            raise OAuthError(401, "invalid_client", _INVALID_CLIENT)
        grant_type = form.get("grant_type")
        now = self.clock.now()
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code") or "", None)
                if grant is None or grant.client_id != client_id or grant.expires_at <= now or \
                        (grant.redirect_uri and form.get("redirect_uri") != grant.redirect_uri):
                    raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
            elif grant_type == "refresh_token":
                grant = self._refresh.pop(form.get("refresh_token") or "", None)
                if grant is None or grant.client_id != client_id or grant.expires_at <= now:
                    raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
            else:
                raise OAuthError(400, "unsupported_grant_type",
                                 "The authorization grant type is not supported by the authorization server.")
            access, refresh = secrets.token_hex(32), secrets.token_hex(32)
            self._access[access] = _Grant(client_id, grant.user_id, grant.scopes,
                                          now + timedelta(seconds=ACCESS_TOKEN_SECONDS))
            self._refresh[refresh] = _Grant(client_id, grant.user_id, grant.scopes,
                                            now + timedelta(days=REFRESH_TOKEN_DAYS))
        return {"access_token": access, "token_type": "bearer", "expires_in": ACCESS_TOKEN_SECONDS,
                "refresh_token": refresh, "scope": " ".join(sorted(grant.scopes)), "created_at": int(now.timestamp())}

    # --- requests -------------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller behind an Authorization header, or ApiError(401)."""
        if not authorization:
            raise _unauthorized("No credentials were given. Send a personal access token as HTTP Basic "
                                "(application id and secret) or an OAuth access token as a Bearer token.")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            pair = _basic_pair(authorization)
            if pair is not None:
                known = self._tokens.get(pair[0])
                if known is not None and hmac.compare_digest(known[0], pair[1]):
                    return Principal(f"pat:{pair[0]}", "HTTPBasic", known[1], pair[0])
            raise _unauthorized("The application id and secret do not match a personal access token.")
        if scheme.lower() == "bearer":
            grant = self._access.get(value.strip())
            if grant is None:
                raise _unauthorized("The access token is invalid or has been revoked (CAPUCHIN).")
            if grant.expires_at <= self.clock.now():
                raise _unauthorized("The access token has expired (BABOON).")
            return Principal(f"user:{grant.user_id}", "OAuth2", grant.scopes, grant.client_id)
        raise _unauthorized(f"The {scheme or 'given'} authorization scheme is not supported (BLACKBIRD).")

    @staticmethod
    def require_scope(principal: Principal, scope: str) -> None:
        if scope not in principal.scopes:
            raise ApiError(403, [errors.error_object(
                403, f"This credential was not granted the '{scope}' scope (PELICAN).")])


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, [errors.error_object(401, detail)])


def _basic_pair(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None

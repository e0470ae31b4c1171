"""Who may call which route of the internal API.

Every route of the internal app is one of two kinds, and the app refuses any other:
- `ProtectedRoute` names `required_role`, the least role that may call it. A request without
  credentials, or with credentials that prove nothing (an unknown or revoked token), gets 401
  with a `WWW-Authenticate` header and a JSON reason; an identity whose role does not include
  `required_role` gets 403. The endpoint runs only for an identity that may call it, and finds
  it in `request.state.identity`.
- `PublicRoute` must say, in `why_public`, why it is safe to answer anyone (it shows no church
  data).

How a request proves who sends it is a list of `CredentialReader`s: a bearer token
(`BearerTokenReader`) today. The staff console's login session is another reader added to that
list; the routes and their roles do not change.

Nothing here logs or answers with a credential: a refusal names the method, path, client
address and reason only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pco_pipeline.accounts.identity import Identity, Role
from pco_pipeline.accounts.tokens import identify_token
from pco_pipeline.webhooks.responses import error_response

log = logging.getLogger(__name__)

REALM = "pco_pipeline"
Endpoint = Callable[[Request], Awaitable[Response]]


class InvalidCredential(Exception):
    """The request carries a credential, but it proves nothing. The message says why (no secret)."""


class CredentialReader(Protocol):
    async def identify(self, request: Request) -> Identity | None:
        """The identity the request's credential of this kind proves; None when it carries none
        of this kind. Raises InvalidCredential when it carries one that proves nothing."""


class BearerTokenReader:
    """`Authorization: Bearer <token>` with an unrevoked API token (`pco-pipeline tokens create`)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    async def identify(self, request: Request) -> Identity | None:
        header = request.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidCredential("the Authorization header must be `Bearer <token>`")
        identity = await run_in_threadpool(identify_token, self._engine, token.strip())
        if identity is None:
            raise InvalidCredential("the bearer token is unknown or has been revoked")
        return identity


class ProtectedRoute(Route):
    """A route only identities whose role includes `required_role` may call."""

    def __init__(self, path: str, endpoint: Endpoint, *, required_role: Role,
                 readers: Sequence[CredentialReader], methods: Sequence[str] = ("GET",)) -> None:
        self.required_role = required_role
        readers = tuple(readers)

        async def guarded(request: Request) -> Response:
            try:
                identity = await _identify(request, readers)
            except InvalidCredential as exc:
                return _unauthorized(request, str(exc), invalid=True)
            if identity is None:
                return _unauthorized(request, "this endpoint needs `Authorization: Bearer <token>`; "
                                              "an admin creates one with `pco-pipeline tokens create`",
                                     invalid=False)
            if not identity.may(required_role):
                log.info("%s %s from %s: 403 for %s", request.method, request.url.path, _client(request), identity)
                return error_response(
                    403, "Forbidden",
                    f"the {identity.kind} {identity.name!r} has the {identity.role} role; "
                    f"{request.url.path} needs {required_role}",
                    headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope"'})
            request.state.identity = identity
            return await endpoint(request)

        super().__init__(path, guarded, methods=list(methods))


class PublicRoute(Route):
    """A route anyone may call; `why_public` says why that is safe (it must show no church data)."""

    def __init__(self, path: str, endpoint: Endpoint, *, why_public: str,
                 methods: Sequence[str] = ("GET",)) -> None:
        if not why_public.strip():
            raise ValueError(f"public route {path} must say why it may be public")
        self.why_public = why_public
        super().__init__(path, endpoint, methods=list(methods))


def check_every_route_declares_access(routes: Sequence[object]) -> None:
    """Raise TypeError when a route is neither a ProtectedRoute nor a PublicRoute: a route added
    without a decision about who may call it must not be served."""
    for route in routes:
        if not isinstance(route, (ProtectedRoute, PublicRoute)):
            raise TypeError(f"{getattr(route, 'path', route)!r} is neither a ProtectedRoute nor a PublicRoute")


async def _identify(request: Request, readers: Sequence[CredentialReader]) -> Identity | None:
    """The identity of the first reader that finds a credential of its kind in the request."""
    for reader in readers:
        identity = await reader.identify(request)
        if identity is not None:
            return identity
    return None


def _unauthorized(request: Request, reason: str, *, invalid: bool) -> Response:
    log.info("%s %s from %s: 401 %s", request.method, request.url.path, _client(request), reason)
    challenge = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if invalid else "")
    return error_response(401, "Unauthorized", reason, headers={"WWW-Authenticate": challenge})


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown client"

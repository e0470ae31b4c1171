"""Who is signed in to the console, and which requests it accepts.

- `SessionReader` is the console's `CredentialReader` (see `api.access`): the signed session
  cookie names a user, who must still exist with the password and role they signed in with (a
  changed password or role, or a removed user, ends every session of theirs at once). Sessions
  end `session_hours` after sign-in (the cookie's signature carries its time).
- `ConsoleRoute` is `api.access.ProtectedRoute` answering as a web page: a request that is not
  signed in is sent to the sign-in page (GET) or refused with 401 (anything else), a role that
  may not use the route gets a 403 page saying which role it needs.
- `CsrfMiddleware` checks every POST before any route sees it: the body must be a form
  (`application/x-www-form-urlencoded`, at most `MAX_FORM_BYTES`) whose `csrf_token` equals the
  one kept in the session; anything else is a 403 (400/413/415 for a body that is not a form)
  saying why. The parsed form is handed on in `request.state.form`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from urllib.parse import parse_qsl, quote

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pco_pipeline.accounts.identity import Identity, Role
from pco_pipeline.api.access import CredentialReader, Endpoint, InvalidCredential, ProtectedRoute
from pco_pipeline.console.rendering import Pages
from pco_pipeline.console.session import CSRF_FIELD, end_session

MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 50
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/login"


def account_version(conn: sa.Connection, name: str) -> str | None:
    """The version a session of user `name` is bound to (`users.updated_at`), None if no such user."""
    value = conn.execute(sa.text("SELECT updated_at FROM users WHERE name = :name"), {"name": name}).scalar()
    return value.isoformat() if value is not None else None


class SessionReader:
    """The signed-in user of the session cookie, with their current role."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    async def identify(self, request: Request) -> Identity | None:
        name = request.session.get("user")
        if not isinstance(name, str):
            return None
        row = await run_in_threadpool(self._user, name)
        if row is None or row.updated_at.isoformat() != request.session.get("since"):
            end_session(request)
            raise InvalidCredential("your account changed since you signed in (password, role or removal): "
                                    "sign in again")
        return Identity("user", name, Role(row.role))

    def _user(self, name: str) -> sa.Row | None:
        with self._engine.connect() as conn:
            return conn.execute(sa.text("SELECT role, updated_at FROM users WHERE name = :name"),
                                {"name": name}).first()


class ConsoleRoute(ProtectedRoute):
    """A console page or action only users whose role includes `required_role` may use."""

    def __init__(self, path: str, endpoint: Endpoint, *, required_role: Role, readers: Sequence[CredentialReader],
                 pages: Pages, methods: Sequence[str] = ("GET",)) -> None:
        super().__init__(path, endpoint, required_role=required_role, readers=readers, methods=methods)
        guarded = self.endpoint

        async def as_page(request: Request) -> Response:
            response = await guarded(request)
            if response.status_code == 401:
                return _sign_in_first(request, pages, _detail(response))
            if response.status_code == 403:
                return pages.refusal(request, 403, "You may not do this", _detail(response))
            return response

        self.endpoint = as_page
        self.app = request_response(as_page)


def _detail(response: Response) -> str:
    try:
        return json.loads(bytes(response.body))["errors"][0]["detail"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _sign_in_first(request: Request, pages: Pages, detail: str) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"{LOGIN_PATH}?next={quote(target, safe='')}"
    if request.method == "GET":
        if request.headers.get("hx-request"):  # htmx swaps what it fetched: make it navigate instead
            return Response(status_code=401, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)
    reason = "Sign in first." if "needs" in detail else detail
    return pages.refusal(request, 401, "Sign in first", reason, headers={"HX-Redirect": location})


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this console only (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class CsrfMiddleware:
    """Refuses every POST (and other unsafe method) whose form lacks the session's CSRF token.

    Runs inside the session middleware (it reads `scope["session"]`) and before routing, so no
    route can forget the check.
    """

    def __init__(self, app: ASGIApp, pages: Pages) -> None:
        self.app = app
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        content_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            await self.pages.refusal(request, 415, "Not a form",
                                     "the console accepts only forms (application/x-www-form-urlencoded)"
                                     )(scope, receive, send)
            return
        body = await _read_body(receive, MAX_FORM_BYTES)
        if body is None:
            await self.pages.refusal(request, 413, "Form too large",
                                     f"a console form is at most {MAX_FORM_BYTES // 1024} KiB")(scope, receive, send)
            return
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                                  max_num_fields=MAX_FORM_FIELDS))
        except (UnicodeDecodeError, ValueError):
            await self.pages.refusal(request, 400, "Unreadable form",
                                     "the form is not valid UTF-8 or has too many fields")(scope, receive, send)
            return
        expected = scope.get("session", {}).get("csrf")
        sent = form.get(CSRF_FIELD, "")
        if not isinstance(expected, str) or not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
            why = ("the form carries no CSRF token" if not sent else
                   "the form's CSRF token does not belong to this session (it expired, or the form came from "
                   "another site)")
            await self.pages.refusal(request, 403, "Form refused",
                                     f"{why}: reload the page and submit it again")(scope, receive, send)
            return
        scope.setdefault("state", {})["form"] = form
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it exceeds `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app: the body already read, then whatever the connection says next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

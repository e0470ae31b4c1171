"""What the console keeps in its signed session cookie: the signed-in user, the version of their
account the session was opened with, and the CSRF token its forms carry. Never a password."""

from __future__ import annotations

import secrets

from starlette.requests import Request

CSRF_FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (a visitor not signed in has one too: the
    sign-in form carries it)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def start_session(request: Request, name: str, since: str) -> None:
    """Sign `name` in: a fresh session (a new CSRF token too) naming the user and the version of
    their account (`users.updated_at`, ISO 8601) it is bound to."""
    request.session.clear()
    request.session.update(user=name, since=since, csrf=secrets.token_urlsafe(32))


def end_session(request: Request) -> None:
    request.session.clear()

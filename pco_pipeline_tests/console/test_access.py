"""Who may use which console route, computed from the app's route table, and how sign-in, sessions and
the CSRF check behave (Starlette's TestClient on the real database)."""

from __future__ import annotations

import re
import time

import itsdangerous
import pytest
from starlette.routing import Route

from pco_pipeline.accounts.identity import Role
from pco_pipeline.accounts.login import ACCOUNT_FAILURE_LIMIT
from pco_pipeline.accounts.users import remove_user, set_password
from pco_pipeline.api.access import ProtectedRoute, PublicRoute
from pco_pipeline.console.app import ROUTE_ROLES, SESSION_COOKIE
from pco_pipeline.console.security import ConsoleRoute
from pco_pipeline_tests.console.conftest import PASSWORD, TEST_SECRET, form_token, new_client, sign_in

PUBLIC = {("/login", "GET"), ("/login", "POST"), ("/static/{name}", "GET"), ("/healthz", "GET")}


def _methods(route: Route) -> set[str]:
    return set(route.methods or ()) - {"HEAD"}


def _url(path: str) -> str:
    """A concrete URL for a route path (an id that exists or not: access is decided first)."""
    return re.sub(r"\{[a-z_]+:int\}", "1", path)


def _protected(app) -> list[tuple[str, str, Role]]:
    return [(route.path, method, route.required_role) for route in app.routes if isinstance(route, ProtectedRoute)
            for method in sorted(_methods(route))]


def test_every_route_is_declared_and_only_the_sign_in_form_static_files_and_health_are_public(app):
    declared = [route for route in app.routes if isinstance(route, (ProtectedRoute, PublicRoute))]
    assert declared == list(app.routes)
    public = {(route.path, method) for route in app.routes if isinstance(route, PublicRoute)
              for method in _methods(route)}
    assert public == PUBLIC
    protected = _protected(app)
    assert all(isinstance(route, ConsoleRoute) for route in app.routes if isinstance(route, ProtectedRoute))
    assert {path for path, _, _ in protected} == set(ROUTE_ROLES)
    assert all(role == ROUTE_ROLES[path] for path, _, role in protected)
    # viewers act on nothing but their own session
    assert {path for path, method, role in protected if method == "POST" and role is not Role.ADMIN} == {"/logout"}


def test_anonymous_requests_to_every_protected_route_are_sent_to_sign_in_or_refused(app, anonymous):
    token = form_token(anonymous.get("/login").text)   # a visitor's session has a CSRF token, no user
    for path, method, _ in _protected(app):
        if method == "GET":
            response = anonymous.get(_url(path))
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next="), path
            assert "<" not in response.text
        else:
            without_token = anonymous.post(_url(path), data={"x": "1"})
            assert without_token.status_code == 403, path
            with_token = anonymous.post(_url(path), data={"csrf_token": token})
            assert with_token.status_code == 401, path
            assert "Sign in first" in with_token.text


def test_a_viewer_reads_every_page_and_is_refused_every_action(app, viewer, engine):
    token = form_token(viewer.get("/").text)
    for path, method, role in _protected(app):
        if method == "GET":
            assert viewer.get(_url(path)).status_code in (200, 404), path   # 404: no record 1
        elif role is Role.ADMIN:
            refused = viewer.post(_url(path), data={"csrf_token": token, "job": "sync_people"})
            assert refused.status_code == 403, path
            assert "needs admin" in refused.text
    assert "Test connection" not in viewer.get("/").text


def test_sign_in_sets_a_strict_http_only_session_cookie_and_sign_out_ends_it(app, users):
    client = new_client(app)
    response = sign_in(client, "alice")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "secure" not in cookie.lower()
    assert PASSWORD not in cookie
    assert "alice (admin)" in client.get("/").text

    signed_out = client.post("/logout", data={"csrf_token": form_token(client.get("/").text)})

    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    assert client.get("/").status_code == 303


def test_secure_cookies_when_configured(database_url, settings, users):
    from dataclasses import replace

    from pco_pipeline.console.app import create_console_app

    app = create_console_app(database_url, replace(settings, secure_cookies=True))
    with new_client(app) as client:
        response = sign_in(client, "alice")
    assert "; secure" in response.headers["set-cookie"].lower()


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_account(app, users, anonymous):
    refused = sign_in(anonymous, "alice", "not the password")
    assert refused.status_code == 401 and "the user name or password is wrong" in refused.text
    for _ in range(ACCOUNT_FAILURE_LIMIT - 1):
        sign_in(anonymous, "alice", "not the password")

    locked = sign_in(anonymous, "alice")   # the right password, after 5 failures

    assert locked.status_code == 429
    assert "too many failed logins" in locked.text and int(locked.headers["retry-after"]) > 0
    assert anonymous.get("/").status_code == 303


def test_a_session_ends_when_the_password_changes_or_the_user_is_removed(app, users, engine, admin, viewer):
    set_password(engine, "alice", "another long password")
    ended = admin.get("/")
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    remove_user(engine, "victor")
    assert viewer.get("/quarantine").status_code == 303


def test_a_session_expires_after_its_hours(app, users, settings):
    class SignedLongAgo(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - settings.session_seconds - 60

    with new_client(app) as client:
        response = sign_in(client, "alice")
        payload = itsdangerous.TimestampSigner(TEST_SECRET).unsign(
            response.cookies[SESSION_COOKIE].encode()).decode()
        client.cookies.set(SESSION_COOKIE, SignedLongAgo(TEST_SECRET).sign(payload.encode()).decode())
        assert client.get("/").status_code == 303
        client.cookies.set(SESSION_COOKIE, itsdangerous.TimestampSigner(TEST_SECRET).sign(payload.encode()).decode())
        assert client.get("/").status_code == 200   # the same session, signed now, is accepted


def test_every_post_needs_the_sessions_csrf_token(app, admin, users):
    for data in ({"x": "1"}, {"csrf_token": ""}, {"csrf_token": "forged"}):
        refused = admin.post("/connection/test", data=data)
        assert refused.status_code == 403 and "CSRF" in refused.text
    with new_client(app) as other:
        other_token = form_token(other.get("/login").text)   # another browser's token
    assert admin.post("/connection/test", data={"csrf_token": other_token}).status_code == 403
    not_a_form = admin.post("/connection/test", content=b'{"csrf_token": "x"}',
                            headers={"content-type": "application/json"})
    assert not_a_form.status_code == 415
    too_large = admin.post("/connection/test", data={"csrf_token": "x", "pad": "a" * 70_000})
    assert too_large.status_code == 413


def test_sign_in_goes_back_only_to_a_console_page(app, users):
    with new_client(app) as client:
        token = form_token(client.get("/login?next=//evil.example/").text)
        response = client.post("/login", data={"csrf_token": token, "name": "alice", "password": PASSWORD,
                                               "next": "//evil.example/"})
        assert response.headers["location"] == "/"
        token = form_token(client.get("/login").text)
    with new_client(app) as client:
        token = form_token(client.get("/login").text)
        response = client.post("/login", data={"csrf_token": token, "name": "alice", "password": PASSWORD,
                                               "next": "/quarantine"})
        assert response.headers["location"] == "/quarantine"


@pytest.mark.parametrize("name", ["htmx.min.js", "htmx.LICENSE", "console.css"])
def test_static_files_are_served_and_nothing_else(anonymous, name):
    assert anonymous.get(f"/static/{name}").status_code == 200
    assert anonymous.get("/static/..%2Fapp.py").status_code == 404
    assert anonymous.get("/static/app.py").status_code == 404


def test_health_shows_no_church_data(anonymous):
    assert anonymous.get("/healthz").json() == {"status": "ok", "database": "reachable"}

"""Who may read what, on both listeners, computed from their route tables.

The public receiver answers only the webhook POST and /healthz. Every route of the internal API
that is not declared public refuses an anonymous caller and a bad token with 401, so a route
added later without a decision about access fails here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pco_pipeline.accounts.identity import Role
from pco_pipeline.accounts.tokens import TOKEN_PREFIX, create_token, revoke_token
from pco_pipeline.api.access import (
    BearerTokenReader, ProtectedRoute, PublicRoute, check_every_route_declares_access,
)
from pco_pipeline.api.app import create_api_app
from pco_pipeline.webhooks.app import create_app
from pco_pipeline.webhooks.server import BackgroundServer
from pco_pipeline_tests.api.conftest import bearer

# Shaped like a real token, but no such token exists.
FORGED_TOKEN = TOKEN_PREFIX + "A" * 43


def _methods(route: Route) -> set[str]:
    return set(route.methods or ()) - {"HEAD"}  # Starlette adds HEAD to every GET route


def test_public_receiver_routes_are_exactly_the_webhook_post_and_healthz(database_url):
    assert {(route.path, frozenset(_methods(route))) for route in _routes(create_app(database_url))} == {
        ("/api/pco/webhook", frozenset({"POST"})), ("/healthz", frozenset({"GET"}))}


@pytest.fixture
def public_receiver(database_url) -> Iterator[httpx.Client]:
    with BackgroundServer(create_app(database_url)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@pytest.mark.parametrize("path", ["/api/pco/checkins", "/api/pco/calendar-events", "/api/pco/group-types",
                                  "/api/pco/checkin-locations"])
def test_public_receiver_serves_no_church_data_even_with_a_valid_token(public_receiver, viewer_token, path):
    assert public_receiver.get(path).status_code == 404
    assert public_receiver.get(path, headers=bearer(viewer_token)).status_code == 404


def _routes(app: Starlette) -> list[Route]:
    """The app's routes, every one a Route (a mount would hide its paths from these tests)."""
    routes = list(app.routes)
    assert all(isinstance(route, Route) for route in routes), routes
    return [route for route in routes if isinstance(route, Route)]


def _internal_routes(database_url: str) -> list[Route]:
    return _routes(create_api_app(database_url))


def test_internal_api_declares_only_a_data_free_health_check_public(database_url, anonymous):
    public = [route for route in _internal_routes(database_url) if isinstance(route, PublicRoute)]
    assert [route.path for route in public] == ["/healthz"]
    assert anonymous.get("/healthz").json() == {"status": "ok", "database": "reachable"}


def test_every_other_internal_route_refuses_anonymous_and_bad_tokens_with_401(database_url, anonymous, engine):
    revoked = create_token(engine, "old", Role.ADMIN).secret
    revoke_token(engine, "old")
    routes = [route for route in _internal_routes(database_url) if not isinstance(route, PublicRoute)]
    assert len(routes) >= 4
    bad_credentials = {
        "unknown token": bearer(FORGED_TOKEN),
        "revoked token": bearer(revoked),
        "not a token": bearer("hunter2"),
        "bearer without a token": {"Authorization": "Bearer"},
        "other scheme": {"Authorization": "Basic cmVwb3J0czpodW50ZXIy"},
    }
    for route in routes:
        for method in _methods(route):
            anonymous_answer = anonymous.request(method, route.path)
            assert anonymous_answer.status_code == 401, (method, route.path)
            assert anonymous_answer.headers["WWW-Authenticate"] == 'Bearer realm="pco_pipeline"'
            [error] = anonymous_answer.json()["errors"]
            assert "Authorization: Bearer <token>" in error["detail"]
            for what, headers in bad_credentials.items():
                answer = anonymous.request(method, route.path, headers=headers)
                assert answer.status_code == 401, (method, route.path, what)
                assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"], what
                assert answer.json()["errors"][0]["title"] == "Unauthorized"
                assert "data" not in answer.json()


def test_a_viewer_token_and_an_admin_token_read_every_listing(database_url, api_server, viewer_token, admin_token):
    routes = [route for route in _internal_routes(database_url) if not isinstance(route, PublicRoute)]
    with httpx.Client(base_url=api_server.url, timeout=30) as http:
        for token in (viewer_token, admin_token):
            for route in routes:
                answer = http.get(route.path, headers=bearer(token))
                assert answer.status_code == 200, (route.path, answer.text)
                assert answer.json()["meta"]["total_count"] == 0


def test_a_revoked_token_stops_reading_at_once(client, engine, viewer_token):
    assert client.get("/api/pco/checkins").status_code == 200
    revoke_token(engine, "reports")
    answer = client.get("/api/pco/checkins")
    assert answer.status_code == 401
    assert "unknown or has been revoked" in answer.json()["errors"][0]["detail"]


def test_a_bad_token_is_refused_before_its_query_is_read(anonymous):
    """401, not the 400 a bad parameter would get: nothing about the listing is revealed."""
    answer = anonymous.get("/api/pco/checkins", params={"per_page": "10"}, headers=bearer(FORGED_TOKEN))
    assert answer.status_code == 401


def test_using_a_token_records_when_it_was_last_used(client, engine):
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT last_used_at FROM api_tokens")).scalar_one() is None
    assert client.get("/api/pco/group-types").status_code == 200
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT last_used_at FROM api_tokens")).scalar_one() is not None


def test_a_route_needing_admin_refuses_a_viewer_with_403_and_serves_an_admin(engine, viewer_token, admin_token):
    """No listing needs admin today; the console's changes will. The same ProtectedRoute decides."""
    async def change(request: Request) -> JSONResponse:
        return JSONResponse({"changed_by": request.state.identity.name})

    app = Starlette(routes=[ProtectedRoute("/change", change, required_role=Role.ADMIN, methods=["POST"],
                                           readers=[BearerTokenReader(engine)])])
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        refused = http.post("/change", headers=bearer(viewer_token))
        assert refused.status_code == 403
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="pco_pipeline", error="insufficient_scope"'
        assert "has the viewer role; /change needs admin" in refused.json()["errors"][0]["detail"]
        allowed = http.post("/change", headers=bearer(admin_token))
        assert allowed.status_code == 200 and allowed.json() == {"changed_by": "ops"}
        assert http.post("/change").status_code == 401


def test_a_route_without_an_access_decision_is_refused_at_startup():
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({})

    with pytest.raises(TypeError, match="'/leak' is neither a ProtectedRoute nor a PublicRoute"):
        check_every_route_declares_access([PublicRoute("/healthz", endpoint, why_public="no data"),
                                           Route("/leak", endpoint)])


def test_tokens_never_appear_in_logs_or_answers(database_url, engine, viewer_token, caplog):
    """Every request kind (valid, forged, revoked, refused for role) logged at DEBUG with the
    access log on: no token text anywhere in the logs or in what the server answered."""
    revoked = create_token(engine, "old", Role.VIEWER).secret
    revoke_token(engine, "old")
    caplog.set_level(logging.DEBUG)
    answers = []
    with BackgroundServer(create_api_app(database_url), access_log=True) as server, \
            httpx.Client(base_url=server.url, timeout=30) as http:
        for token in (viewer_token, FORGED_TOKEN, revoked):
            for path in ("/api/pco/checkins", "/api/pco/checkins?limit=0", "/nowhere"):
                answers.append(http.get(path, headers=bearer(token)))
    assert [answer.status_code for answer in answers] == [200, 400, 404, 401, 401, 404, 401, 401, 404]
    assert "GET /api/pco/checkins" in caplog.text  # the access log was captured
    assert "401 the bearer token is unknown or has been revoked" in caplog.text  # and the refusals
    for token in (viewer_token, FORGED_TOKEN, revoked):
        assert token not in caplog.text
        assert token[len(TOKEN_PREFIX):] not in caplog.text
        for answer in answers:
            assert token not in answer.text and token not in str(answer.headers)

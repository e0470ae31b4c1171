"""Console fixtures: the app on this test's real database (Starlette's TestClient), users of each
role, and signing in through the sign-in form as a browser does."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from pco_pipeline.accounts.identity import Role
from pco_pipeline.accounts.users import add_user
from pco_pipeline.console.app import create_console_app
from pco_pipeline.console.settings import ConsoleSettings
from pco_pipeline.pco.connection import ConnectionReport

PASSWORD = "correct horse battery"
TEST_SECRET = "test-session-secret-" + "x" * 40


@pytest.fixture
def settings() -> ConsoleSettings:
    # Nothing listens on port 9 (discard): a launch fails fast, as with the Dagster UI stopped.
    return ConsoleSettings(session_secret=TEST_SECRET, dagster_url="http://127.0.0.1:9")


@pytest.fixture
def checks() -> list[str]:
    """How often the app tested the PCO connection (its check is this stand-in, not PCO)."""
    return []


@pytest.fixture
def app(database_url: str, settings: ConsoleSettings, checks: list[str]):
    def check() -> ConnectionReport:
        checks.append("checked")
        return ConnectionReport(ok=True, configured=True, base_url="http://pco.test", organization="Grace Church",
                                auth_method="personal access token (HTTP Basic)", rate_limit="100 per 20 s")
    return create_console_app(database_url, settings, check=check)


@pytest.fixture
def users(engine: sa.Engine) -> dict[str, str]:
    add_user(engine, "alice", Role.ADMIN, PASSWORD)
    add_user(engine, "victor", Role.VIEWER, PASSWORD)
    return {"admin": "alice", "viewer": "victor"}


def new_client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver", follow_redirects=False)


@pytest.fixture
def anonymous(app) -> Iterator[TestClient]:
    with new_client(app) as client:
        yield client


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD):
    """Submit the sign-in form as a browser does (its CSRF token first); returns the response."""
    token = form_token(client.get("/login").text)
    return client.post("/login", data={"csrf_token": token, "name": name, "password": password, "next": "/"})


def signed_in(app, name: str) -> TestClient:
    client = new_client(app)
    response = sign_in(client, name)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def admin(app, users) -> Iterator[TestClient]:
    with signed_in(app, users["admin"]) as client:
        yield client


@pytest.fixture
def viewer(app, users) -> Iterator[TestClient]:
    with signed_in(app, users["viewer"]) as client:
        yield client



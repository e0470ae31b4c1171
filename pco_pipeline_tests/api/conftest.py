"""Fixtures for the internal API: the app served on loopback, tokens, and clients holding them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from pco_pipeline.accounts.identity import Role
from pco_pipeline.accounts.tokens import create_token
from pco_pipeline.api.app import create_api_app
from pco_pipeline.webhooks.server import BackgroundServer


@pytest.fixture
def api_server(database_url: str) -> Iterator[BackgroundServer]:
    """The internal API on this test's database, served by uvicorn on a free loopback port."""
    with BackgroundServer(create_api_app(database_url)) as running:
        yield running


@pytest.fixture
def viewer_token(engine: sa.Engine) -> str:
    return create_token(engine, "reports", Role.VIEWER).secret


@pytest.fixture
def admin_token(engine: sa.Engine) -> str:
    return create_token(engine, "ops", Role.ADMIN).secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(api_server: BackgroundServer, viewer_token: str) -> Iterator[httpx.Client]:
    """A client of the internal API sending a viewer token."""
    with httpx.Client(base_url=api_server.url, timeout=30, headers=bearer(viewer_token)) as http:
        yield http


@pytest.fixture
def anonymous(api_server: BackgroundServer) -> Iterator[httpx.Client]:
    """A client of the internal API sending no credentials."""
    with httpx.Client(base_url=api_server.url, timeout=30) as http:
        yield http

"""Fixtures for the PCO client tests: a fake PCO per test and clients with their own credential.

Each test gets a fresh credential, so the process-wide rate budget of one test never carries
over into another. Rate limits are compressed (10 requests / 1 s) to keep the suite fast.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pco_pipeline.pco import BasicCredentials, PCOClient, PCOConfig, RetryPolicy
from pco_pipeline_tests.pco.fake_pco import BASE, FakePCO

FAST_RETRIES = RetryPolicy(max_retries=4, backoff_base=0.01, backoff_max=0.05)


def golden_dir() -> Path | None:
    """/work/shared/pco_golden, found from this file's parents (None when absent)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "pco_golden"
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture
def credential() -> tuple[str, str]:
    return f"app-{uuid.uuid4().hex[:12]}", f"secret-{uuid.uuid4().hex}"


@pytest.fixture
def make_fake(credential):
    def make(**options) -> FakePCO:
        app_id, secret = credential
        options.setdefault("credentials", {app_id: secret})
        return FakePCO(**options)
    return make


@pytest.fixture
def make_client(credential):
    clients: list[PCOClient] = []

    def make(fake: FakePCO, **config) -> PCOClient:
        app_id, secret = config.pop("credentials", credential)
        config.setdefault("retry", FAST_RETRIES)
        client = PCOClient(PCOConfig(base_url=BASE, basic=BasicCredentials(app_id, secret), **config),
                           transport=fake.transport())
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()

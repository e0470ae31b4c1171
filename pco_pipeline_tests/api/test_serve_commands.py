"""The two listeners as real processes: `pco-pipeline api serve` (internal, tokens) and
`pco-pipeline webhooks serve` (public, no church data), their banners and what they answer."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from pco_pipeline.accounts.identity import Role
from pco_pipeline.accounts.tokens import create_token
from pco_pipeline_tests.api.conftest import bearer
from pco_pipeline_tests.listening_process import (  # noqa: F401 (a fixture registers by being imported)
    ListeningProcess, listening_processes,
)


class Listener(ListeningProcess):
    """`pco-pipeline ARGS` in a child process on this test's database, its output in files."""

    def __init__(self, database_url: str, workdir: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_PG_URL", "PCO_WEBHOOK_SECRETS")}
        env["DATABASE_URL"] = database_url
        super().__init__(env, workdir, *args)


def test_api_serve_listens_on_loopback_and_reads_only_with_a_token(database_url, engine, tmp_path, listening_processes):
    api = Listener(database_url, tmp_path / "api", "api", "serve", "--port", "0")
    listening_processes.append(api)
    base = api.wait_until_listening()
    assert base.startswith("http://127.0.0.1:")
    token = create_token(engine, "reports", Role.VIEWER).secret
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/pco/checkins").status_code == 401
        assert http.get("/api/pco/checkins", headers=bearer(token)).status_code == 200
    api.stop()
    output = api.output()
    assert "API tokens: none yet; every read is refused with 401" in output
    assert (f"listening on {base}: GET /api/pco/checkins, /api/pco/calendar-events, /api/pco/group-types, "
            f"/api/pco/checkin-locations with a token of role viewer or admin; GET /healthz without one") in output
    assert "GET /api/pco/checkins from 127.0.0.1: 401" in output  # the refusal is logged, without credentials
    assert "warning" not in output.lower()
    assert token not in output and token[13:] not in output


def test_webhooks_serve_lists_only_what_it_answers_and_serves_no_church_data(database_url, tmp_path,
                                                                             listening_processes):
    receiver = Listener(database_url, tmp_path / "receiver", "webhooks", "serve", "--port", "0")
    listening_processes.append(receiver)
    base = receiver.wait_until_listening()
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/pco/checkins").status_code == 404
    receiver.stop()
    assert f"listening on {base}: POST /api/pco/webhook; GET /healthz  (Ctrl-C stops)" in receiver.output()

"""The two listeners as real processes: `pco-pipeline api serve` (internal, tokens) and
`pco-pipeline webhooks serve` (public, no church data), their banners and what they answer."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pco_pipeline.accounts.identity import Role
from pco_pipeline.accounts.tokens import create_token
from pco_pipeline_tests.api.conftest import bearer

ROOT = Path(__file__).resolve().parents[2]


class Listener:
    """`pco-pipeline ARGS` in a child process on this test's database, its output in files."""

    def __init__(self, database_url: str, workdir: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_PG_URL", "PCO_WEBHOOK_SECRETS")}
        env["DATABASE_URL"] = database_url
        workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = workdir / "stdout", workdir / "stderr"
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "pco_pipeline.cli", *args],
                                            cwd=ROOT, env=env, stdout=out, stderr=err)

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def wait_until_listening(self, timeout: float = 60) -> str:
        """The base URL, once the banner is printed and /healthz answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"listening on (http://[^\s:]+:\d+)", self.stdout_path.read_text())
            if match:
                try:
                    if httpx.get(f"{match.group(1)}/healthz", timeout=2).status_code == 200:
                        return match.group(1)
                except httpx.TransportError:
                    pass
            if self.process.poll() is not None:
                raise AssertionError(f"exited with {self.process.returncode}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"did not start listening:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=30)


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    started: list[Listener] = []
    yield started
    for listener in started:
        listener.stop(signal.SIGKILL)


def test_api_serve_listens_on_loopback_and_reads_only_with_a_token(database_url, engine, tmp_path, listeners):
    api = Listener(database_url, tmp_path / "api", "api", "serve", "--port", "0")
    listeners.append(api)
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


def test_webhooks_serve_lists_only_what_it_answers_and_serves_no_church_data(database_url, tmp_path, listeners):
    receiver = Listener(database_url, tmp_path / "receiver", "webhooks", "serve", "--port", "0")
    listeners.append(receiver)
    base = receiver.wait_until_listening()
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/pco/checkins").status_code == 404
    receiver.stop()
    assert f"listening on {base}: POST /api/pco/webhook; GET /healthz  (Ctrl-C stops)" in receiver.output()

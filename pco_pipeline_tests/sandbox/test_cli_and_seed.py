"""`pco-pipeline sandbox` as a user runs it, and the seeded church served through the API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pco_sandbox.core import Sandbox, SandboxConfig

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("PCO_APP_ID", "PCO_SECRET")}
    return subprocess.Popen([sys.executable, "-m", "pco_pipeline.cli", "sandbox", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_cli_serves_a_seeded_church_with_the_demo_credentials():
    port = _free_port()
    process = _cli("--port", str(port), "--people", "60", "--seed", "3", "--rate-limit", "100/2s")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/people/v2/people", auth=("sandbox-app-id", "sandbox-secret"))
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["meta"]["total_count"] > 0
        assert response.headers["x-pco-api-request-rate-period"] == "2"
        assert response.json()["links"]["self"] == f"http://127.0.0.1:{port}/people/v2/people"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}" in out and "sandbox-app-id" in out
    assert "Traceback" not in err


@pytest.mark.parametrize("args,message", [
    (["--rate-limit", "lots"], "--rate-limit"), (["--fault-rate", "2"], "--fault-rate"),
    (["--app-id", "only-id"], "--app-id and --secret")])
def test_cli_refuses_bad_settings_in_one_line(args, message):
    process = _cli(*args)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().startswith("error:") and message in err and len(err.strip().splitlines()) == 1


def test_given_secret_is_not_printed():
    port = _free_port()
    process = _cli("--port", str(port), "--people", "5", "--app-id", "mine", "--secret", "hunter2")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_sandbox")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/people/v2/people", auth=("mine", "hunter2")).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert "hunter2" not in out + err and "mine" in out


def test_seeded_church_answers_across_apps():
    with Sandbox.seeded(people=120, seed=5, config=SandboxConfig(rate_limit="off")) as sandbox, \
            sandbox.client() as client:
        page = client.get("/people/v2/people", params={"include": "emails,phone_numbers,addresses,households",
                                                       "per_page": 100}).json()
        assert page["meta"]["total_count"] == sandbox.store.count("people/people") > 0
        included_types = {r["type"] for r in page["included"]}
        assert {"Email", "PhoneNumber", "Household"} <= included_types
        household = client.get("/people/v2/households", params={"per_page": 1}).json()["data"][0]
        members = client.get(f"/people/v2/households/{household['id']}/household_memberships").json()
        assert members["meta"]["total_count"] == household["attributes"]["member_count"]
        group = client.get("/groups/v2/groups", params={"per_page": 1}).json()["data"][0]
        roles = {m["attributes"]["role"] for m in
                 client.get(f"/groups/v2/groups/{group['id']}/memberships").json()["data"]}
        assert roles <= {"leader", "member"}
        event = client.get("/check-ins/v2/events", params={"per_page": 1}).json()["data"][0]
        assert client.get(f"/check-ins/v2/events/{event['id']}/check_ins").status_code == 200
        instances = client.get("/calendar/v2/event_instances", params={"filter": "future"}).json()
        assert instances["meta"]["total_count"] > 0

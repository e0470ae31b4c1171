"""`pco-pipeline check-connection` and the `check_pco_connection` job, against the sandbox over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pco_pipeline.definitions import defs
from pco_pipeline.defs.pco.resources import ENVIRONMENT, PCO_API_POOL, PCOResource
from pco_pipeline.pco.connection import check_connection
from pco_sandbox.core import Sandbox, SandboxConfig
from pco_sandbox.server import run_sandbox_server

ROOT = Path(__file__).resolve().parents[2]
APP_ID, SECRET = "check-app", "check-secret-4b1d9e"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox.seeded(people=120, seed=4, config=SandboxConfig(app_id=APP_ID, secret=SECRET,
                                                                 rate_limit="100/20s")) as church:
        yield church


@pytest.fixture(scope="module")
def base_url(sandbox):
    with run_sandbox_server(sandbox) as url:
        yield url


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PCO_")}
    return subprocess.run([sys.executable, "-m", "pco_pipeline.cli", "check-connection", *args],
                          cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120)


def _error_message(failure: dg.DagsterEvent) -> str:
    error = failure.step_failure_data.error
    assert error is not None
    return error.message


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_reports_organization_auth_rate_limit_and_modules(sandbox, base_url):
    sandbox.auth.set_scopes(APP_ID, ["people", "groups", "calendar", "webhooks"])
    try:
        result = _cli({"PCO_API_BASE": base_url, "PCO_APP_ID": APP_ID, "PCO_SECRET": SECRET})
    finally:
        sandbox.auth.set_scopes(APP_ID, ["people", "groups", "check_ins", "calendar", "webhooks"])
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "PCO connection: OK" in out
    assert "Sandbox Community Church" in out
    assert "personal access token (HTTP Basic)" in out
    assert "100 requests per 20 s" in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.startswith("  ") and len(line.split()) > 1}
    assert lines["Check-Ins"].split()[1:3] == ["no", "no"] and "check_ins" in lines["Check-Ins"]
    assert lines["Groups"].split()[1] == "yes" and lines["Webhooks"].split()[1:3] == ["yes", "yes"]
    assert SECRET not in out + result.stderr


def test_cli_json_report(base_url):
    result = _cli({"PCO_API_BASE": base_url, "PCO_APP_ID": APP_ID, "PCO_SECRET": SECRET}, "--json")
    report = json.loads(result.stdout)
    assert report["ok"] and report["organization"] == "Sandbox Community Church"
    assert [m["module"] for m in report["modules"]] == ["People", "Groups", "Check-Ins", "Calendar", "Webhooks"]


@pytest.mark.parametrize("env, says", [
    ({}, "PCO credentials are not configured: set PCO_APP_ID and PCO_SECRET"),
    ({"PCO_APP_ID": APP_ID}, "PCO_SECRET is not set"),
    ({"PCO_APP_ID": APP_ID, "PCO_SECRET": "wrong-" + SECRET}, "check PCO_APP_ID / PCO_SECRET"),
    ({"PCO_API_BASE": "base-without-scheme", "PCO_APP_ID": APP_ID, "PCO_SECRET": SECRET},
     "PCO_API_BASE must be an http(s) URL"),
])
def test_cli_says_exactly_what_is_wrong(base_url, env, says):
    result = _cli({"PCO_API_BASE": base_url, **env})
    assert result.returncode == 1
    assert says in result.stdout
    assert "Traceback" not in result.stderr and SECRET not in result.stdout + result.stderr


def test_unreachable_api_names_the_base_setting():
    report = check_connection({"PCO_API_BASE": f"http://127.0.0.1:{_free_port()}", "PCO_APP_ID": "a",
                               "PCO_SECRET": "s"})
    assert not report.ok and report.configured and "PCO_API_BASE" in (report.problem or "")


def _run_job(resource: PCOResource):
    job = defs().resolve_job_def("check_pco_connection")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, resources={"pco": resource}, raise_on_error=False)
        events = [e for e in instance.all_logs(result.run_id)]
    return result, events


def test_job_reports_into_metadata_and_never_shows_the_secret(base_url):
    result, events = _run_job(PCOResource(base_url=base_url, app_id=APP_ID, secret=SECRET))
    assert result.success
    output = result.output_for_node("report_pco_connection")
    assert output["organization"] == "Sandbox Community Church"
    (step_output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = step_output.step_output_data.metadata
    assert metadata["organization"].value == "Sandbox Community Church"
    modules = metadata["modules"]
    assert isinstance(modules, dg.MarkdownMetadataValue) and "| People | yes |" in modules.value
    assert SECRET not in "\n".join(e.to_json() if hasattr(e, "to_json") else str(e) for e in events)


def test_job_fails_with_the_setting_to_fix(base_url):
    result, events = _run_job(PCOResource(base_url=base_url, app_id=APP_ID, secret="nope-" + SECRET))
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "check PCO_APP_ID / PCO_SECRET" in _error_message(failure)
    assert SECRET not in "\n".join(str(e) for e in events)


def test_job_without_any_credentials_says_what_to_set(monkeypatch):
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    result, _ = _run_job(PCOResource.from_environment())
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "set PCO_APP_ID and PCO_SECRET" in _error_message(failure)


def test_resource_binds_only_the_variables_that_are_set(monkeypatch):
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PCO_OAUTH_CLIENT_ID", "cid")
    monkeypatch.setenv("PCO_OAUTH_CLIENT_SECRET", "csecret-123")
    monkeypatch.setenv("PCO_OAUTH_REFRESH_TOKEN", "rt-123")
    resource = PCOResource.from_environment()
    bound = {name for name, value in resource._get_non_default_public_field_values().items()
             if isinstance(value, dg.EnvVar)}
    assert bound == {"oauth_client_id", "oauth_client_secret", "oauth_refresh_token"}
    assert "csecret-123" not in repr(PCOResource(app_id="a", secret="csecret-123"))
    assert PCOResource(app_id="a", secret="s", base_url="http://127.0.0.1:9").pco_config().auth_method == "basic"


def test_the_pool_is_the_one_dagster_yaml_limits():
    assert PCO_API_POOL == "pco_api"
    op = defs().resolve_job_def("check_pco_connection").get_node_named("report_pco_connection").definition
    assert isinstance(op, dg.OpDefinition) and op.pool == PCO_API_POOL
    assert "default_limit: 1" in (ROOT / "dagster.yaml").read_text()

"""The Compose deployment as files: which ports face out, who migrates, health checks, restarts,
no secret in what is committed or built; and `docker compose config` accepts it when a Compose
client is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
LONG_RUNNING = ("db", "code-server", "webserver", "daemon", "receiver", "console")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_only_the_receiver_is_published_beyond_loopback(compose):
    facing_out = {name for name, service in compose["services"].items()
                  for port in _published(service) if not port.startswith("127.0.0.1:")}
    assert facing_out == {"receiver"}
    assert _published(compose["services"]["console"]) and all(
        port.startswith("127.0.0.1:") for port in _published(compose["services"]["console"]))
    assert not _published(compose["services"]["db"])


def test_migrations_run_once_in_their_own_service_that_the_others_wait_for(compose):
    services = compose["services"]
    migrating = {name for name, service in services.items() if service.get("command") == ["pco-pipeline", "migrate"]}
    assert migrating == {"migrate"}
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("code-server", "webserver", "daemon", "receiver", "console"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name


def test_long_running_services_restart_and_report_health(compose):
    for name in LONG_RUNNING:
        service = compose["services"][name]
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name


def test_the_sandbox_is_optional(compose):
    assert compose["services"]["sandbox"]["profiles"] == ["sandbox"]
    assert all("profiles" not in service for name, service in compose["services"].items() if name != "sandbox")


def test_runs_are_launched_on_the_stack_network_with_the_code_servers_image(compose):
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    assert instance["run_launcher"]["config"]["network"] == compose["networks"]["default"]["name"]
    code_server = compose["services"]["code-server"]["environment"]
    assert code_server["DAGSTER_CURRENT_IMAGE"] == compose["services"]["code-server"]["image"]
    # Every variable the launcher copies into a run's container exists in the launching services.
    for name in ("webserver", "daemon"):
        present = set(compose["services"][name]["environment"]) | {"DATABASE_URL", "DAGSTER_PG_URL"}
        assert set(instance["run_launcher"]["config"]["env_vars"]) <= present, name
    # The steps' logs each run's container writes are the volume the webserver reads them from.
    [logs_volume] = instance["run_launcher"]["config"]["container_kwargs"]["volumes"]
    volume_name, logs_dir = logs_volume.split(":")
    assert logs_dir == instance["compute_logs"]["config"]["base_dir"]
    [volume_key] = [key for key, volume in compose["volumes"].items() if (volume or {}).get("name") == volume_name]
    assert f"{volume_key}:{logs_dir}:ro" in compose["services"]["webserver"]["volumes"]
    env_example = _env_file(DEPLOY / ".env.example")
    assert {"DATABASE_URL", "DAGSTER_PG_URL"} <= set(env_example)


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN", re.IGNORECASE)


def test_no_secret_is_written_in_the_compose_file_or_the_image(compose):
    """Secret settings reach the services from deploy/.env (never committed) or by name; the
    compose file only ever refers to them, and the build context leaves every .env out."""
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAMES.search(key):
                assert value in (None, "") or re.fullmatch(r"\$\{[A-Z_]+:-\}", str(value)), (name, key)
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()
    dockerignore = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "**/.env", "deploy/.env", ".venv", ".pco_pipeline", ".git"} <= set(dockerignore)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert not re.search(r"^\s*(ENV|ARG)\s+\S*(PASSWORD|SECRET|TOKEN)", dockerfile, re.MULTILINE | re.IGNORECASE)
    assert re.search(r"^USER pco$", dockerfile, re.MULTILINE)


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_accepts_the_file(tmp_path):
    client = _compose_client()
    if client is None:
        pytest.skip("no Docker Compose client installed (docker compose or docker-compose)")
    # The services read .env beside the compose file: a copy of both, the example as the env file.
    shutil.copy(DEPLOY / "compose.yaml", tmp_path / "compose.yaml")
    shutil.copy(DEPLOY / ".env.example", tmp_path / ".env")
    result = subprocess.run([*client, "--project-name", "pco_pipeline", "--file", str(tmp_path / "compose.yaml"),
                             "--env-file", str(tmp_path / ".env"), "--profile", "sandbox", "config", "--services"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"db", "migrate", "code-server", "webserver", "daemon", "receiver",
                                          "console", "sandbox"}

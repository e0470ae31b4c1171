"""The command line: clear one-line errors for bad configuration, and a working setup path."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "pco_pipeline.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_PG_URL")}
    full_env.update(env or {})
    return subprocess.run([*CLI, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


def test_wrong_database_url_is_one_line_naming_the_variable():
    result = run_cli("migrate", env={"DATABASE_URL": "postgresql://someone:hunter2@127.0.0.1:1/nowhere"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: DATABASE_URL")
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_non_postgres_database_url_is_refused():
    result = run_cli("migrate", env={"DATABASE_URL": "mysql://root@localhost/db"})
    assert result.returncode != 0
    assert "DATABASE_URL must be a PostgreSQL URL" in result.stderr


def test_migrate_with_database_url_is_idempotent(empty_database_url):
    first = run_cli("migrate", env={"DATABASE_URL": empty_database_url})
    assert first.returncode == 0, first.stderr
    assert "applied 0001_church_schema.sql" in first.stdout
    second = run_cli("migrate", env={"DATABASE_URL": empty_database_url})
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "database is up to date"


@pytest.mark.slow
def test_incomplete_embedded_data_directory_is_recreated(tmp_path):
    home = tmp_path / "state"
    broken = home / "pgdata"
    broken.mkdir(parents=True)
    (broken / "half-written-file").write_text("not a database")
    env = {"PCO_PIPELINE_HOME": str(home)}
    try:
        result = run_cli("migrate", env=env, timeout=180)
        assert result.returncode == 0, result.stderr
        assert "applied 0001_church_schema.sql" in result.stdout
        assert "Traceback" not in result.stderr
        assert list(home.glob("pgdata.broken-*")), "the broken directory is kept aside, not deleted"
    finally:
        run_cli("db", "stop", env=env)

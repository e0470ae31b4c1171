"""`pco-pipeline ui` decisions that need no running UI (the UI itself: tests/browser)."""

from __future__ import annotations

import os
import socket
import time

import pytest

from pco_pipeline.cli import main
from pco_pipeline.commands.ui import (configured_pco_settings, dagster_dev_command, newest_sandbox_state,
                                      shadowed_by_dotenv)
from pco_pipeline.paths import project_root


def test_pco_settings_from_the_environment_and_dotenv_which_wins():
    environ = {"PCO_APP_ID": "abc", "PCO_SECRET": "  ", "HOME": "/root"}
    dotenv = {"PCO_API_BASE": "https://pco.example", "PCO_SECRET": "s3cret", "OTHER": None}
    assert configured_pco_settings(environ, dotenv) == {
        "PCO_APP_ID": "environment", "PCO_API_BASE": ".env", "PCO_SECRET": ".env"}
    assert configured_pco_settings({"DATABASE_URL": "x"}, {}) == {}


def test_dotenv_values_that_override_the_environment_are_named():
    environ = {"PCO_API_BASE": "http://127.0.0.1:8765", "DAGSTER_PG_URL": "same"}
    dotenv = {"PCO_API_BASE": "https://api.planningcenteronline.com", "DAGSTER_PG_URL": "same", "X": None}
    assert shadowed_by_dotenv(environ, dotenv) == ["PCO_API_BASE"]


def test_the_newest_sandbox_church_is_served(tmp_path):
    assert newest_sandbox_state(tmp_path / "missing") is None
    older, newer = tmp_path / "church-2000-1.json", tmp_path / "church-300-7.json"
    older.write_text("{}")
    newer.write_text("{}")
    now = time.time()
    os.utime(older, (now - 60, now - 60))
    (tmp_path / "church-2000-1.json.lock").write_text("")
    assert newest_sandbox_state(tmp_path) == newer


def test_dg_dev_runs_the_project_workspace_from_anywhere():
    command = dagster_dev_command("127.0.0.1", 3001)
    assert command[1:3] == ["dev", "--workspace"] and command[3] == str(project_root() / "workspace.yaml")
    assert command[-4:] == ["--host", "127.0.0.1", "--port", "3001"]


def test_a_busy_port_is_refused_in_one_line_before_anything_starts(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args,message", [(["--sandbox", "/nonexistent/church.json"], "no sandbox state file"),
                                          (["--port", "0"], "--port must be")])
def test_bad_arguments_are_refused(args, message, capsys):
    assert main(["ui", *args]) == 2
    assert message in capsys.readouterr().err

"""`make ui` starts the staff console beside the Dagster UI; `pco-pipeline console` is registered."""

from __future__ import annotations

import argparse
import socket

import httpx

from pco_pipeline.cli import build_parser
from pco_pipeline.commands.ui import _serve_console


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ui_args(console_port: int) -> argparse.Namespace:
    return argparse.Namespace(host="127.0.0.1", port=3999, console_port=console_port, no_console=False)


def test_the_ui_serves_the_console_launching_through_its_own_webserver(database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PCO_PIPELINE_HOME", str(tmp_path))   # the generated session secret goes here
    port = _free_port()
    with _serve_console(_ui_args(port), database_url, {}):
        sign_in = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
        home = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert sign_in.status_code == 200 and "Sign in" in sign_in.text
    assert home.status_code == 303
    assert f"staff console: http://127.0.0.1:{port}" in capsys.readouterr().out
    assert (tmp_path / "console_session_secret").is_file()


def test_a_busy_console_port_is_one_note_and_the_ui_goes_on(database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PCO_PIPELINE_HOME", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with _serve_console(_ui_args(port), database_url, {}):
            pass
    out = capsys.readouterr().out
    assert f"staff console not started on port {port}" in out and "--console-port" in out


def test_pco_pipeline_console_is_a_command_with_host_and_port():
    args = build_parser().parse_args(["console", "--port", "9001"])
    assert (args.host, args.port) == ("127.0.0.1", 9001)


def test_pco_pipeline_console_on_a_busy_port_says_so_in_one_line(database_url, tmp_path, monkeypatch, capsys):
    from pco_pipeline.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PCO_PIPELINE_HOME", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["console", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and len(err.strip().splitlines()) == 1


def test_pco_pipeline_console_names_a_wrong_setting(monkeypatch, capsys):
    from pco_pipeline.cli import main

    monkeypatch.setenv("PCO_CONSOLE_SESSION_HOURS", "forever")
    assert main(["console"]) == 2
    assert "PCO_CONSOLE_SESSION_HOURS" in capsys.readouterr().err

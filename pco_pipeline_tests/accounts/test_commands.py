"""`pco-pipeline users …` and `tokens …` end to end through the CLI's main(), on this test's
database: what they print, what they store, and that no password or token leaks into output
or logs (captured at DEBUG, with -v)."""

from __future__ import annotations

import io
import logging

import pytest
import sqlalchemy as sa

from pco_pipeline.accounts.errors import LoginRefused
from pco_pipeline.accounts.login import PasswordLogin
from pco_pipeline.accounts.tokens import TOKEN_PATTERN, identify_token
from pco_pipeline.cli import main

PASSWORD = "Sunday-School 2026"
NEW_PASSWORD = "a longer, newer passphrase"


class Cli:
    """Runs `pco-pipeline -v ARGS` in-process; keeps everything it printed and logged."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                 caplog: pytest.LogCaptureFixture) -> None:
        self._monkeypatch, self._capsys, self._caplog = monkeypatch, capsys, caplog
        self._printed: list[str] = []

    def __call__(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of one command reading `stdin`."""
        self._monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["-v", *args])
        out, err = self._capsys.readouterr()
        self._printed += [out, err]
        return code, out, err

    @property
    def transcript(self) -> str:
        """Everything printed by every command so far, and every log record at DEBUG."""
        return "".join(self._printed) + self._caplog.text


@pytest.fixture
def cli(database_url, monkeypatch, capsys, caplog) -> Cli:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    caplog.set_level(logging.DEBUG)
    return Cli(monkeypatch, capsys, caplog)


def test_users_add_list_set_password_remove(cli, engine):
    code, out, err = cli("users", "add", "Alice", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert (code, out, err) == (0, "user 'alice' added with the admin role\n", "")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT name, role, password_hash FROM users")).one()
    assert stored.name == "alice" and stored.role == "admin"
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    assert PasswordLogin(engine).authenticate("alice", PASSWORD, "127.0.0.1").name == "alice"

    code, out, _ = cli("users", "list")
    assert code == 0
    [header, row] = out.splitlines()
    assert header.split()[:2] == ["name", "role"] and row.split()[:2] == ["alice", "admin"]
    assert "$argon2" not in out

    code, out, _ = cli("users", "set-password", "alice", "--password-stdin", stdin=NEW_PASSWORD + "\r\n")
    assert (code, out) == (0, "password of 'alice' changed\n")
    assert PasswordLogin(engine).authenticate("alice", NEW_PASSWORD, "127.0.0.1").name == "alice"
    with pytest.raises(LoginRefused):
        PasswordLogin(engine).authenticate("alice", PASSWORD, "127.0.0.1")

    code, out, _ = cli("users", "remove", "ALICE")
    assert (code, out) == (0, "user 'alice' removed\n")
    assert cli("users", "list")[1].startswith("no users yet")

    assert PASSWORD not in cli.transcript and NEW_PASSWORD not in cli.transcript


@pytest.mark.parametrize("args, stdin, message", [
    (("users", "add", "bob", "--role", "viewer", "--password-stdin"), "short\n",
     "error: password must be at least 12 characters, got 5"),
    (("users", "add", "bob", "--role", "viewer", "--password-stdin"), "\n", "error: password must not be empty"),
    (("users", "add", "bob smith", "--role", "viewer", "--password-stdin"), PASSWORD + "\n",
     "error: user name must be 1 to 64 letters"),
    (("users", "remove", "nobody"), "", "error: there is no user 'nobody'"),
    (("users", "set-password", "nobody", "--password-stdin"), PASSWORD + "\n", "error: there is no user 'nobody'"),
    (("tokens", "revoke", "nothing"), "", "error: there is no unrevoked token named 'nothing'"),
])
def test_bad_input_is_one_error_line_and_changes_nothing(cli, engine, args, stdin, message):
    code, out, err = cli(*args, stdin=stdin)
    assert code == 1 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(message)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 0
    assert stdin.strip() in ("", PASSWORD) or stdin.strip() not in cli.transcript


def test_a_taken_user_name_is_refused_and_the_first_password_kept(cli, engine):
    assert cli("users", "add", "alice", "--role", "viewer", "--password-stdin", stdin=PASSWORD)[0] == 0
    code, _, err = cli("users", "add", "Alice", "--role", "admin", "--password-stdin", stdin=NEW_PASSWORD)
    assert code == 1 and "user 'alice' already exists" in err
    assert PasswordLogin(engine).authenticate("alice", PASSWORD, "127.0.0.1").role == "viewer"


def test_users_add_prompts_twice_and_refuses_two_different_passwords(cli, engine, monkeypatch):
    typed = iter([PASSWORD, PASSWORD + "?"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    code, _, err = cli("users", "add", "alice", "--role", "viewer")
    assert code == 1 and "the two passwords differ; nothing was changed" in err
    typed = iter([PASSWORD, PASSWORD])
    assert cli("users", "add", "alice", "--role", "viewer")[0] == 0
    assert PasswordLogin(engine).authenticate("alice", PASSWORD, "127.0.0.1").name == "alice"
    assert PASSWORD not in cli.transcript


def test_tokens_create_prints_the_token_once_and_list_never_shows_it(cli, engine):
    code, out, err = cli("tokens", "create", "Reports", "--role", "viewer")
    assert code == 0
    token = out.strip()
    assert out == token + "\n" and TOKEN_PATTERN.fullmatch(token)  # alone on stdout: $(…) captures it
    assert "shown this once" in err and token not in err
    identity = identify_token(engine, token)
    assert identity is not None and identity.name == "reports"
    with engine.connect() as conn:
        stored = " ".join(str(value) for value in conn.execute(sa.text("SELECT * FROM api_tokens")).one())
    assert token not in stored

    code, out, _ = cli("tokens", "list")
    assert code == 0
    [header, row] = out.splitlines()
    assert row.split()[:3] == ["reports", "viewer", token[:13] + "…"] and row.endswith("active")

    code, out, _ = cli("tokens", "create", "reports", "--role", "admin")
    assert code == 1 and out == ""

    code, revoked, _ = cli("tokens", "revoke", "reports")
    assert code == 0 and revoked.startswith("token 'reports' (") and "revoked" in revoked
    assert identify_token(engine, token) is None
    code, after, _ = cli("tokens", "list")
    assert "revoked" in after.splitlines()[1]

    assert cli.transcript.count(token) == 1  # the create, and nothing else
    assert cli.transcript.count(token[13:]) == 1  # not even the secret part without its prefix

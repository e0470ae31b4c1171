"""The staff console's settings, read from the environment (`PCO_CONSOLE_*`).

- `PCO_CONSOLE_SESSION_SECRET`: the key session cookies are signed with (at least 32
  characters). Unset: a random one is generated once and kept in `.pco_pipeline/console_session_secret`
  (readable by its owner only), so sessions survive a restart. Never logged or shown.
- `PCO_CONSOLE_SECURE_COOKIES`: `true` when the console is reached over HTTPS (a reverse proxy):
  the session cookie then carries `Secure`. Default `false` (the console listens on loopback HTTP).
- `PCO_CONSOLE_SESSION_HOURS`: how long a sign-in lasts (default 8; 1 to 168).
- `PCO_CONSOLE_DAGSTER_URL`: the Dagster webserver runs are launched through and linked to
  (default http://127.0.0.1:3000, where `make ui` serves it).

A wrong value raises ConsoleSettingsError naming the setting (never the secret's value).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from pco_pipeline.paths import state_dir

SESSION_SECRET_ENV = "PCO_CONSOLE_SESSION_SECRET"
SECURE_COOKIES_ENV = "PCO_CONSOLE_SECURE_COOKIES"
SESSION_HOURS_ENV = "PCO_CONSOLE_SESSION_HOURS"
DAGSTER_URL_ENV = "PCO_CONSOLE_DAGSTER_URL"

DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
DEFAULT_SESSION_HOURS = 8
MIN_SECRET_LENGTH = 32
SECRET_FILE = "console_session_secret"


class ConsoleSettingsError(ValueError):
    """A console setting is wrong; the message names it."""


@dataclass(frozen=True)
class ConsoleSettings:
    session_secret: str = field(repr=False)
    secure_cookies: bool = False
    session_hours: int = DEFAULT_SESSION_HOURS
    dagster_url: str = DEFAULT_DAGSTER_URL

    @property
    def session_seconds(self) -> int:
        return self.session_hours * 3600


def load_settings(environ: Mapping[str, str] | None = None, *, secret_dir: Path | None = None) -> ConsoleSettings:
    """The settings from `environ` (default: the process environment); the generated session
    secret is kept in `secret_dir` (default: the project's state directory)."""
    environ = os.environ if environ is None else environ
    return ConsoleSettings(
        session_secret=_session_secret(environ.get(SESSION_SECRET_ENV, ""), secret_dir or state_dir()),
        secure_cookies=_flag(environ.get(SECURE_COOKIES_ENV, ""), SECURE_COOKIES_ENV),
        session_hours=_hours(environ.get(SESSION_HOURS_ENV, "")),
        dagster_url=_dagster_url(environ.get(DAGSTER_URL_ENV, "")),
    )


def _session_secret(configured: str, directory: Path) -> str:
    configured = configured.strip()
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise ConsoleSettingsError(f"{SESSION_SECRET_ENV} must be at least {MIN_SECRET_LENGTH} characters "
                                       "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
        return configured
    path = directory / SECRET_FILE
    if path.is_file():
        kept = path.read_text(encoding="utf-8").strip()
        if len(kept) >= MIN_SECRET_LENGTH:
            return kept
    directory.mkdir(parents=True, exist_ok=True)
    generated = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(generated + "\n")
    return generated


def _flag(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConsoleSettingsError(f"{name} must be true or false, got {text!r}")


def _hours(text: str) -> int:
    if not text.strip():
        return DEFAULT_SESSION_HOURS
    try:
        hours = int(text)
    except ValueError:
        raise ConsoleSettingsError(f"{SESSION_HOURS_ENV} must be a whole number of hours, got {text!r}") from None
    if not 1 <= hours <= 168:
        raise ConsoleSettingsError(f"{SESSION_HOURS_ENV} must be between 1 and 168, got {hours}")
    return hours


def _dagster_url(text: str) -> str:
    url = text.strip().rstrip("/") or DEFAULT_DAGSTER_URL
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConsoleSettingsError(f"{DAGSTER_URL_ENV} must be an http(s) URL of the Dagster webserver, got {text!r}")
    return url

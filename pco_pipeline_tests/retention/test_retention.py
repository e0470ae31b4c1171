"""Retention of finished church_outbox and webhook_inbox rows (`sync/retention.py`) on a real
database: only rows finished and finished longer ago than the period go, in bounded batches;
the nightly schedule's run and `pco-pipeline purge` do it; a wrong setting is refused by name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pco_pipeline.cli import main
from pco_pipeline.commands import purge as purge_command
from pco_pipeline.definitions import defs
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.church_db.retention import retention_days
from pco_pipeline.sync import retention

DAYS = 30
FINISHED = {"church_outbox": {"sent"}, "webhook_inbox": {"applied", "ignored"}}
STATUSES = {"church_outbox": ("pending", "failed", "sent", "quarantined", "needs_action"),
            "webhook_inbox": ("pending", "failed", "applied", "ignored", "quarantined")}
# Hours since a row finished: two hours either side of the period, never on it (the purge reads
# the clock a moment after the rows are written).
AGES = (0, 1, 24 * DAYS - 2, 24 * DAYS + 2, 24 * 31, 24 * 400)


@dataclass(frozen=True)
class Row:
    table: str
    status: str
    hours: int

    @property
    def goes(self) -> bool:
        return self.status in FINISHED[self.table] and self.hours > 24 * DAYS


def write(engine: sa.Engine, rows: list[Row]) -> dict[str, list[int]]:
    """The rows, each with its finish time set whatever its status (so only the status keeps an old
    open or quarantined row); ids per table, in the order of `rows`."""
    ids: dict[str, list[int]] = {"church_outbox": [], "webhook_inbox": []}
    with engine.begin() as conn:
        for n, row in enumerate(rows):
            age = {"age": timedelta(hours=row.hours), "status": row.status}
            if row.table == "church_outbox":
                new_id = conn.execute(sa.text(
                    "INSERT INTO church_outbox (table_name, row_key, operation, changed_columns, changed_at, status,"
                    " finished_at) VALUES ('people', :key, 'update', '{last_name}', now() - :age - interval '1 hour',"
                    " :status, now() - :age) RETURNING id"), {**age, "key": str(n)}).scalar_one()
            else:
                new_id = conn.execute(sa.text(
                    "INSERT INTO webhook_inbox (event_name, delivery_id, raw_body, received_at, status, processed_at)"
                    " VALUES ('people.v2.events.person.updated', :delivery, '\\x7b7d',"
                    " now() - :age - interval '1 minute', :status, now() - :age) RETURNING id"),
                    {**age, "delivery": f"delivery-{n}"}).scalar_one()
            ids[row.table].append(new_id)
    return ids


def remaining(engine: sa.Engine) -> dict[str, set[int]]:
    with engine.connect() as conn:
        return {table: set(conn.execute(sa.text(f"SELECT id FROM {table}")).scalars()) for table in retention.TABLES}


def empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE church_outbox, webhook_inbox"))


@pytest.fixture
def deletes(engine) -> Iterator[list[int]]:
    """The number of rows each DELETE statement on `engine` removed, in order."""
    counts: list[int] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "DELETE FROM" in statement:
            counts.append(cursor.rowcount)

    event.listen(engine, "after_cursor_execute", record)
    yield counts
    event.remove(engine, "after_cursor_execute", record)


row = st.sampled_from(list(STATUSES)).flatmap(
    lambda table: st.builds(Row, st.just(table), st.sampled_from(STATUSES[table]), st.sampled_from(AGES)))


# One database for every example (each empties both tables first).
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=30), batch_size=st.integers(1, 6))
def test_only_rows_finished_longer_ago_than_the_period_go_in_batches_and_a_second_run_finds_none(
        engine, deletes, rows, batch_size):
    empty(engine)
    deletes.clear()
    ids = write(engine, rows)
    going = {table: {i for r, i in zip([r for r in rows if r.table == table], ids[table]) if r.goes}
             for table in retention.TABLES}
    before = remaining(engine)

    counted = retention.purge(engine, older_than=timedelta(days=DAYS), batch_size=batch_size, dry_run=True)
    assert counted.rows == {table: len(going[table]) for table in retention.TABLES}
    assert remaining(engine) == before and deletes == []

    done = retention.purge(engine, older_than=timedelta(days=DAYS), batch_size=batch_size)
    assert done.rows == counted.rows
    assert remaining(engine) == {table: before[table] - going[table] for table in retention.TABLES}
    assert all(n <= batch_size for n in deletes) and sum(deletes) == sum(done.rows.values())
    # A batch short of the bound ends a table: as many statements as full batches, plus one.
    assert done.batches == {table: n // batch_size + 1 for table, n in done.rows.items()}

    deletes.clear()
    again = retention.purge(engine, older_than=timedelta(days=DAYS), batch_size=batch_size)
    assert again.rows == dict.fromkeys(retention.TABLES, 0) and deletes == [0, 0]


def test_more_rows_than_one_batch_all_go_a_batch_at_a_time(engine, deletes):
    write(engine, [Row("church_outbox", "sent", 24 * 40)] * 25 + [Row("webhook_inbox", "applied", 24 * 40)] * 12)
    done = retention.purge(engine, older_than=timedelta(days=DAYS), batch_size=10)
    assert done.rows == {"church_outbox": 25, "webhook_inbox": 12}
    assert deletes == [10, 10, 5, 10, 2]
    assert remaining(engine) == {"church_outbox": set(), "webhook_inbox": set()}


@pytest.mark.parametrize("value", ["abc", "0", "6", "3651", "30.5", "-30"])
def test_a_wrong_retention_setting_is_refused_naming_it(monkeypatch, value):
    monkeypatch.setenv(retention.SETTING, value)
    with pytest.raises(ValueError, match=f"{retention.SETTING} must be a whole number from 7 to 3650"):
        retention_days()


def test_the_setting_sets_the_period(monkeypatch):
    monkeypatch.delenv(retention.SETTING, raising=False)
    assert retention_days() == 30
    monkeypatch.setenv(retention.SETTING, " 7 ")
    assert retention_days() == 7


def resources(database_url: str) -> dict:
    return {"church_db": PostgresResource(database_url=database_url)}


def test_the_nightly_schedule_is_on_and_its_run_purges_and_reports_the_counts(engine, database_url, monkeypatch):
    monkeypatch.setenv(retention.SETTING, "10")
    ids = write(engine, [Row("church_outbox", "sent", 24 * 11), Row("church_outbox", "sent", 24 * 9),
                         Row("church_outbox", "needs_action", 24 * 400), Row("webhook_inbox", "ignored", 24 * 11),
                         Row("webhook_inbox", "quarantined", 24 * 400)])
    loaded = defs()
    schedule = loaded.resolve_schedule_def("purge_delivered_nightly")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.instance_for_test() as instance:
        (request,) = schedule.evaluate_tick(dg.build_schedule_context(instance=instance)).run_requests or []
        result = loaded.resolve_job_def(schedule.job_name).execute_in_process(
            run_config=request.run_config, resources=resources(database_url), instance=instance, tags=request.tags)
    assert result.success
    (output,) = [e for e in result.all_events if e.is_successful_output]
    metadata = {key: value.value for key, value in output.step_output_data.metadata.items()}
    assert metadata["church_outbox_deleted"] == 1 and metadata["webhook_inbox_deleted"] == 1
    assert metadata["retention_days"] == 10 and metadata["dry_run"] is False
    assert remaining(engine) == {"church_outbox": set(ids["church_outbox"][1:]),
                                 "webhook_inbox": {ids["webhook_inbox"][1]}}


@pytest.fixture
def cli_runs(database_url, monkeypatch) -> None:
    """`pco-pipeline purge` runs its job on a test instance and this test's database."""
    def run_job(name: str, run_config: dict | None = None):
        with dg.instance_for_test() as instance:
            return defs().resolve_job_def(name).execute_in_process(
                run_config=run_config or {}, resources=resources(database_url), instance=instance,
                raise_on_error=False)

    monkeypatch.setattr(purge_command, "run_job", run_job)


def test_the_purge_command_counts_with_dry_run_then_deletes(engine, cli_runs, capsys):
    ids = write(engine, [Row("church_outbox", "sent", 24 * 31), Row("church_outbox", "pending", 24 * 31),
                         Row("webhook_inbox", "applied", 24 * 31), Row("webhook_inbox", "applied", 24 * 31),
                         Row("webhook_inbox", "applied", 1)])
    before = remaining(engine)

    assert main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "church_outbox: 1 finished row(s) would be deleted" in out
    assert "webhook_inbox: 2 finished row(s) would be deleted" in out
    assert "(purge_delivered, dry run): success" in out
    assert remaining(engine) == before

    assert main(["purge"]) == 0
    out = capsys.readouterr().out
    assert "church_outbox: 1 finished row(s) deleted" in out and "webhook_inbox: 2 finished row(s) deleted" in out
    assert remaining(engine) == {"church_outbox": {ids["church_outbox"][1]}, "webhook_inbox": {ids["webhook_inbox"][2]}}


def test_the_purge_command_and_the_job_refuse_a_wrong_setting_and_delete_nothing(
        engine, database_url, cli_runs, monkeypatch, capsys):
    write(engine, [Row("church_outbox", "sent", 24 * 400), Row("webhook_inbox", "applied", 24 * 400)])
    before = remaining(engine)
    monkeypatch.setenv(retention.SETTING, "five")
    assert main(["purge"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {retention.SETTING} must be a whole number from 7 to 3650, got 'five'")

    with dg.instance_for_test() as instance:   # the scheduled run says the same in its failed step
        result = defs().resolve_job_def("purge_delivered").execute_in_process(
            resources=resources(database_url), instance=instance, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.error is not None
    assert f"{retention.SETTING} must be a whole number from 7 to 3650" in failure.step_failure_data.error.message
    assert remaining(engine) == before

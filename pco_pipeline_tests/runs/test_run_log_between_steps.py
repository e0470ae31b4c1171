"""A multi-step run's `pco_sync_log` row reads `running` between its steps, and its outcome only
after its last step (issue 18: the console's "Running now" must not show such a run as finished)."""

import dagster as dg
import pytest
import sqlalchemy as sa

from pco_pipeline.db import sync_log
from pco_pipeline.db.sync_log import recent_runs
from pco_pipeline.defs.church_db.runlog import step_log
from pco_pipeline.runs import control


def two_step_job(engine: sa.Engine, seen_by_load: list[tuple[str, object]], *, second_fails: bool = False,
                 second_skips_records: int = 0) -> dg.JobDefinition:
    """extract → load, both reporting into the run's row; the load step appends to `seen_by_load`
    the row's status and finished_at as it saw them when it started (before its own step log)."""

    @dg.op
    def extract(context: dg.OpExecutionContext) -> int:
        with step_log(context, engine, "inbound") as step:
            step.finish(created=2)
        return 2

    @dg.op
    def load(context: dg.OpExecutionContext, extracted: int) -> None:
        with engine.connect() as conn:
            seen_by_load.append(tuple(conn.execute(sa.text(
                "SELECT status, finished_at FROM pco_sync_log WHERE run_id = :r"), {"r": context.run.run_id}).one()))
        with step_log(context, engine, "inbound") as step:
            if second_fails:
                raise RuntimeError("the load broke")
            step.finish(updated=extracted, failed=second_skips_records)

    @dg.job(executor_def=dg.in_process_executor)
    def sync_things() -> None:
        load(extract())

    return sync_things


def test_row_reads_running_between_steps_and_success_after_the_last(engine: sa.Engine) -> None:
    seen_by_load: list[tuple[str, object]] = []
    result = two_step_job(engine, seen_by_load).execute_in_process()

    assert result.success
    assert seen_by_load == [("running", None)]
    run = recent_runs(engine, limit=1)[0]
    assert (run.run_id, run.sync_type, run.status) == (result.run_id, "things", "success")
    assert run.finished_at is not None
    assert (run.created_count, run.updated_count) == (2, 2)


def test_failed_last_step_fails_the_run(engine: sa.Engine) -> None:
    seen_by_load: list[tuple[str, object]] = []
    result = two_step_job(engine, seen_by_load, second_fails=True).execute_in_process(raise_on_error=False)

    assert not result.success
    assert seen_by_load == [("running", None)]
    run = recent_runs(engine, limit=1)[0]
    assert run.status == "failed"
    assert run.finished_at is not None
    assert run.error_message == "RuntimeError: the load broke"


@pytest.mark.parametrize("failed_records, status", [(0, "success"), (3, "partial")])
def test_last_step_writes_the_runs_outcome_from_its_totals(engine: sa.Engine, failed_records: int,
                                                           status: str) -> None:
    two_step_job(engine, [], second_skips_records=failed_records).execute_in_process()

    run = recent_runs(engine, limit=1)[0]
    assert (run.status, run.failed_count) == (status, failed_records)


def test_rows_left_running_by_a_succeeded_run_are_closed_with_its_outcome(engine: sa.Engine) -> None:
    """Parallel last steps that end together each leave the row to the other: the run's end closes it."""

    @dg.op
    def nothing() -> None:
        pass

    @dg.job(executor_def=dg.in_process_executor)
    def sync_quiet() -> None:
        nothing()

    with dg.DagsterInstance.ephemeral() as instance:
        succeeded = sync_quiet.execute_in_process(instance=instance).run_id
        rows = {run_id: sync_log.run_for(engine, run_id, "quiet", "inbound") for run_id in (succeeded, "not-ended")}
        sync_log.update_counts(engine, rows[succeeded].id, failed=1)

        control.close_logs_of_ended_runs(instance, engine)

    statuses = {run.run_id: (run.status, run.finished_at is not None) for run in recent_runs(engine)}
    assert statuses == {succeeded: ("partial", True), "not-ended": ("running", False)}

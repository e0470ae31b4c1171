"""pco_sync_log rows: written at start, kept current, closed with status and a redacted error."""

import pytest

from pco_pipeline.db import sync_log
from pco_pipeline_tests.sync.pco_docs import rows


def _row(engine, log_id):
    return rows(engine, "SELECT * FROM pco_sync_log WHERE id = :i", i=log_id)[0]


def test_a_run_is_visible_as_running_then_finished_with_its_counts(engine):
    run = sync_log.start_run(engine, "people", "inbound", run_id="dagster-run-1")
    row = _row(engine, run.id)
    assert (row.status, row.run_id, row.finished_at) == ("running", "dagster-run-1", None)
    sync_log.update_counts(engine, run.id, created=3, updated=1)
    assert (_row(engine, run.id).created_count, _row(engine, run.id).updated_count) == (3, 1)
    sync_log.finish_run(engine, run.id, "success", created=5, updated=2, skipped=1, failed=0, requests_used=7)
    row = _row(engine, run.id)
    assert (row.status, row.created_count, row.updated_count, row.skipped_count, row.requests_used) == (
        "success", 5, 2, 1, 7)
    assert row.finished_at >= row.started_at
    assert sync_log.recent_runs(engine)[0].id == run.id


def test_progress_writes_are_throttled_but_never_lost_when_forced(engine):
    run = sync_log.start_run(engine, "full", "inbound")
    progress = run.progress(every_seconds=3600)
    assert progress.update(created=1) is True   # the first update is written at once
    assert progress.update(created=2) is False  # then at most once an hour
    assert _row(engine, run.id).created_count == 1
    assert progress.update(created=3, force=True) is True
    assert _row(engine, run.id).created_count == 3


def test_a_failed_run_keeps_its_error_without_secrets(engine):
    run = sync_log.start_run(engine, "people", "inbound")
    error = RuntimeError("cannot reach postgresql://sync:hunter2@db.example/church; "
                         "PCO_SECRET=abc123def and Authorization: Basic dXNlcjpwYXNz")
    sync_log.finish_run(engine, run.id, "failed", error=error)
    message = _row(engine, run.id).error_message
    assert message.startswith("RuntimeError: cannot reach postgresql://***@db.example/church")
    for secret in ("hunter2", "abc123def", "dXNlcjpwYXNz"):
        assert secret not in message


def test_bad_status_or_direction_is_refused(engine):
    with pytest.raises(ValueError, match="direction"):
        sync_log.start_run(engine, "people", "sideways")
    run = sync_log.start_run(engine, "people", "inbound")
    with pytest.raises(ValueError, match="success, failed or partial"):
        sync_log.finish_run(engine, run.id, "running")

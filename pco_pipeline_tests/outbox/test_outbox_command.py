"""`pco-pipeline outbox status|list|retry` and the console dashboard's outbox panel, on a real
database: church edits captured by the triggers, one failed (PCO unreachable) and one given up by
the outbox's own functions, as push_changes runs leave them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pco_pipeline.cli import main
from pco_pipeline.sync import outbox
from pco_pipeline.sync.webhook_inbox import RetryPolicy
from pco_pipeline_tests.outbox.test_push_changes import edit

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def backlog(engine, database_url, monkeypatch) -> dict[str, int]:
    """Four church edits: Ada's insert failed (due again later), Bob's insert given up with a
    reason holding HTML, Cy's insert and an email added to Cy waiting. Row ids by name."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    for first in ("Ada", "Bob", "Cy"):
        edit(engine, "INSERT INTO people (first_name, last_name) VALUES (:f, 'Lee')", f=first)
    edit(engine, "INSERT INTO person_emails (person_id, address) SELECT id, 'cy@example.org' FROM people"
                 " WHERE first_name = 'Cy'")
    with engine.connect() as conn:
        ids = list(conn.execute(sa.text("SELECT id FROM church_outbox ORDER BY id")).scalars())
    ada, bob = ids[0], ids[1]
    outcomes = outbox.Outcomes()
    (failed,), _ = outbox.claim(engine, [ada], run_id="run-1")
    outbox.record_failed(engine, [failed], "PCO could not be reached", outcomes)
    (given_up,), _ = outbox.claim(engine, [bob], run_id="run-2")
    outbox.record_failed(engine, [given_up], f"PCO said {SCRIPT}", outcomes, policy=RetryPolicy(max_tries=1))
    edit(engine, "UPDATE church_outbox SET changed_at = now() - interval '20 minutes' WHERE id = :i", i=ids[2])
    return {"ada": ada, "bob": bob, "cy": ids[2], "cy_email": ids[3]}


def statuses(engine) -> dict[int, tuple[str, int]]:
    with engine.connect() as conn:
        return {r.id: (r.status, r.attempts) for r in conn.execute(sa.text(
            "SELECT id, status, attempts FROM church_outbox"))}


def test_status_counts_per_table_and_names_the_oldest_waiting_edit(backlog, capsys):
    assert main(["outbox", "status"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    # table, waiting, in a run, failed, quarantined, needs action, oldest waiting
    assert lines["people"][1:6] == ["1", "0", "1", "1", "0"] and lines["people"][6:8] == ["20", "min"]
    assert lines["person_emails"][1:6] == ["1", "0", "0", "0", "0"]
    assert lines["total"][1:6] == ["2", "0", "1", "1", "0"]
    assert "waited over 15 minutes" in out and "outbox list --state quarantined" in out


def test_list_shows_each_row_s_reason_and_retry_sends_given_up_rows_again(backlog, engine, capsys):
    assert main(["outbox", "list", "--state", "quarantined"]) == 0
    out = capsys.readouterr().out
    assert f"{backlog['bob']}  people" in out and "gave up after 1 tries; last error: PCO said" in out
    assert main(["outbox", "list", "--state", "failed"]) == 0
    assert "PCO could not be reached" in capsys.readouterr().out

    assert main(["outbox", "retry", str(backlog["bob"]), str(backlog["cy"])]) == 1    # Cy's is not stuck
    captured = capsys.readouterr()
    assert f"outbox row {backlog['bob']}: waiting again" in captured.out
    assert captured.err.strip() == f"error: not failed or quarantined (or no such row): {backlog['cy']}"
    assert statuses(engine)[backlog["bob"]] == ("pending", 0)
    with engine.connect() as conn:       # due at once: the sensor's retry query hands it out
        due = outbox.due_ids(conn, limit=10, unclaimed_for=timedelta(hours=1))
        still_open = conn.execute(sa.text("SELECT count(*) FROM sync_quarantine WHERE entity = 'church_outbox'"
                                          " AND resolved_at IS NULL")).scalar_one()
    assert backlog["bob"] in due.ids and still_open == 0
    assert main(["outbox", "list", "--state", "quarantined"]) == 0
    assert capsys.readouterr().out.strip() == "no outbox row is quarantined"


def test_an_empty_outbox_says_so(engine, database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["outbox", "status"]) == 0
    assert capsys.readouterr().out.strip() == "outbox empty: every church edit captured so far was sent"

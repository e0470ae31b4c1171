"""The dashboard's church outbox panel: the backlog per table and the reasons of rows that failed
or were given up, shown as text (a reason can hold what PCO said), to signed-in staff only."""

from __future__ import annotations

import sqlalchemy as sa

from pco_pipeline.sync import outbox
from pco_pipeline.sync.webhook_inbox import RetryPolicy

SCRIPT = "<script>alert(1)</script>"


def _edit(engine: sa.Engine, sql: str) -> None:
    with engine.begin() as conn:         # another application's write: captured
        conn.execute(sa.text(sql))


def test_the_dashboard_shows_the_outbox_backlog_and_why_rows_are_stuck_as_text(engine, admin, anonymous):
    _edit(engine, "INSERT INTO people (first_name, last_name) VALUES ('Ada', 'Lee'), ('Bob', 'Lee'), ('Cy', 'Lee')")
    _edit(engine, "UPDATE church_outbox SET changed_at = now() - interval '30 minutes'")
    with engine.connect() as conn:
        ada, bob, _ = conn.execute(sa.text("SELECT id FROM church_outbox ORDER BY id")).scalars()
    (failed,), _ = outbox.claim(engine, [ada], run_id="run-1")
    outbox.record_failed(engine, [failed], "PCO could not be reached", outbox.Outcomes())
    (given_up,), _ = outbox.claim(engine, [bob], run_id="run-2")
    outbox.record_failed(engine, [given_up], f"PCO said {SCRIPT}", outbox.Outcomes(), policy=RetryPolicy(max_tries=1))

    page = admin.get("/").text

    assert 'data-testid="outbox-open">2<' in page and "oldest made 30 min ago" in page
    assert 'data-testid="outbox-failed">1<' in page and 'data-testid="outbox-quarantined">1<' in page
    assert "<td>people</td><td>1</td><td>0</td><td>1</td><td>1</td><td>0</td>" in page
    assert "PCO could not be reached" in page and "gave up after 1 tries" in page
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Church outbox" not in anonymous.get("/").text


def test_an_empty_outbox_shows_no_table(admin):
    page = admin.get("/").text
    assert 'data-testid="outbox-open">0<' in page and 'id="outbox"' not in page

"""What the dashboard shows, read from the church database: the last run of each job (its
`pco_sync_log` row, as `db.sync_log.RunSummary`), the open quarantine, the webhook configuration
and inbox, and what is waiting to be pushed (people not in PCO yet; the church outbox's backlog
per table, with the reasons of the latest rows that failed or were given up). The PCO connection check is
`pco.connection.check_connection`, run on request.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from pco_pipeline.console.conflicts_review import open_conflict_count
from pco_pipeline.console.review import open_count
from pco_pipeline.db.sync_log import RunSummary
from pco_pipeline.sync import outbox
from pco_pipeline.sync.quarantine import open_counts
from pco_pipeline.sync.webhook_events import SUBSCRIBED_EVENTS
from pco_pipeline.sync.webhook_inbox import Backlog, backlog
from pco_pipeline.webhooks.subscriptions import stored_subscriptions


# How many failed and given-up outbox rows the dashboard shows (the rest: `pco-pipeline outbox list`).
OUTBOX_ROWS_SHOWN = 5
# RunSummary's fields, in order.
RUN_COLUMNS = ("id, run_id, sync_type, direction, status, started_at, finished_at, created_count, updated_count,"
               " skipped_count, failed_count, requests_used, error_message")


@dataclass(frozen=True)
class SubscriptionStatus:
    event_name: str
    url: str
    active: bool
    has_secret: bool   # never the secret itself


@dataclass(frozen=True)
class Dashboard:
    database: str
    last_runs: list[RunSummary]
    quarantine_open: int
    quarantine_by_entity: dict[str, int]
    conflicts_open: int
    subscriptions: list[SubscriptionStatus]
    events_expected: int
    inbox: Backlog
    people_to_push: int
    outbox: outbox.Backlog
    outbox_stuck: list[outbox.ListedRow]     # failed, then given up: the oldest few, with their reasons

    @property
    def receiver_urls(self) -> list[str]:
        return sorted({s.url for s in self.subscriptions if s.active})


def last_runs(conn: sa.Connection) -> list[RunSummary]:
    """The newest run of each job (sync type and direction), newest first."""
    return [RunSummary(*row) for row in conn.execute(sa.text(
        f"SELECT * FROM (SELECT DISTINCT ON (sync_type, direction) {RUN_COLUMNS} FROM pco_sync_log"
        " ORDER BY sync_type, direction, started_at DESC, id DESC) newest ORDER BY started_at DESC, id DESC"))]


def running(conn: sa.Connection) -> list[RunSummary]:
    return [RunSummary(*row) for row in conn.execute(sa.text(
        f"SELECT {RUN_COLUMNS} FROM pco_sync_log WHERE status = 'running' ORDER BY started_at DESC, id DESC"))]


def load_dashboard(conn: sa.Connection, database: str) -> Dashboard:
    """Everything the dashboard shows but the PCO connection; `database` names the church database
    (its URL with the password masked)."""
    subscriptions = [SubscriptionStatus(s.event_name, s.url, s.active, bool(s.secret))
                     for s in stored_subscriptions(conn)]
    people_to_push = conn.execute(sa.text(
        "SELECT count(*) FROM people WHERE pco_id IS NULL AND merged_into_id IS NULL")).scalar_one()
    return Dashboard(database=database, last_runs=last_runs(conn), quarantine_open=open_count(conn),
                     quarantine_by_entity=open_counts(conn), conflicts_open=open_conflict_count(conn),
                     subscriptions=subscriptions,
                     events_expected=len(SUBSCRIBED_EVENTS), inbox=backlog(conn), people_to_push=int(people_to_push),
                     outbox=outbox.backlog(conn), outbox_stuck=[
                         *outbox.rows_in(conn, "failed", limit=OUTBOX_ROWS_SHOWN),
                         *outbox.rows_in(conn, "quarantined", limit=OUTBOX_ROWS_SHOWN)][:OUTBOX_ROWS_SHOWN])

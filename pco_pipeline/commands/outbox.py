"""`pco-pipeline outbox status|list|retry`: the church's edits waiting to be pushed to PCO
(`church_outbox`, filled by the change-capture triggers, emptied by `push_changes` runs): how many
wait, failed or were given up per table, why, and sending given-up ones again."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

# The same database opening, count argument and user naming as `conflicts`.
from pco_pipeline.commands.conflicts import _engine, _positive, _user
from pco_pipeline.runs.process import this_host
from pco_pipeline.sync import outbox


def register(subparsers) -> None:
    command = subparsers.add_parser(
        "outbox", help="the church's edits waiting to be pushed to PCO: the backlog per table, the rows that "
                       "failed or were given up and why, sending them again")
    actions = command.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)

    status = actions.add_parser("status", help="per table: waiting, failed (next retry), given up (quarantined), "
                                               "needing action in PCO; the oldest waiting edit")
    status.set_defaults(handler=run_status)

    listing = actions.add_parser("list", help="the rows in one state, oldest first, with their reasons")
    listing.add_argument("--state", choices=outbox.STATUSES, default="failed",
                         help="which rows (default: failed)")
    listing.add_argument("--limit", type=_positive, default=100, help="at most this many (default 100)")
    listing.set_defaults(handler=run_list)

    retry = actions.add_parser("retry", help="send failed or given-up rows again (fresh tries, at the sensor's "
                                             "next tick); fix the cause first")
    retry.add_argument("ids", type=int, nargs="+", metavar="ID")
    retry.set_defaults(handler=run_retry)


def age(moment: datetime, now: datetime | None = None) -> str:
    """How long ago `moment` was, coarsely (`45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`)."""
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - moment).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes} min"
    if days < 1:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M:%S}" if moment else "-"


def run_status(args) -> int:
    with _engine().connect() as conn:
        backlog = outbox.backlog(conn)
    if not backlog.tables:
        print("outbox empty: every church edit captured so far was sent")
        return 0
    print(f"{'table':<16} {'waiting':>7} {'in a run':>8} {'failed':>6} {'quarantined':>11} {'needs action':>12}"
          "  oldest waiting   next retry")
    for table in backlog.tables:
        oldest = f"{age(table.oldest_open)} ago" if table.oldest_open else "-"
        print(f"{table.table_name:<16} {table.pending:>7} {table.held:>8} {table.failed:>6} {table.quarantined:>11} "
              f"{table.needs_action:>12}  {oldest:<16} {_when(table.next_retry)}")
    print(f"{'total':<16} {backlog.total('pending'):>7} {backlog.total('held'):>8} {backlog.total('failed'):>6} "
          f"{backlog.total('quarantined'):>11} {backlog.total('needs_action'):>12}")
    if backlog.oldest_open is not None and datetime.now(timezone.utc) - backlog.oldest_open > timedelta(minutes=15):
        print("the oldest edit has waited over 15 minutes: is the daemon running "
              "(push_church_changes_sensor, push_church_changes_sweep)? `pco-pipeline outbox list --state failed`")
    if backlog.total("quarantined"):
        print("given up: `pco-pipeline outbox list --state quarantined` says why; fix the cause, then "
              "`pco-pipeline outbox retry ID`")
    if backlog.total("needs_action"):
        print("to do by hand in PCO: `pco-pipeline outbox list --state needs_action` (or `conflicts list --open`)")
    return 0


def run_list(args) -> int:
    with _engine().connect() as conn:
        rows = outbox.rows_in(conn, args.state, limit=args.limit)
    if not rows:
        print(f"no outbox row is {args.state}")
        return 0
    print(f"{'id':>8}  {'table':<16} {'record':<14} {'change':<7} {'edited':<19} {'tries':>5}  "
          f"{'next attempt' if args.state in ('pending', 'failed') else 'finished':<19}  columns")
    for row in rows:
        later = row.next_attempt_at if args.state in ("pending", "failed") else row.finished_at
        print(f"{row.id:>8}  {row.table_name:<16} {row.row_key:<14} {row.operation:<7} {_when(row.changed_at):<19} "
              f"{row.attempts:>5}  {_when(later):<19}  {', '.join(row.changed_columns)}")
        if row.status_reason:
            print(f"{'':>10}{row.status_reason}")
    return 0


def run_retry(args) -> int:
    by = f"{_user()}@{this_host()} (pco-pipeline outbox retry)"
    with _engine().begin() as conn:
        retried = outbox.retry(conn, args.ids, asked_by=by)
    for outbox_id in retried:
        print(f"outbox row {outbox_id}: waiting again; the sensor hands it to a push_changes run at its next tick")
    refused = sorted(set(args.ids) - set(retried))
    if refused:
        print(f"error: not failed or quarantined (or no such row): {', '.join(map(str, refused))}", file=sys.stderr)
        return 1
    return 0


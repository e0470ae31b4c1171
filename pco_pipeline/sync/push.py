"""Outbound pushes (church database → PCO): the rules and vocabulary the three pushes share. No Dagster here.

    from pco_pipeline.sync.people_push import run_people_push
    report = run_people_push(engine, client, run_id=..., dry_run=False)
    report.counts.totals()          # created / updated / adopted / skipped / failed
    report.plan.markdown()          # what was (or, in a dry run, would be) sent, field by field

The pushes (`people_push.run_people_push`, `families_push.run_families_push`,
`memberships_push.run_group_memberships_push`)
follow the same rules:

- **Plan from the database alone.** Each push first reads what to send from the church tables,
  the landed PCO state and the push ledger, without a request. A dry run stops there: it sends
  nothing at all and writes nothing but its run log row; its plan is the report.
- **Validate before sending** (`push_validate`). A record PCO would damage or refuse is not sent:
  it is *skipped* and quarantined (direction 'outbound', entity `push_<table>`) with the reason.
- **PCO's refusals are per record.** A 422 (or another 4xx about the record) quarantines that
  record with PCO's own detail and the push goes on; the record is tried again once the church
  edits it. Errors about the connection itself (credentials, scopes, PCO unreachable or failing,
  a rate limit that never opens) stop the push (`PushAborted`).
- **Idempotent and crash-safe.** Ids are stored back as soon as PCO confirms a create, one
  record per transaction; a create whose answer was lost is found again in PCO by the next run
  (see `push_ledger`, `push_engine.create_recorded`); children are compared with what PCO already
  has before they are created.
- **One push of a kind at a time** (`push_engine.exclusive`): a second concurrent run of the same
  push refuses to start rather than race the first.

The skeleton that applies these rules is written once, in `push_engine`; each push module holds
only its own plan and writes.

Counts: `created` (POSTs PCO confirmed), `updated` (PATCHes), `deleted` (DELETEs PCO confirmed, or
records it no longer had), `adopted` (records found in PCO and
linked instead of created again), `skipped` (not sent: invalid, or refused earlier and unchanged,
or possibly a duplicate), `failed` (sent and refused, or the outcome stayed unknown). The run log
(`pco_sync_log`) counts both skipped and failed records as failed: all of them are in the
quarantine, and the run ends `partial`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.errors import (PCOAuthError, PCOConfigError, PCOConnectionError, PCOError, PCOForbiddenError,
                                     PCORateLimited, PCOServerError, PCOValidationError)
from pco_pipeline.sync import quarantine
from pco_pipeline.sync.markdown import markdown_cell

OUTCOMES = ("created", "updated", "deleted", "adopted", "skipped", "failed")

# Outbound quarantine reasons (inbound ones live in `quarantine`).
REFUSED_BY_PCO = "refused_by_pco"
OUTCOME_UNKNOWN = "outcome_unknown"
POSSIBLE_DUPLICATE = "possible_duplicate"
CHANGED_BY_PCO = "changed_by_pco"
MISSING_IN_PCO = "missing_in_pco"

# Errors about the connection, not the record: the push stops instead of failing every record.
ABORTING_ERRORS = (PCOAuthError, PCOForbiddenError, PCOConnectionError, PCORateLimited, PCOServerError,
                   PCOConfigError)

PLAN_TABLE_ROWS = 60


class PushAborted(RuntimeError):
    """The push stopped: PCO cannot be used right now (the cause is chained), or it is not safe to push."""


def quarantine_entity(table: str) -> str:
    """The quarantine entity of a local table's outbound records (kept apart from the inbound ones)."""
    return f"push_{table}"


def field_key(record_key: str, field_name: str) -> str:
    """The quarantine key of one field of a record PCO refused on its own (`<record key>#<field>`)."""
    return f"{record_key}#{field_name}"


# --- the plan -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlannedWrite:
    """One write a push sends (or would send): `fields` are name → value (update: "old → new")."""

    action: str            # create | update | delete
    resource: str          # PCO type
    local: str             # which local record, for people reading the plan
    fields: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Skip:
    """A local record the push does not send, and why (quarantined on a real run)."""

    table: str
    record_key: str
    local_id: int | None
    reason_code: str
    reason: str
    record: Mapping[str, Any] | None = None
    details: Mapping[str, Any] | None = None
    quarantine: bool = True   # False: already quarantined (refused earlier, unchanged since)

    @classmethod
    def refused_earlier(cls, table: str, record_key: Any, local_id: int | None) -> Skip:
        """A record PCO refused before and the church has not changed since (already quarantined)."""
        return cls(table, str(record_key), local_id, REFUSED_BY_PCO,
                   "PCO refused it before and it has not changed since", quarantine=False)


@dataclass
class Plan:
    """What a push sends, counted in full; the first `table_rows` writes are kept for the table."""

    table_rows: int = PLAN_TABLE_ROWS
    actions: Counter = field(default_factory=Counter)          # (resource, action) → n
    writes: list[PlannedWrite] = field(default_factory=list)   # the first table_rows
    skips: Counter = field(default_factory=Counter)            # (table, reason_code) → n
    skipped: list[Skip] = field(default_factory=list)          # the first table_rows
    notes: Counter = field(default_factory=Counter)            # not pushed by design, e.g. "waiting for person"
    needs_action: Counter = field(default_factory=Counter)     # church changes PCO's API cannot take
    needs_action_examples: list[str] = field(default_factory=list)   # the first table_rows, naming the records
    held_fields: dict[tuple[str, str], str] = field(default_factory=dict)   # every skip: (table, key) → reason code

    def add(self, write: PlannedWrite) -> None:
        self.actions[(write.resource, write.action)] += 1
        if len(self.writes) < self.table_rows:
            self.writes.append(write)

    def skip(self, skip: Skip) -> None:
        self.skips[(skip.table, skip.reason_code)] += 1
        self.held_fields[(skip.table, skip.record_key)] = skip.reason_code
        if len(self.skipped) < self.table_rows:
            self.skipped.append(skip)

    def needs_action_in_pco(self, what: str, example: str) -> None:
        """A church change the push cannot send (PCO's API cannot take it): staff make it in PCO."""
        self.needs_action[what] += 1
        if len(self.needs_action_examples) < self.table_rows:
            self.needs_action_examples.append(example)

    @property
    def total_writes(self) -> int:
        return sum(self.actions.values())

    def counts(self) -> dict[str, int]:
        """`<action> <Resource>` → n, plus `skip <table> (<reason>)` → n."""
        out = {f"{action} {resource}": n for (resource, action), n in sorted(self.actions.items())}
        out.update({f"skip {table} ({reason})": n for (table, reason), n in sorted(self.skips.items())})
        return out

    def markdown(self) -> str:
        """Counts per action, then the writes field by field (the first `table_rows`), then the skips."""
        lines = ["| action | PCO resource | count |", "|---|---|---:|"]
        lines += [f"| {action} | {resource} | {n} |" for (resource, action), n in sorted(self.actions.items())]
        if not self.actions:
            lines.append("| (nothing to send) | | 0 |")
        for (table, reason), n in sorted(self.skips.items()):
            lines.append(f"| skip ({reason}) | {table} | {n} |")
        for note, n in sorted(self.notes.items()):
            lines.append(f"| not pushed: {note} | | {n} |")
        for what, n in sorted(self.needs_action.items()):
            lines.append(f"| needs action in PCO: {markdown_cell(what)} | | {n} |")
        if self.writes:
            lines += ["", "| # | action | PCO resource | local record | field | value |", "|---:|---|---|---|---|---|"]
            for number, write in enumerate(self.writes, 1):
                fields = write.fields or (("", ""),)
                for index, (name, value) in enumerate(fields):
                    lead = (f"| {number} | {write.action} | {write.resource} | {markdown_cell(write.local)}"
                            if index == 0 else "| | | |")
                    lines.append(f"{lead} | {name} | {markdown_cell(value)} |")
            if self.total_writes > len(self.writes):
                lines.append(f"\n… and {self.total_writes - len(self.writes)} more writes (counted above).")
        if self.needs_action_examples:
            lines += ["", "| needs action in PCO |", "|---|"]
            lines += [f"| {markdown_cell(example)} |" for example in self.needs_action_examples]
        if self.skipped:
            lines += ["", "| skipped | reason |", "|---|---|"]
            lines += [f"| {skip.table} {skip.record_key} | {markdown_cell(skip.reason)} |" for skip in self.skipped]
            hidden = sum(self.skips.values()) - len(self.skipped)
            if hidden > 0:
                lines.append(f"\n… and {hidden} more skipped (see the quarantine).")
        return "\n".join(lines)


# --- counting -------------------------------------------------------------------------------------

class PushCounts:
    """Outcomes per PCO resource (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter = Counter()   # (resource, outcome) → n

    def add(self, resource: str, outcome: str, n: int = 1) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._lock:
            self._counts[(resource, outcome)] += n

    def totals(self) -> dict[str, int]:
        with self._lock:
            totals: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
            for (_, outcome), n in self._counts.items():
                totals[outcome] += n
            return totals

    def by_resource(self) -> dict[str, dict[str, int]]:
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (resource, outcome), n in sorted(self._counts.items()):
                out.setdefault(resource, dict.fromkeys(OUTCOMES, 0))[outcome] += n
            return out

    def sync_log(self) -> dict[str, int]:
        """The run log's counters: adoptions and deletes count as updates (the log has no column for
        either: a link written, a record removed — nothing created), and
        every record the run left in the quarantine counts as failed, so the run ends `partial`:
        those PCO refused or whose outcome stayed unknown, and those not sent (a real run's skips
        are all quarantined: invalid, a possible duplicate, or refused before and unchanged)."""
        totals = self.totals()
        return {"created": totals["created"], "updated": totals["updated"] + totals["deleted"] + totals["adopted"],
                "failed": totals["failed"] + totals["skipped"]}

    def markdown(self) -> str:
        rows = self.by_resource()
        lines = ["| PCO resource | " + " | ".join(OUTCOMES) + " |", "|---|" + "---:|" * len(OUTCOMES)]
        lines += [f"| {resource} | " + " | ".join(str(values[o]) for o in OUTCOMES) + " |"
                  for resource, values in rows.items()]
        return "\n".join(lines)


@dataclass
class PushReport:
    push: str                  # people | families | group_memberships
    dry_run: bool
    plan: Plan
    counts: PushCounts
    failures: list[str] = field(default_factory=list)   # the first few, for the log
    # The three-way comparison of each entity planned: "full" or "incremental" (issue 17 item 3),
    # and what each full comparison's drift check found the incremental path missed (0 expected).
    comparisons: dict[str, str] = field(default_factory=dict)
    drifted_records: dict[str, int] = field(default_factory=dict)

    def compared(self, entity: str, *, full: bool, drifted: int | None) -> None:
        """Record how `entity` was compared (`church_changes.classify_changes`' answer)."""
        self.comparisons[entity] = "full" if full else "incremental"
        if drifted is not None:
            self.drifted_records[entity] = drifted

    def summary(self) -> str:
        if self.dry_run:
            return f"{self.push} (dry run): would send {self.plan.total_writes} writes: {self.plan.counts()}"
        return f"{self.push}: {self.counts.totals()}"


# --- one run ------------------------------------------------------------------------------------

class PushSession:
    """A push run's shared state: database, client, run id, counts, and per-record bookkeeping."""

    MAX_FAILURES_KEPT = 20

    def __init__(self, push: str, engine: sa.Engine, client: Any, *, run_id: str | None, dry_run: bool,
                 today: date | None = None, confirm_large_change: bool = False) -> None:
        self.engine, self.client, self.run_id, self.dry_run = engine, client, run_id, dry_run
        self.confirm_large_change = confirm_large_change   # the safety brake lets this run through
        self.today = today or date.today()
        self.report = PushReport(push=push, dry_run=dry_run, plan=Plan(), counts=PushCounts())
        self._lock = threading.Lock()

    @property
    def counts(self) -> PushCounts:
        return self.report.counts

    def skip(self, resource: str, skip: Skip) -> None:
        """Count a record not sent; on a real run, open (or refresh) its quarantine row."""
        self.report.plan.skip(skip)
        if self.dry_run:
            return
        self.counts.add(resource, "skipped")
        if skip.quarantine:
            self.quarantine(skip.table, skip.record_key, skip.local_id, skip.reason_code, skip.reason,
                            record=skip.record, details=skip.details)

    def quarantine(self, table: str, record_key: str, local_id: int | None, reason_code: str, reason: str, *,
                   pco_id: str | None = None, record: Any = None, details: Mapping[str, Any] | None = None) -> None:
        """Open (or refresh) the outbound quarantine row of one local record, in its own transaction."""
        with self.engine.begin() as conn:
            quarantine.quarantine_record(conn, quarantine_entity(table), str(record_key), reason_code, reason,
                                         pco_id=pco_id, local_id=local_id, details=dict(details or {}),
                                         record=record, direction="outbound")

    def resolve(self, conn: sa.Connection, table: str, record_key: str) -> None:
        """The record went through: close its outbound quarantine row, if any."""
        quarantine.resolve_record(conn, quarantine_entity(table), str(record_key))

    def failed(self, resource: str, table: str, record_key: str, local_id: int | None, reason_code: str,
               reason: str, *, record: Any = None, details: Mapping[str, Any] | None = None) -> None:
        """A record that was sent and did not go through: counted, quarantined with the reason."""
        self.counts.add(resource, "failed")
        with self._lock:
            if len(self.report.failures) < self.MAX_FAILURES_KEPT:
                self.report.failures.append(f"{table} {record_key}: {reason}")
        self.quarantine(table, record_key, local_id, reason_code, reason, record=record, details=details)

    def refused(self, resource: str, table: str, record_key: str, local_id: int | None, error: PCOError,
                sent: Any) -> None:
        """PCO refused one record (422 or another 4xx about it): quarantined with PCO's own words."""
        said = error.detail or error.message
        problems = error.problems if isinstance(error, PCOValidationError) else []
        self.failed(resource, table, record_key, local_id, REFUSED_BY_PCO,
                    f"PCO refused the {resource} ({error.status}): {said}. Fix the local record; the next push "
                    "sends it again once it has changed.", record=sent,
                    details={"status": error.status, "request_id": error.request_id,
                             "problems": [{"attribute": a, "detail": d} for a, d in problems]})


def is_aborting(error: BaseException) -> bool:
    return isinstance(error, ABORTING_ERRORS)


def changed_by_pco(sent: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Sent attributes PCO's answer does not carry back unchanged: name → (sent, answered).

    PCO answers 200 with a field emptied when it could not use the value (pco_api.md §3), so
    this is checked on every create even though values are validated first.
    """
    changed = {}
    for name, value in sent.items():
        if name not in answer:
            continue
        theirs = answer[name]
        if isinstance(value, bool) or value is None or isinstance(theirs, bool) or theirs is None:
            same = value == theirs
        else:
            same = str(value).strip() == str(theirs).strip()
        if not same:
            changed[name] = (value, theirs)
    return changed


class FieldGate:
    """Which of a record's planned field changes can be sent: a field with a problem (`problems`:
    field → what is wrong, from `push_validate`) is quarantined on its own (key `<key>#<field>`),
    and a field PCO refused since the church last changed the record stays in the quarantine; the
    record's other fields still go. One gate per table and run (it reads the refusals once)."""

    def __init__(self, session: PushSession, table: str) -> None:
        self.session, self.table = session, table
        with session.engine.connect() as conn:
            self.refused: dict[str, Any] = {row.record_key: row.last_seen_at for row in conn.execute(sa.text(
                "SELECT record_key, last_seen_at FROM sync_quarantine WHERE entity = :entity AND resolved_at IS NULL"
                " AND reason_code = :refused AND record_key LIKE '%#%'"),
                {"entity": quarantine_entity(table), "refused": REFUSED_BY_PCO})}

    def sendable(self, resource: str, key: str, local_id: int | None, label: str, changes: Mapping[str, Any],
                 problems: Mapping[str, list[str]], updated_at: Any) -> dict[str, Any]:
        sendable = {}
        for name, value in changes.items():
            field = field_key(key, name)
            if problems.get(name):
                self.session.skip(resource, Skip(self.table, field, local_id, quarantine.INVALID_DATA,
                                                 f"{label}: " + "; ".join(problems[name]), record={name: value}))
            elif field in self.refused and self.refused[field] >= updated_at:
                self.session.skip(resource, Skip.refused_earlier(self.table, field, local_id))
            else:
                sendable[name] = value
        return sendable


def latest_write_sql(resource: str, pco_id_sql: str) -> str:
    """SQL `LEFT JOIN LATERAL … w`: our latest confirmed write of a PCO record (`w.confirmed`: PCO's
    answer, `w.pco_updated_at`). Planning reads it with `pco_view`. `resource` is a PCO type from
    the push's own code, never input."""
    return f"""
LEFT JOIN LATERAL (
    SELECT w.confirmed, w.pco_updated_at FROM pco_push_ledger w
    WHERE w.resource_type = '{resource}' AND w.pco_id = {pco_id_sql} AND w.state IN ('confirmed', 'adopted')
      AND w.confirmed IS NOT NULL
    ORDER BY w.confirmed_at DESC, w.id DESC
    LIMIT 1
) w ON true
"""


def pco_view(row: Any, normalize: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Mapping[str, Any]:
    """PCO's values of a record as last known: the landed ones (`row.landed`, `row.landed_at`), or
    our own later write's answer (`row.written`, `row.written_at`, normalized like a landing) — the
    landing catches up at the next extract, so a change already sent is not sent again meanwhile."""
    if row.written is not None and (row.landed_at is None or (row.written_at is not None
                                                              and row.written_at >= row.landed_at)):
        return normalize(row.written)
    return row.landed or {}


def refused_earlier_sql(table: str, key_sql: str, updated_at_sql: str) -> str:
    """SQL condition: PCO refused this record of `table` before and the church has not changed it
    since (`updated_at_sql` is the local row's updated_at)."""
    return (f"EXISTS (SELECT 1 FROM sync_quarantine q WHERE q.entity = '{quarantine_entity(table)}'"
            f" AND q.record_key = CAST({key_sql} AS text) AND q.resolved_at IS NULL"
            f" AND q.reason_code = '{REFUSED_BY_PCO}' AND q.last_seen_at >= {updated_at_sql})")

"""What every load shares: its counts, its lock, its stage table, and rejecting staged rows.

A load runs in one transaction: it stages the rows PCO's state calls for (`pco_state`), moves
the ones it cannot apply into the quarantine stage with a reason, then writes the rest with
set-based statements that touch only rows whose values differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pco_pipeline.db.statistics import refresh_stale_statistics

from pco_pipeline.sync import quarantine
from pco_pipeline.sync.statements import statement


@dataclass
class LoadCounts:
    """What one load did to one church entity."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deactivated: int = 0  # made inactive, marked removed, or (links only) deleted

    def settle(self, staged: int) -> None:
        """Count as unchanged the `staged` rows not quarantined, created or updated."""
        self.unchanged = staged - self.quarantined - self.created - self.updated

    @property
    def writes(self) -> int:
        return self.created + self.updated + self.deactivated

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def combined(cls, counts: Iterable[LoadCounts]) -> LoadCounts:
        """The field-by-field sum of `counts` (several entities' loads as one)."""
        total = cls()
        for each in counts:
            for name, n in each.as_dict().items():
                setattr(total, name, getattr(total, name) + n)
        return total


LoadReport = dict[str, LoadCounts]


# Set-based statements over ~100k staged rows hash and sort in memory instead of spilling to disk.
LOAD_WORK_MEM = "64MB"


def begin_load(conn: sa.Connection, entity: str) -> None:
    """Start a load in this transaction: one load of `entity` at a time, memory for its statements,
    the quarantine stage its rejects go to, and the mark that its writes apply PCO's data."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"load:{entity}"})
    # The previous load may have rewritten whole tables moments ago: without fresh statistics the
    # planner takes them for nearly empty and nests loops over them (db/statistics).
    refresh_stale_statistics(conn)
    conn.execute(sa.text(f"SET LOCAL work_mem = '{LOAD_WORK_MEM}'"))
    # A row a load deletes is PCO's deletion, not the church's: sql/0012's trigger records none.
    conn.execute(sa.text("SET LOCAL pco_pipeline.origin = 'pco'"))
    quarantine.open_stage(conn)


@dataclass(frozen=True)
class Watermark:
    """Where an entity's incremental load reads from: every change committed after its last
    committed run has a time at or after `changed_since` (sql/0019)."""

    changed_since: datetime
    full_load_at: datetime | None


def read_watermark(conn: sa.Connection, entity: str) -> Watermark | None:
    """The watermark `entity`'s last committed load left, None before its first."""
    row = conn.execute(sa.text("SELECT changed_since, full_load_at FROM load_watermarks WHERE entity = :e"),
                       {"e": entity}).first()
    return Watermark(row.changed_since, row.full_load_at) if row else None


def snapshot_time(conn: sa.Connection) -> datetime:
    """A time at or before every change this transaction cannot see, after its own: the start of
    the oldest other transaction running in this database (its rows, committed later, carry
    times from then on: `now()`, which change-time columns take, is a transaction's start), or,
    when none started before this one, just after this one's start (so a load's own writes,
    stamped with its start, are not read again by the next load).

    Autovacuum's transactions are left out: they write no row anyone reads, and the ANALYZE that
    follows a large load (seconds, often still running when the next load begins) would otherwise
    hold the watermark before that load's own writes, so the next incremental run read them all
    again (bench_load: a families re-run looked at all 30,000 households)."""
    return conn.execute(sa.text("""
        SELECT CASE WHEN others.started <= now() THEN others.started ELSE now() + interval '1 microsecond' END
        FROM (SELECT min(xact_start) AS started FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND backend_type <> 'autovacuum worker') AS others""")).scalar_one()


def commit_watermark(conn: sa.Connection, entity: str, changed_since: datetime, *, full: bool,
                     drifted_records: int | None = None) -> None:
    """Record, in the load's transaction (a load that fails moves nothing), that `entity`'s next
    incremental load reads from `changed_since` (`snapshot_time` taken when this load began);
    a `full` load also records itself and what its drift check found."""
    conn.execute(sa.text("""
        INSERT INTO load_watermarks AS w (entity, changed_since, full_load_at, drifted_records)
        VALUES (:e, :since, CASE WHEN :full THEN CAST(:since AS timestamptz) END, :drifted)
        ON CONFLICT (entity) DO UPDATE SET changed_since = EXCLUDED.changed_since, loaded_at = now(),
            full_load_at = COALESCE(EXCLUDED.full_load_at, w.full_load_at),
            drifted_records = CASE WHEN :full THEN EXCLUDED.drifted_records ELSE w.drifted_records END
        """), {"e": entity, "since": changed_since, "full": full, "drifted": drifted_records})


def stage(conn: sa.Connection, name: str, select_sql: str, *, columns: str = "", joins: str = "",
          scope: Sequence[str] | None = None, scope_column: str = "pco_id") -> int:
    """Materialize `select_sql` (alias `s`) as the temp table `name` (dropped at commit); returns its rows.

    `columns` adds computed columns and `joins` the joins they need (e.g. the local ids of the
    rows PCO's ids point at). With `scope`, only rows whose `scope_column` is in it are staged.
    """
    where = f" WHERE s.{scope_column} = ANY(CAST(:scope AS text[]))" if scope is not None else ""
    extra = f", {columns}" if columns else ""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(sa.text(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS"
                         f" SELECT s.*{extra} FROM ({select_sql}) s {joins}{where}"),
                 {"scope": list(scope)} if scope is not None else {})
    conn.execute(sa.text(f"ANALYZE {name}"))  # temp tables have no statistics otherwise
    return conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()


def landed_record(resource: str, id_sql: str = "s.pco_id") -> str:
    """SQL for the attributes of the landed record a rejected row came from (kept in the quarantine)."""
    return f"(SELECT attributes FROM pco_landing WHERE resource = '{resource}' AND pco_id = {id_sql})"


@dataclass(frozen=True)
class Rejection:
    """Staged rows a load cannot apply, and what the quarantine says about them.

    `where_sql`, `reason_sql` and `details_sql` are SQL over the staged row (alias `s`).
    """

    where_sql: str
    reason_code: str
    reason_sql: str
    details_sql: str = "'{}'::jsonb"


def missing_parent(where_sql: str, reason_sql: str, details_sql: str = "'{}'::jsonb") -> Rejection:
    """Staged rows pointing at a record the church database does not hold (yet)."""
    return Rejection(where_sql, quarantine.MISSING_PARENT, reason_sql, details_sql)


def invalid_data(what: str) -> Rejection:
    """Staged rows whose normalization found problems (`s.problems`), named as PCO's `what`."""
    return Rejection("s.problems IS NOT NULL", quarantine.INVALID_DATA,
                     f"'PCO {what} ' || s.pco_id || ' cannot be stored: ' || "
                     "(SELECT string_agg(p, '; ') FROM jsonb_array_elements_text(s.problems) AS p)",
                     "jsonb_build_object('problems', s.problems)")


@dataclass(frozen=True)
class Staging:
    """How a load stages one entity: PCO's state (a `pco_state` query) into a temp table, with
    the local ids it needs, minus the rows it cannot apply (checked in order, first reason wins).

    `landing` is the resource (and `landing_id_sql` the landed id, SQL over `s`) whose record a
    rejected row keeps in the quarantine.
    """

    entity: str                  # the quarantine entity
    state_sql: str
    landing: str
    rejections: tuple[Rejection, ...]
    columns: str = ""
    joins: str = ""
    landing_id_sql: str = "s.pco_id"
    scope_column: str = "pco_id"
    table: str = ""              # the temp table; stage_<entity> when not given

    def __post_init__(self) -> None:
        if not self.table:
            object.__setattr__(self, "table", f"stage_{self.entity}")


def stage_checked(conn: sa.Connection, staging: Staging, *,
                  scope: Sequence[str] | None = None) -> tuple[LoadCounts, int]:
    """Stage `staging` (only rows whose scope column is in `scope`, when given) and move the rows
    it rejects into the quarantine stage. Returns the entity's counts so far (the rows quarantined)
    and the rows staged before rejecting (what `LoadCounts.settle` counts from)."""
    staged = stage(conn, staging.table, staging.state_sql, columns=staging.columns, joins=staging.joins,
                   scope=scope, scope_column=staging.scope_column)
    record_sql = landed_record(staging.landing, staging.landing_id_sql)
    counts = LoadCounts()
    for rejection in staging.rejections:
        counts.quarantined += reject(conn, staging.entity, staging.table, rejection, record_sql=record_sql)
    return counts, staged


def load_staged(conn: sa.Connection, staging: Staging, *, update: str, create: str, retire: str,
                params: Mapping[str, Any] | None = None) -> LoadCounts:
    """The common load of one entity: stage `staging`, then run the named statements (`statements`)
    that update the church rows whose values differ, create the missing ones and retire the ones
    PCO no longer has (each given `params`); returns what each did."""
    counts, staged = stage_checked(conn, staging)
    counts.updated = count(conn, statement(update), params)
    counts.created = count(conn, statement(create), params)
    counts.settle(staged)
    counts.deactivated = count(conn, statement(retire), params)
    return counts


def reject(conn: sa.Connection, entity: str, stage_name: str, rejection: Rejection, *, record_sql: str) -> int:
    """Move staged rows matching `rejection` into the quarantine stage; returns how many.

    `record_sql` (usually `landed_record(...)`) is SQL over the staged row `s`.
    """
    return conn.execute(sa.text(f"""
        WITH rejected AS (DELETE FROM {stage_name} AS s WHERE {rejection.where_sql} RETURNING s.*)
        INSERT INTO {quarantine.STAGE} (entity, record_key, pco_id, reason_code, reason, details, record)
        SELECT :entity, s.pco_id, s.pco_id, :code, {rejection.reason_sql}, {rejection.details_sql}, {record_sql}
        FROM rejected AS s
        """), {"entity": entity, "code": rejection.reason_code}).rowcount


def count(conn: sa.Connection, sql: str | sa.TextClause, params: Mapping[str, Any] | None = None) -> int:
    """Run a data-changing statement (SQL text, or a `statements.statement`) and return how many
    rows it touched."""
    return conn.execute(sa.text(sql) if isinstance(sql, str) else sql, dict(params or {})).rowcount

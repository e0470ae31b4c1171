"""What every load shares: its counts, its lock, its stage table, and rejecting staged rows.

A load runs in one transaction: it stages the rows PCO's state calls for (`pco_state`), moves
the ones it cannot apply into the quarantine stage with a reason, then writes the rest with
set-based statements that touch only rows whose values differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from pco_pipeline.sync import quarantine


@dataclass
class LoadCounts:
    """What one load did to one church entity."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deactivated: int = 0  # made inactive, marked removed, or (links only) deleted

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
    and the quarantine stage its rejects go to."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"load:{entity}"})
    conn.execute(sa.text(f"SET LOCAL work_mem = '{LOAD_WORK_MEM}'"))
    quarantine.open_stage(conn)


def stage(conn: sa.Connection, name: str, select_sql: str, *, columns: str = "", joins: str = "",
          scope: Sequence[str] | None = None, scope_column: str = "pco_id",
          params: Mapping[str, Any] | None = None) -> int:
    """Materialize `select_sql` (alias `s`) as the temp table `name` (dropped at commit); returns its rows.

    `columns` adds computed columns and `joins` the joins they need (e.g. the local ids of the
    rows PCO's ids point at). With `scope`, only rows whose `scope_column` is in it are staged.
    """
    where = f" WHERE s.{scope_column} = ANY(CAST(:scope AS text[]))" if scope is not None else ""
    extra = f", {columns}" if columns else ""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(sa.text(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS"
                         f" SELECT s.*{extra} FROM ({select_sql}) s {joins}{where}"),
                 {**(params or {}), **({"scope": list(scope)} if scope is not None else {})})
    conn.execute(sa.text(f"ANALYZE {name}"))  # temp tables have no statistics otherwise
    return conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()


def landed_record(resource: str, id_sql: str = "s.pco_id") -> str:
    """SQL for the attributes of the landed record a rejected row came from (kept in the quarantine)."""
    return f"(SELECT attributes FROM pco_landing WHERE resource = '{resource}' AND pco_id = {id_sql})"


def reject(conn: sa.Connection, entity: str, stage_name: str, where_sql: str, reason_code: str,
           reason_sql: str, *, record_sql: str, details_sql: str = "'{}'::jsonb", key_sql: str = "s.pco_id",
           params: Mapping[str, Any] | None = None) -> int:
    """Move staged rows matching `where_sql` (alias `s`) into the quarantine stage.

    `reason_sql`, `record_sql` (usually `landed_record(...)`) and `details_sql` are SQL
    expressions over `s`. Returns the number rejected.
    """
    return conn.execute(sa.text(f"""
        WITH rejected AS (DELETE FROM {stage_name} AS s WHERE {where_sql} RETURNING s.*)
        INSERT INTO {quarantine.STAGE} (entity, record_key, pco_id, reason_code, reason, details, record)
        SELECT :entity, {key_sql}, s.pco_id, :code, {reason_sql}, {details_sql}, {record_sql}
        FROM rejected AS s
        """), {"entity": entity, "code": reason_code, **(params or {})}).rowcount


def reject_invalid(conn: sa.Connection, entity: str, stage_name: str, what: str, *, record_sql: str) -> int:
    """Quarantine staged rows whose normalization found problems."""
    return reject(conn, entity, stage_name, "s.problems IS NOT NULL", quarantine.INVALID_DATA,
                  f"'PCO {what} ' || s.pco_id || ' cannot be stored: ' || "
                  "(SELECT string_agg(p, '; ') FROM jsonb_array_elements_text(s.problems) AS p)",
                  record_sql=record_sql, details_sql="jsonb_build_object('problems', s.problems)")


def count(conn: sa.Connection, sql: str, params: Mapping[str, Any] | None = None) -> int:
    """Run a data-changing statement and return how many rows it touched."""
    return conn.execute(sa.text(sql), dict(params or {})).rowcount

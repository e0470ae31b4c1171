"""Load a church dataset — rows with explicit ids for the church tables, such as the sandbox's
synthetic church (`generate_church(...).local`) — into the church database.

Everything happens in one transaction: either the whole dataset lands, with every id sequence
moved past the largest loaded id, or nothing does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

# Foreign-key order: every table comes after the tables it references.
TABLE_ORDER = ("people", "person_emails", "person_phones", "families", "family_members", "relationships",
               "authorized_pickups", "church_group", "group_membership", "events", "locations", "checkins")
# PCO-only mirror tables that reference the church tables: emptied with them on a replace.
_DEPENDENT_MIRRORS = ("event_times", "headcounts")
# Staff decisions naming church people (the console's quarantine review): emptied with the people
# they name when the church data is replaced.
_DECISIONS_ABOUT_PEOPLE = ("match_decisions", "distinct_people")
# Tables whose rows reference rows of the same table: parents must be inserted first.
_SELF_REFERENCES = {"church_group": "parent_id", "locations": "parent_id"}


class LocalDatasetError(ValueError):
    """The dataset cannot be loaded as given; the message says which table and what to do."""


def load_local_dataset(engine: sa.Engine, local: Mapping[str, Sequence[Mapping]], *, replace: bool = False,
                       batch_size: int = 1000) -> dict[str, int]:
    """Insert `local` ({table: rows}) in foreign-key order, in batches; return rows loaded per table.

    Refuses a database whose church tables already hold rows, unless `replace` (which empties
    them first). Afterwards each table's id sequence continues after the largest id, so rows
    inserted later without an id do not collide.
    """
    unknown = sorted(set(local) - set(TABLE_ORDER))
    if unknown:
        raise LocalDatasetError(f"unknown church table(s) {unknown}; expected some of {list(TABLE_ORDER)}")
    counts = {}
    with engine.begin() as conn:
        # A whole dataset is an import, not staff edits to push one by one: the change-capture
        # triggers (sql/0017) skip it, whatever engine runs it; a push sends what it holds.
        conn.execute(sa.text("SET LOCAL pco_pipeline.origin = 'import'"))
        columns = _table_columns(conn)
        missing = [t for t in TABLE_ORDER if t not in columns]
        if missing:
            raise LocalDatasetError(f"the database lacks table(s) {missing}: run `pco-pipeline migrate` first")
        plans = {table: _columns_of(table, local.get(table, ()), columns[table]) for table in TABLE_ORDER}
        occupied = [t for t in TABLE_ORDER
                    if conn.execute(sa.text(f'SELECT EXISTS (SELECT 1 FROM "{t}")')).scalar()]
        if occupied and not replace:
            raise LocalDatasetError(
                f"the church database already has rows in {occupied}; loading a dataset is for an empty "
                f"database (pass replace=True to delete the existing church data first)")
        if occupied:
            tables = ", ".join(f'"{t}"' for t in (*TABLE_ORDER, *_DEPENDENT_MIRRORS, *_DECISIONS_ABOUT_PEOPLE))
            try:
                with conn.begin_nested():
                    conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY"))
            except DBAPIError as exc:
                raise LocalDatasetError(f"could not empty the church tables to replace them: {exc.orig}") from exc
        for table in TABLE_ORDER:
            rows = list(local.get(table, ()))
            if table in _SELF_REFERENCES:
                rows = _parents_first(table, rows, _SELF_REFERENCES[table])
            if rows:
                insert = sa.table(table, *(sa.column(c) for c in plans[table])).insert()
                for start in range(0, len(rows), batch_size):
                    try:
                        conn.execute(insert, [dict(r) for r in rows[start:start + batch_size]])
                    except IntegrityError as exc:
                        # the driver's message names the constraint and the key, without the batch
                        raise LocalDatasetError(f"{table}: {exc.orig}") from exc
            counts[table] = len(rows)
        for table in TABLE_ORDER:
            if "id" in columns[table]:
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence(:t, 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) "
                    f'FROM "{table}"'), {"t": table})
    return counts


def _table_columns(conn: sa.Connection) -> dict[str, set[str]]:
    rows = conn.execute(sa.text(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(:tables)"), {"tables": list(TABLE_ORDER)})
    columns: dict[str, set[str]] = defaultdict(set)
    for table, column in rows:
        columns[table].add(column)
    return dict(columns)


def _columns_of(table: str, rows: Sequence[Mapping], known: set[str]) -> list[str]:
    """The columns `rows` fill: the same keys in every row, all of them columns of `table`."""
    if not rows:
        return []
    first = list(rows[0])
    keys = set(first)
    strange = sorted(keys - known)
    if strange:
        raise LocalDatasetError(f"{table}: unknown column(s) {strange}; the table has {sorted(known)}")
    for i, row in enumerate(rows):
        if set(row) != keys:
            raise LocalDatasetError(f"{table} row {i}: columns {sorted(row)} differ from the first row's {sorted(keys)}")
    return first


def _parents_first(table: str, rows: list[Mapping], parent_column: str) -> list[Mapping]:
    """`rows` reordered so each row follows its parent (rows keep their order otherwise)."""
    ids = {row["id"] for row in rows}
    children = defaultdict(list)
    ordered = []
    for row in rows:
        parent = row.get(parent_column)
        if parent is None or parent not in ids:
            ordered.append(row)  # a root here (a parent outside the dataset is the database's to check)
        else:
            children[parent].append(row)
    i = 0
    while i < len(ordered):
        ordered.extend(children.pop(ordered[i]["id"], ()))
        i += 1
    if children:
        stuck = sorted(row["id"] for rows_ in children.values() for row in rows_)
        raise LocalDatasetError(f"{table}: rows {stuck[:10]} are in a {parent_column} cycle")
    return ordered

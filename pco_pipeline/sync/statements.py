"""Named SQL statements: the long statements of the loads, one `.sql` file each.

`statement("people/match_email")` is the text of `sync/sql/people/match_email.sql` as a
SQLAlchemy `TextClause`, read once and kept. A file holds one statement, written for
PostgreSQL with SQLAlchemy's `:name` bind parameters: values always travel as parameters
(`conn.execute(statement(...), {"name": value})`), never as text pasted into the SQL, and the
files hold no templating, so `sqlfluff` lints exactly what runs.

Statements that must name a table or column chosen by code (the shared load steps in
`loading.py`, one shape for every entity) are built there from identifiers of a fixed set;
that is the only SQL the sync layer still composes.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import sqlalchemy as sa

STATEMENTS_DIR = Path(__file__).with_name("sql")
_NAME = re.compile(r"[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)+")


@cache
def statement(name: str) -> sa.TextClause:
    """The statement in `sync/sql/<name>.sql` (e.g. `people/match_email`).

    Raises LookupError naming the file when `name` is malformed or has no file.
    """
    path = STATEMENTS_DIR / f"{name}.sql"
    if not _NAME.fullmatch(name) or not path.is_file():
        raise LookupError(f"no SQL statement {name!r}: expected the file {path}")
    return sa.text(path.read_text(encoding="utf-8"))

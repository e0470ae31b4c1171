"""Planner statistics kept fresh for the pipeline's own big statements.

A load writes a whole church in one transaction, and a push (or the next load) plans with
set-based statements over those tables seconds later. PostgreSQL's autovacuum analyzes a table
only after its next nap (a minute by default), so until then the planner estimates from no
statistics (or a table's old size) and picks nested loops over thousands of rows: measured on
a 5,000-person church, the people push's planning took 9–11 s against 0.3–0.5 s once analyzed.

`refresh_stale_statistics` analyzes, before such work, every table of the schema changed by
more than autovacuum's own threshold since it was last analyzed (50 rows + 10% of its rows, or
never analyzed): what autovacuum would do at its next nap, done now. A table whose lock someone
holds (a concurrent ANALYZE or VACUUM, which refreshes it anyway) is skipped, not waited for.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

# autovacuum_analyze_threshold's and autovacuum_analyze_scale_factor's defaults.
ANALYZE_THRESHOLD_ROWS = 50
ANALYZE_SCALE_FACTOR = 0.1
LOCK_TIMEOUT = "200ms"
LOCK_NOT_AVAILABLE = "55P03"

_STALE = """
SELECT quote_ident(schemaname) || '.' || quote_ident(relname)
FROM pg_stat_user_tables
WHERE schemaname = current_schema()
  AND n_mod_since_analyze > :rows + :scale * n_live_tup
ORDER BY relname
"""


def stale_tables(conn: sa.Connection) -> list[str]:
    """The tables of the current schema changed by more than autovacuum's analyze threshold since
    they were last analyzed (qualified, quoted names)."""
    return list(conn.execute(sa.text(_STALE), {"rows": ANALYZE_THRESHOLD_ROWS,
                                               "scale": ANALYZE_SCALE_FACTOR}).scalars())


def refresh_stale_statistics(conn: sa.Connection) -> list[str]:
    """ANALYZE the `stale_tables` in `conn`'s transaction (each in a savepoint, waiting at most
    LOCK_TIMEOUT for its lock; the lock is then held until that transaction ends), and return the
    ones analyzed. The activity counters read lag a writer's commit by up to a second, so a table
    written that recently may be left for the next call."""
    analyzed = []
    previous = conn.execute(sa.text("SELECT current_setting('lock_timeout')")).scalar_one()
    conn.execute(sa.text("SELECT set_config('lock_timeout', :value, true)"), {"value": LOCK_TIMEOUT})
    try:
        for table in stale_tables(conn):
            try:
                with conn.begin_nested():
                    # The name is PostgreSQL's own (quote_ident), never input.
                    conn.execute(sa.text(f"ANALYZE {table}"))
                analyzed.append(table)
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
    finally:
        conn.execute(sa.text("SELECT set_config('lock_timeout', :value, true)"), {"value": previous})
    return analyzed

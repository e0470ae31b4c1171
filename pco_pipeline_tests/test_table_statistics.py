"""Planner statistics refreshed before a push plans (`db.statistics`): a table a load just
rewrote is analyzed at once, not at autovacuum's next nap; one whose lock is held is skipped."""

from __future__ import annotations

import sqlalchemy as sa

from pco_pipeline.db.statistics import refresh_stale_statistics


def _insert_people(engine: sa.Engine, count: int) -> sa.Connection:
    """`count` people written and committed on a connection that has reported its activity
    (returned open: the caller closes it)."""
    writer = engine.connect()
    writer.execute(sa.text("INSERT INTO people (first_name, last_name) SELECT 'A' || i, 'Lee'"
                           " FROM generate_series(1, :n) i"), {"n": count})
    writer.commit()
    # Reported when the backend next goes idle, i.e. before this statement's answer arrives.
    writer.execute(sa.text("SELECT pg_stat_force_next_flush()"))
    writer.commit()
    return writer


def test_a_table_rewritten_since_it_was_analyzed_is_analyzed_and_then_left_alone(engine):
    with _insert_people(engine, 500):
        with engine.begin() as conn:
            assert "public.people" in refresh_stale_statistics(conn)
        with engine.begin() as conn:
            estimate = conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = 'people'::regclass")).scalar()
            assert estimate == 500
            assert "public.people" not in refresh_stale_statistics(conn)


def test_a_table_someone_holds_locked_is_skipped_without_waiting_or_failing(engine):
    with _insert_people(engine, 500) as holder:
        holder.execute(sa.text("LOCK TABLE people IN SHARE UPDATE EXCLUSIVE MODE"))
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
            assert "public.people" not in refresh_stale_statistics(conn)
            # The transaction goes on, with its own lock timeout back.
            assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "5s"
        holder.rollback()

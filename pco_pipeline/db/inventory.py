"""What the church database holds."""

from __future__ import annotations

import sqlalchemy as sa

CHURCH_TABLES = (
    "people", "person_emails", "person_phones", "families", "family_members", "relationships",
    "authorized_pickups", "church_group", "group_membership", "events", "locations", "checkins",
    "pco_sync_log", "sync_cursor", "webhook_inbox", "webhook_rejections",
)


def table_counts(engine: sa.Engine) -> dict[str, int]:
    """Exact row counts of the church tables that exist, in a stable order."""
    with engine.connect() as conn:
        present = set(conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")).scalars())
        return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                for t in CHURCH_TABLES if t in present}

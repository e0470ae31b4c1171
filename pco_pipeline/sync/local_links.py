"""Which church rows link to each PCO resource, for telling the links PCO no longer backs.

A complete listing that finishes proves which records of a resource PCO has. Records that were
landed before and were not seen again are marked removed by the listing itself
(`landing.finish_listing`), and the loads deactivate the church rows linked to them. A church
row can also link to a record that was never landed at all — the church's own dataset, or staff,
linked it to a PCO id PCO deleted before the pipeline ever read it — and nothing in the landing
table stands for it. `unlanded_links` finds those, so the listing can mark them removed too
(a landed row with no content and `removed_at` set) and every load's existing rule ("the landed
record is removed → deactivate") covers them: one mechanism for every linked table.

`LINKS` holds, per landing resource, the church rows that mirror a record of it and are still
active, with their PCO id in the landing's id space (group areas are `group_type:<id>` locally,
check-in events `check-ins:<id>`) and their `updated_at`. Resources whose church rows the loads
already compare with PCO's complete state directly are listed too (memberships: the load removes
or unlinks any the stage lacks), so the listing's guard counts their stale links as well.
Contacts (emails, phones) have no listing of their own: a person's landed record names all of
them, and the contact load removes the ones it does not name.

A row changed after the listing started (e.g. a push stored the id of a record PCO created
meanwhile, which the listing may have passed already) is left for the next listing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

import sqlalchemy as sa

from pco_pipeline.sync.pco_state import CHECKIN_EVENT_PREFIX, GROUP_TYPE_PREFIX, UNTYPED_GROUPS_AREA

LINKS: Mapping[str, str] = MappingProxyType({
    "people/people": "SELECT pco_id, updated_at FROM people WHERE pco_id IS NOT NULL AND is_active",
    "people/households": "SELECT pco_id, updated_at FROM families WHERE pco_id IS NOT NULL AND pco_removed_at IS NULL",
    "groups/group_types": f"""
        SELECT substr(pco_id, {len(GROUP_TYPE_PREFIX) + 1}) AS pco_id, updated_at FROM church_group
        WHERE level = 2 AND pco_removed_at IS NULL AND pco_id <> '{UNTYPED_GROUPS_AREA}'
          AND starts_with(pco_id, '{GROUP_TYPE_PREFIX}')""",
    "groups/groups": ("SELECT pco_id, updated_at FROM church_group"
                      " WHERE level = 3 AND pco_id IS NOT NULL AND pco_removed_at IS NULL"),
    "groups/memberships": "SELECT pco_id, updated_at FROM group_membership WHERE pco_id IS NOT NULL",
    "check-ins/check_ins": "SELECT pco_id, updated_at FROM checkins WHERE source = 'pco'",
    "check-ins/events": f"""
        SELECT substr(pco_id, {len(CHECKIN_EVENT_PREFIX) + 1}) AS pco_id, updated_at FROM events
        WHERE source = 'check-ins' AND pco_removed_at IS NULL AND starts_with(pco_id, '{CHECKIN_EVENT_PREFIX}')""",
    "check-ins/locations": ("SELECT pco_id, updated_at FROM locations"
                            " WHERE pco_id IS NOT NULL AND pco_removed_at IS NULL"),
    "calendar/event_instances": ("SELECT pco_id, updated_at FROM events"
                                 " WHERE source = 'calendar' AND pco_id IS NOT NULL AND pco_removed_at IS NULL"),
})


def unlanded_links(conn: sa.Connection, resource: str, linked_before: datetime) -> list[str]:
    """PCO ids of `resource` that active church rows, unchanged since `linked_before`, link to
    and that have no landed row at all (removed or not); sorted. Empty for resources no church
    row mirrors."""
    links = LINKS.get(resource)
    if links is None:
        return []
    return list(conn.execute(sa.text(f"""
        SELECT pco_id FROM (
            SELECT DISTINCT c.pco_id FROM ({links}) c
            WHERE c.updated_at < :before
              AND NOT EXISTS (SELECT 1 FROM pco_landing l WHERE l.resource = :resource AND l.pco_id = c.pco_id)
        ) stale
        ORDER BY length(pco_id), pco_id
        """), {"before": linked_before, "resource": resource}).scalars())

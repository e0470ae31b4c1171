"""Which church rows link to each PCO resource, for telling the links PCO no longer backs.

A complete listing that finishes proves which records of a resource PCO has. Records that were
landed before and were not seen again are marked removed by the listing itself
(`landing.finish_listing`), and the loads deactivate the church rows linked to them. A church
row can also link to a record that was never landed at all — the church's own dataset, or staff,
linked it to a PCO id PCO deleted before the pipeline ever read it — and nothing in the landing
table stands for it. `unlanded_links` finds those, so the listing can mark them removed too
(a landed row with no content and `removed_at` set) and every load's existing rule ("the landed
record is removed → deactivate") covers them: one mechanism for every linked table.

Which church rows mirror each landing resource is stated once, in the statement
`sync/sql/local_links/unlanded_links.sql`: per resource, the active church rows with their PCO
id in the landing's id space (group areas are `group_type:<id>` locally, check-in events
`check-ins:<id>`) and their `updated_at`. Resources whose church rows the loads already compare
with PCO's complete state directly are listed too (memberships: the load removes or unlinks any
the stage lacks), so the listing's guard counts their stale links as well. Contacts (emails,
phones) have no listing of their own: a person's landed record names all of them, and the
contact load removes the ones it does not name.

A row changed after the listing started (e.g. a push stored the id of a record PCO created
meanwhile, which the listing may have passed already) is left for the next listing.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from pco_pipeline.sync.statements import statement


def unlanded_links(conn: sa.Connection, resource: str, linked_before: datetime) -> list[str]:
    """PCO ids of `resource` that active church rows, unchanged since `linked_before`, link to
    and that have no landed row at all (removed or not); sorted. Empty for resources no church
    row mirrors."""
    return list(conn.execute(statement("local_links/unlanded_links"),
                             {"before": linked_before, "resource": resource}).scalars())

"""Linked people on both sides, written as the loads leave them: a landed PCO person (what
`pco_state` reads) and a church row holding its pco_id."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import sqlalchemy as sa

from pco_pipeline.sync.base import seed_base
from pco_pipeline.sync.conflicts import record_conflicts
from pco_pipeline.sync.merge import Policy
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.two_way_entities import ENTITIES

PCO_UPDATED = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def land_person(conn: sa.Connection, pco_id: str, *, updated_at: datetime = PCO_UPDATED, **values: object) -> None:
    """PCO has person `pco_id` with these values (first and last name default to Ann Lee)."""
    normalized = {"first_name": "Ann", "last_name": "Lee", "status": "active", "child": False, **values}
    conn.execute(sa.text("""
        INSERT INTO pco_landing (resource, pco_id, attributes, normalized, pco_updated_at)
        VALUES ('people/people', :pco_id, '{}', CAST(:normalized AS jsonb), :updated_at)
        ON CONFLICT (resource, pco_id) DO UPDATE
            SET normalized = EXCLUDED.normalized, pco_updated_at = EXCLUDED.pco_updated_at"""),
        {"pco_id": pco_id, "normalized": json.dumps(normalized, default=str), "updated_at": updated_at})


def church_person(conn: sa.Connection, pco_id: str | None, **values: object) -> int:
    """A church row linked to `pco_id`; returns its id."""
    columns = {"first_name": "Ann", "last_name": "Lee", "status": "active", **values}
    names = ", ".join(columns)
    return conn.execute(sa.text(f"INSERT INTO people (pco_id, {names}) VALUES (:pco_id, "
                                f"{', '.join(':' + name for name in columns)}) RETURNING id"),
                        {"pco_id": pco_id, **columns}).scalar_one()


def edit_church(conn: sa.Connection, local_id: int, **values: object) -> None:
    """A staff edit: the values, and updated_at moved to now."""
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    conn.execute(sa.text(f"UPDATE people SET {assignments}, updated_at = clock_timestamp() WHERE id = :id"),
                 {"id": local_id, **values})


def held_last_name_conflict(conn: sa.Connection, pco_id: str = "7") -> int:
    """Person `pco_id` linked with its base seeded, then its last name changed on both sides
    (church: Lee-Smith, PCO: Smith) and recorded as a conflict held for a person; its id."""
    people = ENTITIES["people"]
    land_person(conn, pco_id)
    local_id = church_person(conn, pco_id)
    seed_base(conn, people)
    edit_church(conn, local_id, last_name="Lee-Smith")
    land_person(conn, pco_id, last_name="Smith")
    record_conflicts(conn, people, {**load_policies(environ={}).for_entity("people"), "last_name": Policy.MANUAL})
    return conn.execute(sa.text("SELECT id FROM sync_conflicts WHERE pco_id = :p AND field = 'last_name'"),
                        {"p": pco_id}).scalar_one()

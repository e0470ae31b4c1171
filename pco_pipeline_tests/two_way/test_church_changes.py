"""What the push is told to send under two-way sync (`church_changes`), and the base moving once
PCO confirmed it (`confirm_sent`)."""

from __future__ import annotations

import sqlalchemy as sa

from pco_pipeline.sync.base import seed_base
from pco_pipeline.sync.church_changes import church_changes, confirm_sent
from pco_pipeline.sync.conflicts import resolve_conflict
from pco_pipeline.sync.merge import DELETED, Policy
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.two_way_entities import ENTITIES
from pco_pipeline_tests.two_way.people_fixtures import church_person, edit_church, held_last_name_conflict, land_person

PEOPLE = ENTITIES["people"]
MANUAL_LAST_NAME = {**load_policies(environ={}).for_entity("people"), "last_name": Policy.MANUAL}


def test_only_the_church_changes_are_sent_and_confirming_them_moves_the_base(engine):
    with engine.begin() as conn:
        land_person(conn, "1")
        local_id = church_person(conn, "1")
        land_person(conn, "2")
        church_person(conn, "2")
        seed_base(conn, PEOPLE)
        edit_church(conn, local_id, nickname="Annie")
        land_person(conn, "2", gender="Male")  # PCO's edit: the load's to take, not sent back
        (change,) = church_changes(conn, PEOPLE, MANUAL_LAST_NAME)
        assert (change.pco_id, change.values, change.deleted) == ("1", {"nickname": "Annie"}, False)

        confirm_sent(conn, "people", change, {"nickname": "Annie"})
        assert list(church_changes(conn, PEOPLE, MANUAL_LAST_NAME)) == []


def test_a_held_conflict_is_sent_only_once_staff_took_the_church_side(engine):
    with engine.begin() as conn:
        conflict_id = held_last_name_conflict(conn, "1")
        assert list(church_changes(conn, PEOPLE, MANUAL_LAST_NAME)) == []
        resolve_conflict(conn, conflict_id, decided_by="pat", take="church")

        (change,) = church_changes(conn, PEOPLE, MANUAL_LAST_NAME)
        assert (change.values, dict(change.conflict_ids)) == ({"last_name": "Lee-Smith"}, {"last_name": conflict_id})
        confirm_sent(conn, "people", change, {"last_name": "Lee-Smith"})
        assert conn.execute(sa.text("SELECT applied_at IS NOT NULL FROM sync_conflicts")).scalar_one()
        assert list(church_changes(conn, PEOPLE, MANUAL_LAST_NAME)) == []


def test_a_record_the_church_deleted_is_sent_as_a_deletion(engine):
    with engine.begin() as conn:
        land_person(conn, "1")
        local_id = church_person(conn, "1")
        seed_base(conn, PEOPLE)
        conn.execute(sa.text("DELETE FROM people WHERE id = :id"), {"id": local_id})
        (change,) = church_changes(conn, PEOPLE, MANUAL_LAST_NAME)
        assert change.deleted and change.values == {}
        confirm_sent(conn, "people", change, DELETED)
        assert conn.execute(sa.text("SELECT count(*) FROM sync_base")).scalar_one() == 0


def test_a_value_staff_gave_is_sent_but_applied_only_once_the_church_row_holds_it(engine):
    with engine.begin() as conn:
        conflict_id = held_last_name_conflict(conn, "1")
        resolve_conflict(conn, conflict_id, decided_by="pat", value="Okafor-Lee")

        (change,) = church_changes(conn, PEOPLE, MANUAL_LAST_NAME)
        assert (change.values, change.church_lacks) == ({"last_name": "Okafor-Lee"}, {"last_name"})
        confirm_sent(conn, "people", change, {"last_name": "Okafor-Lee"})
        # The church row still says Lee-Smith: the decision waits for the load to write it there,
        # and the base stays, so the church's old value is never sent back as a church edit.
        assert conn.execute(sa.text("SELECT applied_at FROM sync_conflicts")).scalar_one() is None
        assert conn.execute(sa.text("SELECT agreed_values->>'last_name' FROM sync_base")).scalar_one() == "Lee"
        (again,) = church_changes(conn, PEOPLE, MANUAL_LAST_NAME)
        assert again.values == {"last_name": "Okafor-Lee"}

"""The base is seeded where church and PCO agree; conflicts are recorded from the diff (held or
decided by their policy), idempotently; staff resolve held ones and the resolution waits for the
engine to apply it. Real PostgreSQL, the people entity as declared."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from pco_pipeline.sync.base import seed_base
from pco_pipeline.sync.conflicts import (ConflictError, decided_to_apply, held_longer_than, list_conflicts,
                                         mark_applied, record_conflicts, resolve_conflict)
from pco_pipeline.sync.merge import Outcome, Policy, field_states, three_way_sql
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.two_way_entities import ENTITIES
from pco_pipeline_tests.two_way.people_fixtures import church_person, edit_church, land_person

PEOPLE = ENTITIES["people"]
DEFAULTS = load_policies(environ={}).for_entity("people")


def policies(**overrides: Policy) -> dict[str, Policy]:
    return {**DEFAULTS, **overrides}


def outcomes(conn, entity=PEOPLE, chosen=None) -> dict[str, dict[str, Outcome]]:
    rows = conn.execute(three_way_sql(entity, chosen or DEFAULTS), {"entity": entity.entity})
    return {row.pco_id: {state.field: state.outcome for state in field_states(row, entity.fields)} for row in rows}


def linked_then_edited(conn, church: dict | None = None, pco: dict | None = None, **both: Any) -> int:
    """Person 1 linked with `both` values on both sides and its base seeded, then edited: the church
    row to `church`, PCO's record to `pco`. Returns the church row's id."""
    land_person(conn, "1", **both)
    local_id = church_person(conn, "1", **both)
    seed_base(conn, PEOPLE)
    if church:
        edit_church(conn, local_id, **church)
    if pco:
        land_person(conn, "1", **{**both, **pco})
    return local_id


def agreed(conn, pco_id: str) -> dict:
    return conn.execute(sa.text("SELECT agreed_values FROM sync_base WHERE entity = 'people' AND pco_id = :p"),
                        {"p": pco_id}).scalar_one_or_none()


def test_seeding_sets_the_base_of_agreeing_fields_only_so_nothing_looks_changed(engine):
    with engine.begin() as conn:
        land_person(conn, "1", birthdate="2001-02-03", grade=4)
        church_person(conn, "1", birthdate="2001-02-03", grade=4)
        land_person(conn, "2", last_name="Lee")
        church_person(conn, "2", last_name="Leigh")  # linked by a match, names differ
        assert all(outcome is Outcome.AGREE for outcome in outcomes(conn)["1"].values())

        assert seed_base(conn, PEOPLE) == 2
        assert agreed(conn, "1")["birthdate"] == "2001-02-03"
        assert "last_name" not in agreed(conn, "2") and agreed(conn, "2")["first_name"] == "Ann"
        after = outcomes(conn)
        assert set(after["1"].values()) == {Outcome.IN_SYNC}
        # Never agreed on: both sides count as changed, so the policy decides (PCO's by default).
        assert after["2"]["last_name"] is Outcome.CONFLICT_PCO_WINS
        assert seed_base(conn, PEOPLE) == 0  # idempotent


def test_one_side_edits_flow_and_only_changed_fields_move(engine):
    with engine.begin() as conn:
        linked_then_edited(conn, church={"last_name": "Lee-Smith"}, pco={"nickname": "Annie"})
        fields = outcomes(conn)["1"]
        assert fields["last_name"] is Outcome.SEND_CHURCH
        assert fields["nickname"] is Outcome.TAKE_PCO
        assert {fields[name] for name in fields if name not in ("last_name", "nickname")} == {Outcome.IN_SYNC}
        assert record_conflicts(conn, PEOPLE, DEFAULTS) == 0  # per field: two clean changes, no conflict


def test_a_held_conflict_is_recorded_once_refreshed_and_resolved_by_staff(engine):
    manual = policies(last_name=Policy.MANUAL)
    with engine.begin() as conn:
        local_id = linked_then_edited(conn, church={"last_name": "Lee-Smith"}, pco={"last_name": "Smith"})
        assert record_conflicts(conn, PEOPLE, manual) == 1
        assert record_conflicts(conn, PEOPLE, manual) == 1  # seen again: the same row refreshed
        [conflict] = list_conflicts(conn, open_only=True)
        assert (conflict.entity, conflict.pco_id, conflict.local_id, conflict.field) == ("people", "1", local_id,
                                                                                       "last_name")
        assert (conflict.base_value, conflict.church_value, conflict.pco_value) == ("Lee", "Lee-Smith", "Smith")
        assert (conflict.policy, conflict.outcome, conflict.decided_by) == (Policy.MANUAL, "held", None)
        assert conflict.church_changed_at is not None and conflict.pco_changed_at is not None

        edit_church(conn, local_id, last_name="Lee-Smyth")  # edited again while held
        record_conflicts(conn, PEOPLE, manual)
        [conflict] = list_conflicts(conn, open_only=True)
        assert conflict.church_value == "Lee-Smyth"

        resolved = resolve_conflict(conn, conflict.id, decided_by="pat", take="church")
        assert (resolved.decided_by, resolved.resolution_side, resolved.resolution_value) == ("pat", "church",
                                                                                              "Lee-Smyth")
        assert list_conflicts(conn, open_only=True) == []
        assert [c.id for c in decided_to_apply(conn, "people")] == [conflict.id]
        record_conflicts(conn, PEOPLE, manual)  # a decided conflict is not reopened before it is applied
        assert decided_to_apply(conn, "people")[0].resolution_value == "Lee-Smyth"
        assert mark_applied(conn, [conflict.id]) == 1
        assert decided_to_apply(conn, "people") == []
        assert len(list_conflicts(conn)) == 1


def test_a_conflict_a_policy_decides_is_recorded_decided(engine):
    with engine.begin() as conn:
        linked_then_edited(conn, church={"first_name": "Anna"}, pco={"first_name": "Annie"})
        record_conflicts(conn, PEOPLE, DEFAULTS)
        [conflict] = list_conflicts(conn)
        assert (conflict.outcome, conflict.decided_by, conflict.resolution_side, conflict.resolution_value) == (
            "pco_wins", "policy pco", "pco", "Annie")
        assert list_conflicts(conn, open_only=True) == []
        with pytest.raises(ConflictError, match="already decided by policy pco"):
            resolve_conflict(conn, conflict.id, decided_by="pat", take="church")


def test_a_deletion_against_an_edit_is_recorded_with_the_deleted_side(engine):
    with engine.begin() as conn:
        local_id = linked_then_edited(conn, pco={"last_name": "Smith"})
        conn.execute(sa.text("DELETE FROM people WHERE id = :id"), {"id": local_id})
        record_conflicts(conn, PEOPLE, policies(last_name=Policy.MANUAL))
        [conflict] = list_conflicts(conn, open_only=True)
        assert (conflict.field, conflict.local_id, conflict.church_deleted, conflict.pco_value) == (
            "last_name", local_id, True, "Smith")
        resolved = resolve_conflict(conn, conflict.id, decided_by="pat", take="church")
        assert resolved.resolution_deletes


def test_an_open_conflict_the_sides_settle_themselves_is_closed_as_moot(engine):
    manual = policies(last_name=Policy.MANUAL)
    with engine.begin() as conn:
        local_id = linked_then_edited(conn, church={"last_name": "Lee-Smith"}, pco={"last_name": "Smith"})
        record_conflicts(conn, PEOPLE, manual)
        edit_church(conn, local_id, last_name="Smith")  # staff typed what PCO has
        record_conflicts(conn, PEOPLE, manual)
        assert list_conflicts(conn, open_only=True) == []
        [conflict] = list_conflicts(conn)
        assert conflict.is_moot and conflict.applied_at is not None


def test_resolving_with_a_value_reads_it_as_the_fields_type(engine):
    with engine.begin() as conn:
        linked_then_edited(conn, church={"birthdate": "2001-02-04"}, pco={"birthdate": "2001-03-02"},
                           birthdate="2001-02-03")
        record_conflicts(conn, PEOPLE, policies(birthdate=Policy.MANUAL))
        [conflict] = list_conflicts(conn, open_only=True)
        with pytest.raises(ConflictError, match="'3 Feb' is not a valid date for people.birthdate"):
            resolve_conflict(conn, conflict.id, decided_by="pat", value="3 Feb")
        with pytest.raises(ConflictError, match="say which value wins"):
            resolve_conflict(conn, conflict.id, decided_by="pat")
        with pytest.raises(ConflictError, match="no conflict 999"):
            resolve_conflict(conn, 999, decided_by="pat", take="pco")
        resolved = resolve_conflict(conn, conflict.id, decided_by="pat", value="2001-02-03")
        assert (resolved.resolution_side, resolved.resolution_value) == ("value", "2001-02-03")


def test_newest_gives_the_later_side_and_holds_a_tie(engine):
    newest = policies(gender=Policy.NEWEST)
    with engine.begin() as conn:
        # The church's edit is now, after PCO's (in March).
        local_id = linked_then_edited(conn, church={"gender": "F"}, pco={"gender": "Female"})
        assert outcomes(conn, chosen=newest)["1"]["gender"] is Outcome.CONFLICT_CHURCH_WINS
        # The church's edit stated as made in February (a writer giving the time of its change is believed).
        conn.execute(sa.text("UPDATE people SET gender = 'f', updated_at = '2026-02-01T00:00:00Z' WHERE id = :id"),
                     {"id": local_id})
        assert outcomes(conn, chosen=newest)["1"]["gender"] is Outcome.CONFLICT_PCO_WINS
        conn.execute(sa.text("UPDATE people SET gender = 'F', updated_at = '2026-03-01T12:00:00Z' WHERE id = :id"),
                     {"id": local_id})
        assert outcomes(conn, chosen=newest)["1"]["gender"] is Outcome.CONFLICT_HELD


def test_newest_weighs_a_church_deletion_by_when_it_happened(engine):
    newest = policies(last_name=Policy.NEWEST)
    with engine.begin() as conn:
        local_id = linked_then_edited(conn, pco={"last_name": "Smith"})  # PCO's edit: March 2026
        conn.execute(sa.text("DELETE FROM people WHERE id = :id"), {"id": local_id})  # now: later
        assert outcomes(conn, chosen=newest)["1"]["last_name"] is Outcome.CONFLICT_CHURCH_WINS
        land_person(conn, "1", last_name="Smith", updated_at=datetime.now(timezone.utc) + timedelta(hours=1))
        assert outcomes(conn, chosen=newest)["1"]["last_name"] is Outcome.CONFLICT_PCO_WINS


def test_conflicts_held_too_long_are_counted_from_the_oldest(engine):
    with engine.begin() as conn:
        linked_then_edited(conn, church={"last_name": "Lee-Smith", "gender": "F"},
                           pco={"last_name": "Smith", "gender": "Female"})
        record_conflicts(conn, PEOPLE, policies(last_name=Policy.MANUAL, gender=Policy.MANUAL))
        assert held_longer_than(conn, timedelta(hours=1)).count == 0
        conn.execute(sa.text("UPDATE sync_conflicts SET detected_at = now() - interval '3 days' "
                             "WHERE field = 'gender'"))
        waiting = held_longer_than(conn, timedelta(hours=1))
        assert waiting.count == 1 and waiting.oldest_detected_at is not None
        assert held_longer_than(conn, timedelta(days=4)).count == 0

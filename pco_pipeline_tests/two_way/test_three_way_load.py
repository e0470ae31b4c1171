"""The people load applies only what PCO changed since the two sides last agreed (issue 16 item 6):
a PCO edit of a field the church left alone is loaded, a church edit survives the next load, a
field both changed is a conflict decided by its policy (and recorded), and what staff decide is
applied. Real PostgreSQL, the real load, PCO's records landed as the extract lands them."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from pco_pipeline.cli import main
from pco_pipeline.sync.conflicts import resolve_conflict
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.policies import load_policies
from pco_pipeline_tests.sync.pco_docs import email, execute, land, person, rows, scalar

LATER = "2030-01-01T00:00:00Z"  # PCO's edits: after every church edit of these tests (made now)


def _linked(engine) -> int:
    """Person 1 (Ann Lee, ann@example.org) loaded from PCO, so both sides agree; the church row's id."""
    land(engine, "people/people", [person("1", "Ann", "Lee", emails=[email("ann@example.org", id="e1")])])
    load_people(engine)
    return scalar(engine, "SELECT id FROM people WHERE pco_id = '1'")


def _pco_edits(engine, **attributes) -> None:
    emails = attributes.pop("emails", [email("ann@example.org", id="e1")])
    names = {"first": attributes.pop("first_name", "Ann"), "last": attributes.pop("last_name", "Lee")}
    land(engine, "people/people", [person("1", names["first"], names["last"], emails=emails, updated_at=LATER,
                                          **attributes)])


def _policies(tmp_path: Path, **people_fields: str):
    own = tmp_path / "policies.toml"
    own.write_text("[people]\n" + "".join(f'{f} = "{p}"\n' for f, p in people_fields.items()), encoding="utf-8")
    return load_policies(environ={"PCO_SYNC_POLICIES": str(own)})


def _person(engine, local_id: int, *columns: str) -> tuple:
    return tuple(rows(engine, f"SELECT {', '.join(columns)} FROM people WHERE id = :i", i=local_id)[0])


def _conflicts(engine) -> list[sa.Row]:
    return rows(engine, "SELECT field, church_value, pco_value, policy, outcome, decided_by, resolution_side,"
                        " resolution_value, applied_at IS NOT NULL AS applied FROM sync_conflicts ORDER BY id")


def test_a_pco_edit_of_a_field_the_church_left_alone_is_loaded(engine):
    local_id = _linked(engine)
    execute(engine, "UPDATE people SET nickname = 'Annie' WHERE id = :i", i=local_id)  # the church's edit
    _pco_edits(engine, last_name="Lee-Ray")
    result = load_people(engine)
    assert result.counts["people"].updated == 1
    assert _person(engine, local_id, "last_name", "nickname") == ("Lee-Ray", "Annie")
    assert _conflicts(engine) == []


def test_a_church_edit_survives_the_next_loads(engine):
    local_id = _linked(engine)
    execute(engine, "UPDATE people SET last_name = 'Lee-Smith' WHERE id = :i", i=local_id)
    assert load_people(engine).counts["people"].updated == 0
    _pco_edits(engine, gender="Male")  # PCO touched the record, not the last name
    load_people(engine)
    assert _person(engine, local_id, "last_name", "gender") == ("Lee-Smith", "Male")
    assert _conflicts(engine) == []


def test_a_church_email_edit_survives_the_next_load(engine):
    _linked(engine)
    execute(engine, "UPDATE person_emails SET location = 'Work' WHERE pco_id = 'e1'")
    _pco_edits(engine, last_name="Lee-Ray")
    load_people(engine)
    assert scalar(engine, "SELECT location FROM person_emails WHERE pco_id = 'e1'") == "Work"


def test_both_sides_changed_pco_policy_gives_the_church_row_pcos_value_and_says_so(engine):
    local_id = _linked(engine)
    execute(engine, "UPDATE people SET last_name = 'Lee-Smith' WHERE id = :i", i=local_id)
    _pco_edits(engine, last_name="Smith")
    load_people(engine)  # shipped policy: last_name = "pco"
    assert _person(engine, local_id, "last_name") == ("Smith",)
    (conflict,) = _conflicts(engine)
    assert tuple(conflict) == ("last_name", "Lee-Smith", "Smith", "pco", "pco_wins", "policy pco", "pco", "Smith",
                               True)
    load_people(engine)
    assert len(_conflicts(engine)) == 1  # applied, not seen again


def test_both_sides_changed_manual_policy_keeps_both_values_and_the_conflict_open(engine, tmp_path):
    manual = _policies(tmp_path, last_name="manual")
    local_id = _linked(engine)
    execute(engine, "UPDATE people SET last_name = 'Lee-Smith' WHERE id = :i", i=local_id)
    _pco_edits(engine, last_name="Smith", gender="Male")
    load_people(engine, policies=manual)
    load_people(engine, policies=manual)
    assert _person(engine, local_id, "last_name", "gender") == ("Lee-Smith", "Male")
    (conflict,) = _conflicts(engine)
    assert tuple(conflict) == ("last_name", "Lee-Smith", "Smith", "manual", "held", None, None, None, False)


@pytest.fixture
def held_last_name(engine, database_url, tmp_path, monkeypatch):
    """Person 1's last name held for a person (church Lee-Smith, PCO Smith); (policies, row id, conflict id)."""
    manual = _policies(tmp_path, last_name="manual")
    monkeypatch.setenv("DATABASE_URL", database_url)
    local_id = _linked(engine)
    execute(engine, "UPDATE people SET last_name = 'Lee-Smith' WHERE id = :i", i=local_id)
    _pco_edits(engine, last_name="Smith")
    load_people(engine, policies=manual)
    return manual, local_id, scalar(engine, "SELECT id FROM sync_conflicts")


def test_resolved_take_church_nothing_is_reverted_by_the_next_load(engine, held_last_name):
    manual, local_id, conflict_id = held_last_name
    assert main(["conflicts", "resolve", str(conflict_id), "--take", "church"]) == 0
    load_people(engine, policies=manual)
    load_people(engine)  # whatever the policy says now: the decision stands
    assert _person(engine, local_id, "last_name") == ("Lee-Smith",)
    (conflict,) = _conflicts(engine)
    assert (conflict.resolution_side, conflict.resolution_value, conflict.applied) == ("church", "Lee-Smith", False)


def test_resolved_take_pco_is_applied_by_the_next_load_and_marked_applied(engine, held_last_name):
    manual, local_id, conflict_id = held_last_name
    assert main(["conflicts", "resolve", str(conflict_id), "--take", "pco"]) == 0
    load_people(engine, policies=manual)
    assert _person(engine, local_id, "last_name") == ("Smith",)
    (conflict,) = _conflicts(engine)
    assert conflict.applied
    assert scalar(engine, "SELECT agreed_values ->> 'last_name' FROM sync_base WHERE pco_id = '1'"
                          " AND entity = 'people'") == "Smith"


def test_a_value_resolution_is_written_to_the_church_row_and_waits_for_pco(engine, held_last_name):
    manual, local_id, conflict_id = held_last_name
    assert main(["conflicts", "resolve", str(conflict_id), "--value", "Lee Smith"]) == 0
    load_people(engine, policies=manual)
    assert _person(engine, local_id, "last_name") == ("Lee Smith",)
    (conflict,) = _conflicts(engine)
    assert not conflict.applied  # PCO does not hold it yet: the push sends it


def test_first_two_way_load_without_a_base_takes_pcos_values_as_before(engine):
    execute(engine, "INSERT INTO people (pco_id, first_name, last_name, updated_at)"
                    " VALUES ('1', 'Ann', 'Leigh', '2020-01-01T00:00:00Z')")
    land(engine, "people/people", [person("1", "Ann", "Lee", updated_at="2024-01-01T00:00:00Z")])
    load_people(engine)
    assert scalar(engine, "SELECT last_name FROM people WHERE pco_id = '1'") == "Lee"
    assert _conflicts(engine) == []


def _removed_in_pco(engine) -> None:
    land(engine, "people/people", [], listing=True)  # the complete listing no longer has person 1


def test_a_person_pco_deleted_while_the_church_edited_them_is_a_conflict_not_a_deactivation(engine, tmp_path):
    manual = _policies(tmp_path, last_name="manual")
    local_id = _linked(engine)
    execute(engine, "UPDATE people SET last_name = 'Lee-Smith' WHERE id = :i", i=local_id)
    _removed_in_pco(engine)
    assert load_people(engine, policies=manual).counts["people"].deactivated == 0
    assert _person(engine, local_id, "is_active", "last_name") == (True, "Lee-Smith")
    (conflict,) = _conflicts(engine)
    assert (conflict.field, conflict.church_value, conflict.pco_value, conflict.outcome) == (
        "last_name", "Lee-Smith", None, "held")

    with engine.begin() as conn:
        resolve_conflict(conn, scalar(engine, "SELECT id FROM sync_conflicts"), decided_by="pat", take="pco")
    load_people(engine, policies=manual)
    assert _person(engine, local_id, "is_active") == (False,)


def test_a_person_pco_deleted_the_church_did_not_edit_is_deactivated(engine):
    local_id = _linked(engine)
    execute(engine, "UPDATE person_emails SET location = 'Work'")  # another record: not the person's fields
    _removed_in_pco(engine)
    assert load_people(engine).counts["people"].deactivated == 1
    assert _person(engine, local_id, "is_active") == (False,)
    assert _conflicts(engine) == []


def test_an_email_pco_deleted_while_the_church_edited_it_stays_as_a_held_conflict(engine, tmp_path):
    own = tmp_path / "emails.toml"
    own.write_text('[person_emails]\nlocation = "manual"\n', encoding="utf-8")
    manual = load_policies(environ={"PCO_SYNC_POLICIES": str(own)})
    _linked(engine)
    execute(engine, "UPDATE person_emails SET location = 'Work' WHERE pco_id = 'e1'")
    _pco_edits(engine, emails=[])  # PCO's person no longer lists the email
    assert load_people(engine, policies=manual).counts["person_emails"].deactivated == 0
    assert scalar(engine, "SELECT location FROM person_emails WHERE pco_id = 'e1'") == "Work"
    (conflict,) = _conflicts(engine)
    assert (conflict.field, conflict.church_value, conflict.pco_value, conflict.outcome) == (
        "location", "Work", None, "held")

    assert load_people(engine, policies=manual).counts["person_emails"].deactivated == 0  # still held
    with engine.begin() as conn:
        resolve_conflict(conn, scalar(engine, "SELECT id FROM sync_conflicts"), decided_by="pat", take="pco")
    assert load_people(engine, policies=manual).counts["person_emails"].deactivated == 1


def test_an_email_pco_deleted_the_church_left_alone_is_deleted(engine):
    _linked(engine)
    _pco_edits(engine, emails=[])
    assert load_people(engine).counts["person_emails"].deactivated == 1
    assert _conflicts(engine) == []


def test_a_person_the_church_made_inactive_stays_inactive_and_one_it_deleted_is_not_created_again(engine):
    local_id = _linked(engine)
    land(engine, "people/people", [person("2", "Bob", "Ray")])
    load_people(engine)
    execute(engine, "UPDATE people SET is_active = false, status = 'inactive' WHERE id = :i", i=local_id)
    execute(engine, "DELETE FROM people WHERE pco_id = '2'")
    _pco_edits(engine, gender="Male")
    load_people(engine)
    assert _person(engine, local_id, "is_active", "status", "gender") == (False, "inactive", "Male")
    assert scalar(engine, "SELECT count(*) FROM people WHERE pco_id = '2'") == 0


def test_a_deactivation_pco_has_also_made_stays_after_the_next_loads(engine):
    local_id = _linked(engine)
    execute(engine, "UPDATE people SET is_active = false, status = 'inactive' WHERE id = :i", i=local_id)
    _pco_edits(engine, status="inactive")  # the push made PCO's person inactive too
    load_people(engine)
    load_people(engine)
    assert _person(engine, local_id, "is_active", "status") == (False, "inactive")

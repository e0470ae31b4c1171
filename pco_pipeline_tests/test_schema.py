"""The church schema enforces its keys: partial unique pco_id indexes, foreign keys, hierarchy."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

PCO_ID_TABLES = {
    "people": "INSERT INTO people (first_name, last_name, pco_id) VALUES ('A', 'B', :pco_id)",
    "families": "INSERT INTO families (name, pco_id) VALUES ('The Bs', :pco_id)",
    "church_group": "INSERT INTO church_group (level, name, pco_id) VALUES (1, 'Dept', :pco_id)",
    "events": "INSERT INTO events (name, pco_id) VALUES ('Service', :pco_id)",
    "locations": "INSERT INTO locations (name, pco_id) VALUES ('Room 1', :pco_id)",
}


@pytest.mark.parametrize("table", sorted(PCO_ID_TABLES))
def test_pco_id_is_unique_when_set(engine, table):
    insert = sa.text(PCO_ID_TABLES[table])
    with engine.begin() as conn:
        conn.execute(insert, {"pco_id": "123"})
    with pytest.raises(IntegrityError, match=f"{table}_pco_id_key"):
        with engine.begin() as conn:
            conn.execute(insert, {"pco_id": "123"})


@pytest.mark.parametrize("table", sorted(PCO_ID_TABLES))
def test_many_rows_without_pco_id_are_fine(engine, table):
    insert = sa.text(PCO_ID_TABLES[table])
    with engine.begin() as conn:
        for _ in range(3):
            conn.execute(insert, {"pco_id": None})
        count = conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE pco_id IS NULL")).scalar()
    assert count == 3


def test_email_must_belong_to_an_existing_person(engine):
    with pytest.raises(IntegrityError, match="person_emails_person_id_fkey"):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO person_emails (person_id, address) VALUES (999, 'x@example.org')"))


def test_deleting_a_person_removes_their_contacts_and_memberships(engine):
    with engine.begin() as conn:
        pid = conn.execute(sa.text(
            "INSERT INTO people (first_name, last_name) VALUES ('Ann', 'Lee') RETURNING id")).scalar()
        fid = conn.execute(sa.text("INSERT INTO families (name) VALUES ('Lee') RETURNING id")).scalar()
        conn.execute(sa.text("INSERT INTO person_emails (person_id, address) VALUES (:p, 'ann@example.org')"),
                     {"p": pid})
        conn.execute(sa.text("INSERT INTO family_members (family_id, person_id, role) VALUES (:f, :p, 'head')"),
                     {"f": fid, "p": pid})
        conn.execute(sa.text("DELETE FROM people WHERE id = :p"), {"p": pid})
        assert conn.execute(sa.text("SELECT count(*) FROM person_emails")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM family_members")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM families")).scalar() == 1


def test_group_hierarchy_needs_a_parent_below_department_level(engine):
    with engine.begin() as conn:
        dept = conn.execute(sa.text(
            "INSERT INTO church_group (level, name) VALUES (1, 'Adults') RETURNING id")).scalar()
        area = conn.execute(sa.text(
            "INSERT INTO church_group (level, name, parent_id) VALUES (2, 'Small groups', :d) RETURNING id"),
            {"d": dept}).scalar()
        conn.execute(sa.text(
            "INSERT INTO church_group (level, name, parent_id, meeting_day) VALUES (3, 'Tuesday men', :a, 'tuesday')"),
            {"a": area})
    with pytest.raises(IntegrityError, match="church_group_check"):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO church_group (level, name) VALUES (3, 'Orphan group')"))
    # A department with groups under it cannot be deleted out from under them.
    with pytest.raises(IntegrityError, match="church_group_parent_id_fkey"):
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM church_group WHERE id = :d"), {"d": dept})


def test_membership_leader_type_is_a_known_value(engine):
    with engine.begin() as conn:
        pid = conn.execute(sa.text(
            "INSERT INTO people (first_name, last_name) VALUES ('Bo', 'Ng') RETURNING id")).scalar()
        dept = conn.execute(sa.text("INSERT INTO church_group (level, name) VALUES (1, 'D') RETURNING id")).scalar()
    with pytest.raises(IntegrityError, match="group_membership_leader_type_check"):
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO group_membership (group_id, person_id, leader_type) VALUES (:g, :p, 'boss')"),
                {"g": dept, "p": pid})


def test_phone_e164_column_rejects_non_e164(engine):
    with engine.begin() as conn:
        pid = conn.execute(sa.text(
            "INSERT INTO people (first_name, last_name) VALUES ('Cy', 'Ro') RETURNING id")).scalar()
        conn.execute(sa.text("INSERT INTO person_phones (person_id, number, e164) VALUES (:p, '(555) 201-0000', "
                             "'+15552010000')"), {"p": pid})
    with pytest.raises(IntegrityError, match="person_phones_e164_check"):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO person_phones (person_id, number, e164) VALUES (:p, '555', '555')"),
                         {"p": pid})


def test_webhook_delivery_is_stored_once(engine):
    insert = sa.text("INSERT INTO webhook_inbox (event_name, delivery_id, raw_body) "
                     "VALUES ('people.v2.events.person.created', 'd-1', '\\x7b7d')")
    with engine.begin() as conn:
        conn.execute(insert)
    with pytest.raises(IntegrityError, match="webhook_inbox_delivery_key"):
        with engine.begin() as conn:
            conn.execute(insert)

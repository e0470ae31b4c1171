"""sql/0013: a church row's updated_at moves when the row changes, whoever writes it, and only then
(the `newest` policy weighs it against PCO's updated_at)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

LONG_AGO = datetime(2020, 1, 1, tzinfo=timezone.utc)


def _person(conn: sa.Connection) -> int:
    person = conn.execute(sa.text(
        "INSERT INTO people (first_name, last_name, updated_at) VALUES ('Ann', 'Lee', :t) RETURNING id"),
        {"t": LONG_AGO}).scalar_one()
    family = conn.execute(sa.text(
        "INSERT INTO families (name, updated_at) VALUES ('Lee', :t) RETURNING id"), {"t": LONG_AGO}).scalar_one()
    conn.execute(sa.text("INSERT INTO family_members (family_id, person_id, updated_at) VALUES (:f, :p, :t)"),
                 {"f": family, "p": person, "t": LONG_AGO})
    group = conn.execute(sa.text(
        "INSERT INTO church_group (level, name) VALUES (1, 'Choir') RETURNING id")).scalar_one()
    conn.execute(sa.text("INSERT INTO group_membership (group_id, person_id, updated_at) VALUES (:g, :p, :t)"),
                 {"g": group, "p": person, "t": LONG_AGO})
    for table, value in (("person_emails", "address"), ("person_phones", "number")):
        conn.execute(sa.text(f"INSERT INTO {table} (person_id, {value}, updated_at) VALUES (:p, '1', :t)"),
                     {"p": person, "t": LONG_AGO})
    return person


# (table, an edit that changes the row, the same statement's no-op form)
EDITS = [
    ("people", "last_name = 'Lee-Ray'", "last_name = last_name"),
    ("person_emails", "location = 'Work'", "address = address"),
    ("person_phones", "is_primary = true", "number = number"),
    ("families", "city = 'Leeds'", "name = name"),
    ("family_members", "role = 'head'", "role = role"),
    ("group_membership", "leader_type = 'leader'", "leader_type = leader_type"),
]


@pytest.mark.parametrize(("table", "edit", "no_op"), EDITS)
def test_an_edit_without_updated_at_moves_it_and_a_no_op_does_not(engine: sa.Engine, table: str, edit: str,
                                                                    no_op: str) -> None:
    with engine.begin() as conn:
        _person(conn)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET {no_op}, updated_at = now()"))
        assert conn.execute(sa.text(f"SELECT updated_at FROM {table}")).scalar_one() == LONG_AGO
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET {edit}"))
        edited_at = conn.execute(sa.text(f"SELECT updated_at FROM {table}")).scalar_one()
        assert edited_at == conn.execute(sa.text("SELECT now()")).scalar_one()


def test_a_writer_stating_when_it_changed_the_row_is_believed(engine: sa.Engine) -> None:
    stated = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    with engine.begin() as conn:
        person = _person(conn)
        conn.execute(sa.text("UPDATE people SET nickname = 'Annie', updated_at = :t WHERE id = :id"),
                     {"t": stated, "id": person})
        assert conn.execute(sa.text("SELECT updated_at FROM people WHERE id = :id"), {"id": person}
                            ).scalar_one() == stated

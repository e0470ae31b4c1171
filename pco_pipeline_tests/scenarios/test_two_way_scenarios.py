"""Issue 16's "What is wrong today", one named test per scenario, as a staff member meets it: a
first sync links the church to PCO, someone edits on one side, `full_push` and the next
`sync_people` / `full_sync` run as staff run them, and the test looks at both sides.

Each of these failed on the code before two-way sync (creates were the only thing pushed and
every load put PCO's values back): checked at 26758cb, where all eight failed.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from pco_sandbox.core import Sandbox


def _linked_person(sandbox: Sandbox, run_job, engine, **attributes) -> tuple[int, str]:
    """A person created in PCO, then brought into the church by a people sync: (local id, PCO id)."""
    record = sandbox.controls.create_person(**{"first_name": "Ann", "last_name": "Lee",
                                               "birthdate": "1980-01-02", "gender": "Female", **attributes})
    assert run_job("full_sync").success
    with engine.connect() as conn:
        local_id = conn.execute(sa.text("SELECT id FROM people WHERE pco_id = :p"), {"p": record.id}).scalar_one()
    return local_id, record.id


def _pco(sandbox: Sandbox, key: str, record_id: str) -> dict:
    record = sandbox.store.get(key, record_id)
    assert record is not None, f"{key} {record_id} is gone from PCO"
    return record.attributes


def _children(sandbox: Sandbox, key: str, person_id: str) -> list:
    return [r for r in sandbox.store.all(key) if r.rel_ids("person") == [person_id]]


def _sync_and_push(run_job) -> None:
    assert run_job("full_push").success
    assert run_job("full_sync").success


def test_a_last_name_corrected_in_the_church_reaches_pco_and_stays(sandbox, run_job, engine):
    local_id, pco_id = _linked_person(sandbox, run_job, engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET last_name = 'Leigh', birthdate = '1980-02-01' WHERE id = :i"),
                     {"i": local_id})

    _sync_and_push(run_job)

    assert (_pco(sandbox, "people/people", pco_id)["last_name"],
            _pco(sandbox, "people/people", pco_id)["birthdate"]) == ("Leigh", "1980-02-01")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT last_name, birthdate FROM people WHERE id = :i"), {"i": local_id}).one()
    assert tuple(row) == ("Leigh", date(1980, 2, 1))


def test_a_changed_email_reaches_pco_and_stays(sandbox, run_job, engine):
    local_id, pco_id = _linked_person(sandbox, run_job, engine)
    sandbox.controls.create("people/emails", {"address": "ann@old.example", "location": "Home", "primary": True},
                            parent_id=pco_id)
    assert run_job("full_sync").success
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE person_emails SET address = 'ann@new.example',"
                             " address_normalized = 'ann@new.example' WHERE person_id = :i"), {"i": local_id})

    _sync_and_push(run_job)

    assert [e.attributes["address"] for e in _children(sandbox, "people/emails", pco_id)] == ["ann@new.example"]
    with engine.connect() as conn:
        emails = conn.execute(sa.text("SELECT address FROM person_emails WHERE person_id = :i"),
                              {"i": local_id}).scalars().all()
    assert emails == ["ann@new.example"]


def test_a_phone_added_to_a_person_from_pco_is_sent(sandbox, run_job, engine):
    local_id, pco_id = _linked_person(sandbox, run_job, engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO person_phones (person_id, number, e164, location, is_primary)"
                             " VALUES (:i, '(217) 555-0101', '+12175550101', 'Mobile', true)"), {"i": local_id})

    _sync_and_push(run_job)

    assert [p.attributes["e164"] for p in _children(sandbox, "people/phone_numbers", pco_id)] == ["+12175550101"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM person_phones WHERE person_id = :i AND pco_id IS NOT NULL"),
                            {"i": local_id}).scalar_one() == 1


def test_an_email_deleted_in_the_church_is_deleted_in_pco_not_brought_back(sandbox, run_job, engine):
    local_id, pco_id = _linked_person(sandbox, run_job, engine)
    sandbox.controls.create("people/emails", {"address": "ann@example.org", "location": "Home", "primary": True},
                            parent_id=pco_id)
    assert run_job("full_sync").success
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM person_emails WHERE person_id = :i"), {"i": local_id})

    _sync_and_push(run_job)

    assert _children(sandbox, "people/emails", pco_id) == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM person_emails WHERE person_id = :i"),
                            {"i": local_id}).scalar_one() == 0


def test_a_person_made_inactive_in_the_church_becomes_inactive_in_pco_and_stays(sandbox, run_job, engine):
    local_id, pco_id = _linked_person(sandbox, run_job, engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET is_active = false, status = 'inactive' WHERE id = :i"),
                     {"i": local_id})

    _sync_and_push(run_job)

    assert _pco(sandbox, "people/people", pco_id)["status"] == "inactive"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT is_active FROM people WHERE id = :i"), {"i": local_id}).scalar_one() \
            is False


def test_a_linked_person_deleted_in_the_church_is_made_inactive_in_pco_and_never_comes_back(
        sandbox, run_job, engine):
    local_id, pco_id = _linked_person(sandbox, run_job, engine)
    _linked_person(sandbox, run_job, engine, first_name="Bea", birthdate="1985-03-04")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM people WHERE id = :i"), {"i": local_id})

    _sync_and_push(run_job)
    assert run_job("push_people").success        # later pushes are not blocked either

    assert _pco(sandbox, "people/people", pco_id)["status"] == "inactive"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM people WHERE pco_id = :p"), {"p": pco_id}).scalar_one() == 0


def _linked_family(sandbox: Sandbox, run_job, engine) -> tuple[int, str, list[str]]:
    ann = sandbox.controls.create_person(first_name="Ann", last_name="Lee", birthdate="1980-01-02")
    cid = sandbox.controls.create_person(first_name="Cid", last_name="Lee", birthdate="2016-05-06", child=True)
    household = sandbox.controls.create(
        "people/households", {"name": "Lee Household"},
        relationships={"people": {"data": [{"type": "Person", "id": ann.id}, {"type": "Person", "id": cid.id}]},
                       "primary_contact": {"data": {"type": "Person", "id": ann.id}}})
    for person in (ann, cid):
        sandbox.controls.create("people/addresses", {"street_line_1": "1 Main St", "city": "Springfield",
                                                     "state": "IL", "zip": "62701", "location": "Home",
                                                     "primary": True}, parent_id=person.id)
    assert run_job("full_sync").success
    with engine.connect() as conn:
        family_id = conn.execute(sa.text("SELECT id FROM families WHERE pco_id = :h"),
                                 {"h": household.id}).scalar_one()
    return family_id, household.id, [ann.id, cid.id]


def test_a_family_renamed_and_moved_in_the_church_reaches_pco_and_stays(sandbox, run_job, engine):
    family_id, household_id, members = _linked_family(sandbox, run_job, engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE families SET name = 'The Lees', street_line_1 = '9 Elm St' WHERE id = :f"),
                     {"f": family_id})

    _sync_and_push(run_job)

    assert _pco(sandbox, "people/households", household_id)["name"] == "The Lees"
    for person_id in members:    # one household, one address: every member's
        assert [a.attributes["street_line_1"] for a in _children(sandbox, "people/addresses", person_id)] \
            == ["9 Elm St"]
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, street_line_1 FROM families WHERE id = :f"), {"f": family_id}).one()
    assert tuple(row) == ("The Lees", "9 Elm St")


def test_a_leader_made_in_the_church_on_a_membership_from_pco_is_sent_and_stays(sandbox, run_job, engine):
    person = sandbox.controls.create_person(first_name="Ann", last_name="Lee", birthdate="1980-01-02")
    # PCO's API cannot create groups: the group is part of the organization the sandbox starts with.
    sandbox.load({"groups/groups": [{"type": "Group", "id": "7001", "attributes": {
        "name": "Tuesday Bible Study", "archived_at": None, "created_at": "2020-01-01T00:00:00Z",
        "memberships_count": 0}, "relationships": {"group_type": {"data": None}, "location": {"data": None}}}]})
    membership = sandbox.controls.create("groups/memberships", {"role": "member"}, parent_id="7001",
                                         relationships={"person": {"data": {"type": "Person", "id": person.id}}})
    assert run_job("full_sync").success
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE group_membership SET leader_type = 'leader' WHERE pco_id = :m"),
                     {"m": membership.id})

    _sync_and_push(run_job)

    assert _pco(sandbox, "groups/memberships", membership.id)["role"] == "leader"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT leader_type FROM group_membership WHERE pco_id = :m"),
                            {"m": membership.id}).scalar_one() == "leader"

"""Households → families and members; PCO person addresses → the family address."""

import sqlalchemy as sa

from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_people import load_people
from pco_pipeline_tests.sync.pco_docs import address, execute, household, land, local_person, person, rows, scalar


def _people(engine, *people):
    land(engine, "people/people", list(people))
    load_people(engine)


def _id(engine, pco_id):
    return scalar(engine, "SELECT id FROM people WHERE pco_id = :p", p=pco_id)


def test_households_become_families_with_members_and_roles(engine):
    _people(engine, person("1", "Dad", "Lee", addresses=[address("1 Old Rd", "Elk", primary=False),
                                                         address("9 Main St", "Elk", primary=True)]),
            person("2", "Mom", "Lee", addresses=[address("5 Other Ave", "Fox", primary=True)]),
            person("3", "Kid", "Lee", child=True, grade=3))
    land(engine, "people/households", [household("h1", "The Lees", ["1", "2", "3"], primary_contact="1")],
         listing=True)
    report = load_families(engine)
    assert report["families"].created == 1 and report["family_members"].created == 3
    family = rows(engine, "SELECT id, name, street_line_1, city, pco_id FROM families")[0]
    # The primary contact's primary address, though another member also has a primary one.
    assert (family.name, family.street_line_1, family.city, family.pco_id) == ("The Lees", "9 Main St", "Elk", "h1")
    assert rows(engine, "SELECT p.pco_id, fm.role, fm.is_primary_contact FROM family_members fm"
                        " JOIN people p ON p.id = fm.person_id ORDER BY p.pco_id") == [
        ("1", "head", True), ("2", "other", False), ("3", "child", False)]
    again = load_families(engine)
    assert again["families"].writes == 0 and again["family_members"].writes == 0
    assert again["family_members"].unchanged == 3


def test_without_a_primary_contact_address_another_members_primary_address_is_used(engine):
    _people(engine, person("1", "Dad", "Lee"),
            person("2", "Mom", "Lee", addresses=[address("1 Side St", "Elk", primary=False),
                                                 address("5 Other Ave", "Fox", primary=True)]))
    land(engine, "people/households", [household("h1", "The Lees", ["1", "2"], primary_contact="1")])
    load_families(engine)
    assert scalar(engine, "SELECT street_line_1 FROM families") == "5 Other Ave"


def test_membership_changes_follow_pco_but_local_only_members_stay(engine):
    _people(engine, person("1", "Dad", "Lee"), person("2", "Mom", "Lee"), person("3", "Kid", "Lee"))
    land(engine, "people/households", [household("h1", "The Lees", ["1", "2", "3"], primary_contact="1")])
    load_families(engine)
    family = scalar(engine, "SELECT id FROM families")
    baby = local_person(engine, "Baby", "Lee")  # added at the church, not in PCO yet
    execute(engine, "INSERT INTO family_members (family_id, person_id, role) VALUES (:f, :p, 'child')",
            f=family, p=baby)
    execute(engine, "UPDATE family_members SET role = 'spouse' WHERE person_id = :p", p=_id(engine, "2"))
    land(engine, "people/households", [household("h1", "The Lees", ["1", "2"], primary_contact="2")])
    report = load_families(engine)
    assert report["family_members"].deactivated == 1 and report["family_members"].updated == 2
    assert rows(engine, "SELECT p.first_name, fm.role, fm.is_primary_contact FROM family_members fm"
                        " JOIN people p ON p.id = fm.person_id ORDER BY p.first_name") == [
        ("Baby", "child", False), ("Dad", "head", False), ("Mom", "spouse", True)]


def test_a_household_pco_removed_keeps_its_family_marked_removed(engine):
    _people(engine, person("1", "Dad", "Lee"), person("2", "Solo", "Ray"))
    land(engine, "people/households", [household("h1", "The Lees", ["1"], "1"), household("h2", "Ray", ["2"], "2")])
    load_families(engine)
    land(engine, "people/households", [household("h2", "Ray", ["2"], "2")], listing=True)
    report = load_families(engine)
    assert report["families"].deactivated == 1
    assert rows(engine, "SELECT pco_id, pco_removed_at IS NOT NULL FROM families ORDER BY pco_id") == [
        ("h1", True), ("h2", False)]


def test_a_member_who_is_not_loaded_is_quarantined_until_they_are(engine):
    _people(engine, person("1", "Dad", "Lee"))
    land(engine, "people/households", [household("h1", "The Lees", ["1", "2"], "1")])
    report = load_families(engine)
    assert report["family_members"].created == 1 and report["family_members"].quarantined == 1
    assert scalar(engine, "SELECT reason FROM sync_quarantine WHERE entity = 'family_members'") == (
        "PCO person 2 (member of household h1) is not in the church database")
    _people(engine, person("1", "Dad", "Lee"), person("2", "Mom", "Lee"))
    report = load_families(engine)
    assert report["family_members"].created == 1 and report["family_members"].quarantined == 0
    assert scalar(engine, "SELECT count(*) FROM sync_quarantine WHERE resolved_at IS NULL") == 0


def _church_family(engine, name, *people):
    """A family the church entered itself (no pco_id) holding `people` (local ids)."""
    with engine.begin() as conn:
        family = conn.execute(sa.text("INSERT INTO families (name, city) VALUES (:n, 'Old Town') RETURNING id"),
                              {"n": name}).scalar_one()
        for person_id in people:
            conn.execute(sa.text("INSERT INTO family_members (family_id, person_id, role) VALUES (:f, :p, 'other')"),
                         {"f": family, "p": person_id})
    return family


def test_a_family_the_church_entered_becomes_the_households_family(engine):
    _people(engine, person("1", "Dad", "Lee", addresses=[address("9 Main St", "Elk")]),
            person("2", "Mom", "Lee"), person("3", "Kid", "Lee", child=True))
    baby = local_person(engine, "Baby", "Lee")
    family = _church_family(engine, "Lee family", _id(engine, "1"), _id(engine, "2"), baby)
    land(engine, "people/households", [household("h1", "The Lees", ["1", "2", "3"], primary_contact="1")])
    report = load_families(engine)
    assert (report["families"].created, report["families"].updated) == (0, 1)
    assert rows(engine, "SELECT id, pco_id, name, street_line_1, city FROM families") == [
        (family, "h1", "The Lees", "9 Main St", "Elk")]  # PCO's from now on
    assert rows(engine, "SELECT p.first_name, fm.role, fm.is_primary_contact FROM family_members fm"
                        " JOIN people p ON p.id = fm.person_id ORDER BY p.first_name") == [
        ("Baby", "other", False), ("Dad", "other", True), ("Kid", "child", False), ("Mom", "other", False)]
    again = load_families(engine)
    assert again["families"].writes == 0 and again["family_members"].writes == 0


def test_a_church_family_is_not_linked_when_that_would_take_someone_out_of_it(engine):
    _people(engine, person("1", "Dad", "Lee"), person("2", "Mom", "Lee"), person("4", "Grandpa", "Lee"))
    family = _church_family(engine, "Lee family", _id(engine, "1"), _id(engine, "4"))
    land(engine, "people/households", [household("h1", "The Lees", ["1", "2"], primary_contact="1")])
    report = load_families(engine)
    assert report["families"].created == 1
    assert rows(engine, "SELECT pco_id FROM families WHERE id = :f", f=family) == [(None,)]
    assert scalar(engine, "SELECT count(*) FROM family_members WHERE family_id = :f", f=family) == 2


def test_a_household_split_over_two_church_families_is_linked_to_neither(engine):
    _people(engine, person("1", "Dad", "Lee"), person("2", "Mom", "Lee"))
    first = _church_family(engine, "Lee", _id(engine, "1"))
    second = _church_family(engine, "Lee (Mom)", _id(engine, "2"))
    land(engine, "people/households", [household("h1", "The Lees", ["1", "2"], primary_contact="1")])
    assert load_families(engine)["families"].created == 1
    assert rows(engine, "SELECT pco_id FROM families WHERE id IN (:a, :b)", a=first, b=second) == [(None,), (None,)]

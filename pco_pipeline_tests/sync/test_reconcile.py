"""Reconciliation: silent after a clean load, specific about every kind of drift."""

import pytest

from pco_pipeline.sync.load_checkins import load_checkins, load_events
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.reconcile import FieldDifference, reconcile
from pco_pipeline.sync.registry import DEFAULT
from pco_pipeline_tests.sync.pco_docs import (
    address, calendar_event, checkin, checkin_event, email, event_instance, execute, group, group_type, household,
    land, local_person, location, membership, person, phone)


def _small_church(engine):
    local_person(engine, "Ann", "Lee", emails=["ann@example.org"], allergies="none")
    local_person(engine, "Local", "Only", emails=["local@example.org"])
    land(engine, "people/people", [
        person("1", "Ann", "Lee", emails=[email("ann@example.org", id="11")], phones=[phone("714 264 3144", id="21")],
               addresses=[address("9 Main St", "Elk", id="31")]),
        person("2", "Kid", "Lee", child=True, grade=2, birthdate="2016-04-04"),
        person("3", "Bad", "Date", birthdate="2016-02-31")], listing=True)
    land(engine, "people/households", [household("h1", "The Lees", ["1", "2"], "1")], listing=True)
    land(engine, "groups/group_types", [group_type("t1", "Kids")], listing=True)
    land(engine, "groups/groups", [group("g1", "Sunday School", "t1", schedule="Sundays 9am")], listing=True)
    land(engine, "groups/memberships", [membership("m1", "g1", "2"), membership("m2", "g1", "1", "leader")],
         listing=True)
    land(engine, "calendar/events", [calendar_event("ce1", "Service")])
    land(engine, "calendar/event_instances", [event_instance("i1", "ce1", "2024-03-03T16:00:00Z",
                                                             "2024-03-03T17:00:00Z")])
    land(engine, "check-ins/locations", [location("l1", "Room 1")])
    land(engine, "check-ins/check_ins", [checkin("c1", person_id="2", event_id="e1", location_ids=["l1"])],
         included=[checkin_event("e1", "Kids")])


def _full_load(engine):
    load_people(engine)
    load_families(engine)
    load_groups(engine)
    load_group_memberships(engine)
    load_events(engine)
    load_checkins(engine)


def test_every_synced_entity_is_compared():
    assert [c.entity for c in DEFAULT.comparisons] == [
        "people", "person_emails", "person_phones", "families", "family_members", "church_groups",
        "group_memberships", "events", "checkin_events", "locations", "event_times", "headcounts", "checkins"]


def test_before_loading_everything_is_missing(engine):
    _small_church(engine)
    report = reconcile(engine)
    assert not report.in_sync
    assert report.entities["people"].missing_locally == 2  # the invalid person is not expected
    assert report.entities["people"].missing_examples == ["1", "2"]
    assert report.entities["checkins"].missing_locally == 1


def test_a_clean_load_reconciles_with_quarantined_records_counted_apart(engine):
    _small_church(engine)
    _full_load(engine)
    report = reconcile(engine)
    assert report.in_sync, report.table()
    people = report.entities["people"]
    assert (people.pco_count, people.local_count, people.quarantined) == (2, 2, 1)
    assert {e.entity: e.pco_count for e in report.entities.values()} == {
        "people": 2, "person_emails": 1, "person_phones": 1, "families": 1, "family_members": 2,
        "church_groups": 2, "group_memberships": 2, "events": 1, "checkin_events": 1, "locations": 1,
        "event_times": 0, "headcounts": 0, "checkins": 1}
    assert "| people | 2 | 2 | 0 | 0 | 0 | 1 |" in report.table()


def test_drift_is_reported_per_entity_with_examples(engine):
    _small_church(engine)
    _full_load(engine)
    execute(engine, "UPDATE people SET last_name = 'Changed' WHERE pco_id = '1'")
    execute(engine, "DELETE FROM person_phones WHERE pco_id = '21'")
    execute(engine, "INSERT INTO people (pco_id, first_name, last_name) VALUES ('777', 'Ghost', 'Person')")
    execute(engine, "UPDATE families SET city = 'Nowhere'")
    execute(engine, "UPDATE group_membership SET leader_type = 'member' WHERE pco_id = 'm2'")
    execute(engine, "DELETE FROM checkins WHERE pco_id = 'c1'")
    report = reconcile(engine, examples=3)
    assert not report.in_sync
    people = report.entities["people"]
    assert (people.differing, people.extra_locally, people.extra_examples) == (1, 1, ["777"])
    assert people.field_differences == {"last_name": 1}
    assert people.difference_examples == [FieldDifference("1", "last_name", "Lee", "Changed")]
    assert report.entities["person_phones"].missing_examples == ["21"]
    assert report.entities["families"].difference_examples == [FieldDifference("h1", "city", "Elk", "Nowhere")]
    assert report.entities["group_memberships"].field_differences == {"leader_type": 1}
    assert report.entities["checkins"].missing_locally == 1
    assert report.entities["events"].in_sync and report.entities["locations"].in_sync
    # The next load brings back the check-in (a read-only mirror); the church's edits and its
    # deletion of the phone stay, for the push to send (two-way sync: PCO did not change them
    # since the two sides agreed); the ghost is one PCO has never heard of.
    _full_load(engine)
    after = reconcile(engine)
    assert [e.entity for e in after.entities.values() if not e.in_sync] == [
        "people", "person_phones", "families", "group_memberships"]
    assert after.entities["person_phones"].missing_examples == ["21"]
    assert after.entities["people"].extra_examples == ["777"]
    assert after.entities["people"].field_differences == {"last_name": 1}
    assert after.entities["families"].difference_examples == [FieldDifference("h1", "city", "Elk", "Nowhere")]
    assert after.entities["group_memberships"].field_differences == {"leader_type": 1}


@pytest.mark.parametrize("entity", ["people", "families"])
def test_records_pco_removed_but_still_active_locally_are_extra(engine, entity):
    _small_church(engine)
    _full_load(engine)
    if entity == "people":
        land(engine, "people/people", [person("2", "Kid", "Lee", child=True, grade=2, birthdate="2016-04-04")],
             listing=True)
    else:
        land(engine, "people/households", [], listing=True)
    report = reconcile(engine)
    assert report.entities[entity].extra_locally == 1
    _full_load(engine)
    assert reconcile(engine).entities[entity].in_sync

"""Calendar instances → events; check-in locations; the read-only mirror of PCO check-ins."""

from pco_pipeline.sync.load_checkins import load_checkins, load_events
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.reconcile import reconcile
from pco_pipeline_tests.sync.pco_docs import (
    attendance_type, calendar_event, checkin, checkin_event, event_instance, event_time, execute, headcount, land,
    location, person, rows, scalar)


def test_calendar_instances_become_events_named_by_their_calendar_event(engine):
    land(engine, "calendar/events", [calendar_event("ce1", "Sunday Service", summary="Worship and teaching")])
    land(engine, "calendar/event_instances", [
        event_instance("i1", "ce1", "2024-03-03T16:00:00Z", "2024-03-03T17:30:00Z", location="Main hall"),
        event_instance("i2", "ce1", "2024-03-10T16:00:00Z", "2024-03-10T17:30:00Z"),
        event_instance("i3", "ce404", "2024-03-10T16:00:00Z", "2024-03-10T17:30:00Z")])
    report = load_events(engine)
    assert (report["events"].created, report["events"].quarantined) == (2, 1)
    assert [tuple(r) for r in rows(engine, "SELECT pco_id, name, description, starts_at::text, location, source"
                                           " FROM events ORDER BY pco_id")] == [
        ("i1", "Sunday Service", "Worship and teaching", "2024-03-03 16:00:00+00", "Main hall", "calendar"),
        ("i2", "Sunday Service", "Worship and teaching", "2024-03-10 16:00:00+00", None, "calendar")]
    assert "calendar event ce404" in scalar(engine, "SELECT reason FROM sync_quarantine WHERE record_key = 'i3'")
    land(engine, "calendar/events", [calendar_event("ce1", "Sunday Worship")])
    report = load_events(engine)
    assert report["events"].updated == 2 and report["events"].quarantined == 1


def _checkins_setup(engine):
    land(engine, "people/people", [person("1", "Kid", "Lee", child=True)])
    load_people(engine)
    land(engine, "check-ins/locations", [location("f1", "Kids", kind="Folder"),
                                         location("l1", "Room 1", parent="f1", age_min=24, age_max=48,
                                                  max_occupancy=12)])
    land(engine, "check-ins/check_ins", [
        checkin("c1", person_id="1", event_id="e1", location_ids=["l1"], checked_out_at="2024-03-03T16:10:00Z"),
        checkin("c2", person_id=None, event_id="e1", location_ids=["l1"], first_name="Guest", kind="Guest")],
        included=[checkin_event("e1", "Sunday Kids")], advance_cursor=True)


def test_checkins_are_mirrored_with_their_event_location_and_person(engine):
    _checkins_setup(engine)
    report = load_checkins(engine)
    assert report["checkins"].created == 2 and report["locations"].created == 2
    assert report["checkin_events"].created == 1
    assert [tuple(r) for r in rows(engine, "SELECT pco_id, name, kind, parent_id IS NOT NULL, age_min_months, capacity"
                                           " FROM locations ORDER BY pco_id")] == [
        ("f1", "Kids", "folder", False, None, None), ("l1", "Room 1", "room", True, 24, 12)]
    mirrored = rows(engine, "SELECT c.pco_id, p.pco_id AS person, e.name AS event, l.name AS room, c.first_name,"
                            " c.kind, c.source, c.checked_in_at::text, c.checked_out_at::text FROM checkins c"
                            " LEFT JOIN people p ON p.id = c.person_id JOIN events e ON e.id = c.event_id"
                            " JOIN locations l ON l.id = c.location_id ORDER BY c.pco_id")
    assert [tuple(r) for r in mirrored] == [
        ("c1", "1", "Sunday Kids", "Room 1", "Kid", "Regular", "pco", "2024-03-03 15:00:00+00", "2024-03-03 16:10:00+00"),
        ("c2", None, "Sunday Kids", "Room 1", "Guest", "Guest", "pco", "2024-03-03 15:00:00+00", None)]
    assert scalar(engine, "SELECT pco_id FROM events") == "check-ins:e1"
    again = load_checkins(engine)
    assert all(counts.writes == 0 for counts in again.values())


def test_local_checkins_are_never_touched(engine):
    _checkins_setup(engine)
    kid = scalar(engine, "SELECT id FROM people WHERE pco_id = '1'")
    execute(engine, "INSERT INTO checkins (person_id, first_name, kind, checked_in_at, source)"
                    " VALUES (:k, 'Kid', 'Regular', '2024-03-03T15:00:00Z', 'local')", k=kid)
    before = rows(engine, "SELECT *, xmin::text FROM checkins WHERE source = 'local'")
    load_checkins(engine)
    land(engine, "check-ins/check_ins", [checkin("c2", person_id=None, event_id="e1", location_ids=["l1"])],
         listing=True)
    report = load_checkins(engine)
    assert report["checkins"].deactivated == 1  # c1 left PCO: its mirror goes
    assert rows(engine, "SELECT *, xmin::text FROM checkins WHERE source = 'local'") == before
    assert rows(engine, "SELECT pco_id FROM checkins WHERE source = 'pco'") == [("c2",)]


def test_a_checkin_of_someone_not_loaded_waits_in_quarantine(engine):
    _checkins_setup(engine)
    land(engine, "check-ins/check_ins", [checkin("c3", person_id="2", event_id="e1", location_ids=["l1"])])
    report = load_checkins(engine)
    assert report["checkins"].quarantined == 1
    assert scalar(engine, "SELECT reason FROM sync_quarantine WHERE record_key = 'c3'") == (
        "PCO check-in c3 refers to person 2, not in the church database")
    land(engine, "people/people", [person("2", "New", "Kid")])
    load_people(engine)
    assert load_checkins(engine)["checkins"].created == 1
    assert scalar(engine, "SELECT count(*) FROM sync_quarantine WHERE resolved_at IS NULL") == 0


def test_a_location_pco_removed_keeps_its_row_for_local_checkins(engine):
    _checkins_setup(engine)
    load_checkins(engine)
    land(engine, "check-ins/locations", [location("f1", "Kids", kind="Folder")], listing=True)
    report = load_checkins(engine)
    assert report["locations"].deactivated == 1
    assert scalar(engine, "SELECT pco_removed_at IS NOT NULL FROM locations WHERE pco_id = 'l1'") is True


def test_service_times_and_their_headcounts_are_mirrored_and_add_up_per_service(engine):
    _checkins_setup(engine)
    land(engine, "check-ins/event_times", [
        event_time("t1", "e1", "2024-03-03T15:00:00Z", name="First Service", regular=1, guest=1),
        event_time("t2", "e1", "2024-03-03T16:45:00Z", name="Second Service")], listing=True)
    land(engine, "check-ins/check_ins", [
        checkin("c1", person_id="1", event_id="e1", location_ids=["l1"], event_time_ids=["t1"]),
        checkin("c2", person_id=None, event_id="e1", location_ids=["l1"], event_time_ids=["t1"], kind="Guest")])
    land(engine, "check-ins/headcounts", [headcount("h1", "t1", "a1", 80), headcount("h2", "t2", "a1", 95),
                                          headcount("h3", "t2", "a2", 12), headcount("h4", "t404", "a1", 3),
                                          headcount("h5", "t2", "a1", "lots")],
         included=[attendance_type("a1", "Adults"), attendance_type("a2", "Overflow")], advance_cursor=True)
    report = load_checkins(engine)
    assert (report["event_times"].created, report["headcounts"].created, report["headcounts"].quarantined) == (2, 3, 2)
    assert [tuple(r) for r in rows(engine, "SELECT event, service, starts_at::text, checked_in, counted, attendance"
                                           " FROM service_attendance ORDER BY starts_at")] == [
        ("Sunday Kids", "First Service", "2024-03-03 15:00:00+00", 2, 80, 82),
        ("Sunday Kids", "Second Service", "2024-03-03 16:45:00+00", 0, 107, 107)]
    assert [tuple(r) for r in rows(engine, "SELECT h.pco_id, h.attendance_type, h.total, t.pco_id FROM headcounts h"
                                           " JOIN event_times t ON t.id = h.event_time_id ORDER BY h.pco_id")] == [
        ("h1", "Adults", 80, "t1"), ("h2", "Adults", 95, "t2"), ("h3", "Overflow", 12, "t2")]
    assert "event time t404" in scalar(engine, "SELECT reason FROM sync_quarantine WHERE record_key = 'h4'")
    assert "total" in scalar(engine, "SELECT reason FROM sync_quarantine WHERE record_key = 'h5'")
    assert reconcile(engine).in_sync, reconcile(engine).table()

    land(engine, "check-ins/headcounts", [headcount("h1", "t1", "a1", 81)], listing=True)
    land(engine, "check-ins/event_times", [event_time("t1", "e1", "2024-03-03T15:00:00Z", name="First Service",
                                                      regular=1, guest=1)], listing=True)
    again = load_checkins(engine)
    assert (again["headcounts"].updated, again["headcounts"].deactivated, again["event_times"].deactivated) == (1, 2, 1)
    assert scalar(engine, "SELECT pco_removed_at IS NOT NULL FROM event_times WHERE pco_id = 't2'") is True
    assert rows(engine, "SELECT service, counted FROM service_attendance") == [("First Service", 81)]

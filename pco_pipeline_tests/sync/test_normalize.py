"""Normalization: what the church database stores for each messy PCO value."""

from datetime import date, datetime, timezone

import pytest

from pco_pipeline.sync import normalize as n


@pytest.mark.parametrize("raw, expected", [
    ("  Ann.Lee@Example.ORG ", "ann.lee@example.org"),
    ("STRASSE@example.de", "strasse@example.de"),
    ("Straße@example.de", "strasse@example.de"),  # case-folding, not just lower-casing
    ("", None), ("   ", None), (None, None),
])
def test_emails_are_trimmed_and_case_folded(raw, expected):
    assert n.normalize_email(raw) == expected


@pytest.mark.parametrize("number, region, e164", [
    ("(555) 841-1105", "US", "+15558411105"),      # an unassigned area code PCO itself stores
    ("714.264.3144", "US", "+17142643144"),
    ("+1 714-264-3144", "US", "+17142643144"),
    ("(714) 264-3144 x12", "US", "+17142643144"),  # the extension is not part of E.164
    ("020 7946 0958", "GB", "+442079460958"),
    ("+44 20 7946 0958", "US", "+442079460958"),   # an explicit country code wins over the region
])
def test_phones_become_e164(number, region, e164):
    assert n.normalize_phone(number, region) == n.PhoneNormalization(e164)


def test_phone_region_defaults_to_us():
    assert n.normalize_phone("714 264 3144").e164 == "+17142643144"


@pytest.mark.parametrize("number, reason", [
    ("555-0100", "local number without area code"),
    ("12", "too short"),
    ("call me maybe", "not a phone number"),
    ("", "no number"),
    (None, "no number"),
])
def test_unusable_phones_have_no_e164_and_say_why(number, reason):
    result = n.normalize_phone(number, "US")
    assert result.e164 is None
    assert reason in result.reason


def test_phone_record_uses_its_own_country_code_before_the_default_region():
    record = n.normalize_phone_record({"number": "020 7946 0958", "country_code": "GB"}, "US")
    assert record["e164"] == "+442079460958"
    fallback = n.normalize_phone_record({"number": "020 7946 0958", "country_code": None}, "GB")
    assert fallback["e164"] == "+442079460958"


def test_phone_record_keeps_an_unusable_number_with_the_reason():
    record = n.normalize_phone_record({"number": "555-0100", "primary": True}, "US")
    assert (record["number"], record["e164"], record["problems"]) == ("555-0100", None, [])
    assert record["e164_problem"] == "local number without area code"


def test_dates_and_timestamps():
    assert n.parse_date("2003-02-09") == date(2003, 2, 9)
    assert n.parse_date(None) is None and n.parse_date(" ") is None
    assert n.parse_timestamp("2024-01-06T22:43:30Z") == datetime(2024, 1, 6, 22, 43, 30, tzinfo=timezone.utc)
    assert n.parse_timestamp("2024-01-06T14:43:30-08:00") == datetime(2024, 1, 6, 22, 43, 30, tzinfo=timezone.utc)
    for bad in ("2003-02-30", "02/09/2003", "20030209", "soon"):
        with pytest.raises(n.InvalidValue, match="birthdate"):
            n.parse_date(bad, "birthdate")
    with pytest.raises(n.InvalidValue, match="not an ISO 8601"):
        n.parse_timestamp("yesterday")


@pytest.mark.parametrize("raw, expected", [(None, None), ("", None), (-1, -1), (12, 12), ("5", 5), (3.0, 3)])
def test_grades_are_coerced(raw, expected):
    assert n.parse_grade(raw) == expected


@pytest.mark.parametrize("raw", [13, -2, "fifth", 2.5, True])
def test_impossible_grades_are_invalid(raw):
    with pytest.raises(n.InvalidValue, match="grade"):
        n.parse_grade(raw)


@pytest.mark.parametrize("schedule, day", [
    ("Tuesdays at 7pm", "tuesday"), ("Every Sun 9am", "sunday"), ("weekly on Wednesday", "wednesday"),
    ("Mon and Thu", None), ("Twice a month", None), (None, None), ("Monsoon season", None),
])
def test_meeting_day_is_read_from_a_schedule_naming_exactly_one_day(schedule, day):
    assert n.meeting_day(schedule) == day


def test_person_is_trimmed_and_typed():
    record = n.normalize_person({"first_name": "  Ann ", "last_name": "Lee", "nickname": " ", "birthdate": "2010-04-01",
                                 "child": True, "grade": "4", "status": "Active", "gender": "Female",
                                 "membership": None})
    assert record == {"first_name": "Ann", "last_name": "Lee", "nickname": None, "middle_name": None,
                      "gender": "Female", "birthdate": "2010-04-01", "child": True, "grade": 4, "status": "active",
                      "membership": None, "problems": []}


def test_person_with_unstorable_values_lists_every_problem():
    record = n.normalize_person({"first_name": "Ann", "last_name": "Lee", "birthdate": "2010-13-01", "grade": 14,
                                 "status": "archived"})
    assert len(record["problems"]) == 3
    assert any("birthdate '2010-13-01'" in p for p in record["problems"])
    assert any("grade 14" in p for p in record["problems"])
    assert any("status 'archived'" in p for p in record["problems"])


def test_email_record_keeps_the_address_and_its_key():
    assert n.normalize_email_record({"address": " Ann@Example.org", "location": "Home", "primary": True}) == {
        "address": "Ann@Example.org", "address_normalized": "ann@example.org", "location": "Home",
        "is_primary": True, "problems": []}
    assert n.normalize_email_record({"address": ""})["problems"] == ["email address is blank"]


def test_address_accepts_both_api_shapes():
    old = n.normalize_address_record({"street": "123 Ride Way", "city": "Elk", "primary": True})
    new = n.normalize_address_record({"street_line_1": "123 Ride Way", "street_line_2": "Apt 2", "city": "Elk"})
    assert old["street_line_1"] == new["street_line_1"] == "123 Ride Way"
    assert new["street_line_2"] == "Apt 2"


def test_membership_roles_map_to_leader_types():
    assert n.normalize_membership({"role": "leader"})["leader_type"] == "leader"
    assert n.normalize_membership({"role": "member"})["leader_type"] == "member"
    assert n.normalize_membership({"role": "visitor"})["problems"]


def test_location_kind_and_limits():
    assert n.normalize_location({"name": "Kids", "kind": "Folder"})["kind"] == "folder"
    assert n.normalize_location({"name": "Room 1", "kind": "Location"})["kind"] == "room"
    assert n.normalize_location({"name": "Room 1", "max_occupancy": -3})["problems"]


def test_event_instance_that_ends_before_it_starts_is_invalid():
    record = n.normalize_event_instance({"starts_at": "2024-03-03T15:00:00Z", "ends_at": "2024-03-03T14:00:00Z"})
    assert record["problems"] == ["ends_at 2024-03-03T14:00:00+00:00 is before starts_at 2024-03-03T15:00:00+00:00"]


def test_checkin_needs_its_time():
    assert n.normalize_checkin({"created_at": None})["problems"]
    assert n.normalize_checkin({"created_at": "2024-03-03T15:00:00Z"})["checked_in_at"] == "2024-03-03T15:00:00+00:00"

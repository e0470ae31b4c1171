"""Landing: pages into pco_landing with their cursor, children, listings and change detection."""

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import pco_pipeline
from pco_pipeline.pco.jsonapi import RecordError
from pco_pipeline.sync import landing, quarantine
from pco_pipeline.sync.catalog import RESOURCES, spec_for
from pco_pipeline_tests.sync.pco_docs import (
    checkin, checkin_event, email, group, land, location, membership, parse, person, phone, rows, scalar)

PEOPLE = spec_for("people/people")


def _utc(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_page_lands_raw_json_typed_columns_and_normalized_values(engine):
    result = land(engine, "people/people", [
        person("1", " Ann ", "Lee", birthdate="1990-05-01", updated_at="2024-02-01T10:00:00Z",
               emails=[email("Ann@Example.org", id="11")], phones=[phone("(714) 264-3144", id="21")])])
    assert result.counts["people/people"].inserted == 1
    assert result.counts["people/emails"].inserted == 1
    assert result.counts["people/phone_numbers"].inserted == 1
    row = rows(engine, "SELECT * FROM pco_landing WHERE resource = 'people/people'")[0]
    assert row.pco_id == "1" and row.pco_updated_at == _utc("2024-02-01T10:00:00Z")
    assert row.attributes["first_name"] == " Ann "          # raw, as PCO sent it
    assert row.normalized["first_name"] == "Ann"            # cleaned for the load
    assert row.relationships["emails"] == ["11"]
    mail = rows(engine, "SELECT parent_pco_id, normalized FROM pco_landing WHERE resource = 'people/emails'")[0]
    assert mail.parent_pco_id == "1" and mail.normalized["address_normalized"] == "ann@example.org"
    tel = rows(engine, "SELECT normalized FROM pco_landing WHERE resource = 'people/phone_numbers'")[0]
    assert tel.normalized["e164"] == "+17142643144"


def test_rereading_an_unchanged_record_is_not_a_change(engine):
    page = [person("1", "Ann", "Lee", emails=[email("a@example.org", id="11")])]
    land(engine, "people/people", page)
    changed_at = scalar(engine, "SELECT changed_at FROM pco_landing WHERE pco_id = '1'")
    again = land(engine, "people/people", page)
    assert again.counts["people/people"].unchanged == 1 and again.counts["people/people"].changed == 0
    assert again.counts["people/emails"].unchanged == 1
    assert scalar(engine, "SELECT changed_at FROM pco_landing WHERE pco_id = '1'") == changed_at


def test_different_json_at_the_same_updated_at_is_a_change(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee")])
    result = land(engine, "people/people", [person("1", "Ann", "Lee", medical_notes="peanuts")])
    assert result.counts["people/people"].changed == 1
    assert scalar(engine, "SELECT attributes->>'medical_notes' FROM pco_landing WHERE pco_id = '1'") == "peanuts"


def test_an_older_version_never_replaces_a_newer_one(engine):
    land(engine, "people/people", [person("1", "Ann", "Newer", updated_at="2024-05-01T00:00:00Z")])
    result = land(engine, "people/people", [person("1", "Ann", "Older", updated_at="2024-04-01T00:00:00Z")])
    assert result.counts["people/people"].unchanged == 1
    assert scalar(engine, "SELECT attributes->>'last_name' FROM pco_landing WHERE pco_id = '1'") == "Newer"


def test_children_the_parent_no_longer_names_are_removed(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee", emails=[email("a@example.org", id="11"),
                                                                     email("b@example.org", id="12")])])
    result = land(engine, "people/people", [person("1", "Ann", "Lee", updated_at="2024-03-01T00:00:00Z",
                                                   emails=[email("a@example.org", id="11")])])
    assert result.counts["people/emails"].removed == 1
    assert rows(engine, "SELECT pco_id, removed_at IS NOT NULL AS gone FROM pco_landing"
                        " WHERE resource = 'people/emails' ORDER BY pco_id") == [("11", False), ("12", True)]


def test_a_child_named_but_not_yet_included_is_kept(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee", emails=[email("a@example.org", id="11")])])
    lagging = person("1", "Ann", "Lee", emails=[email("a@example.org", id="11")])
    lagging["_included"] = []  # PCO's `included` can lag its relationships right after a write
    land(engine, "people/people", [lagging])
    assert scalar(engine, "SELECT removed_at FROM pco_landing WHERE resource = 'people/emails'") is None


def test_children_are_untouched_when_the_page_did_not_ask_for_them(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee", emails=[email("a@example.org", id="11")])])
    land(engine, "people/people", [person("1", "Ann", "Lee", with_contacts=False)])
    assert scalar(engine, "SELECT removed_at FROM pco_landing WHERE resource = 'people/emails'") is None


def test_sideloaded_records_land_under_their_own_resource(engine):
    land(engine, "check-ins/check_ins",
         [checkin("c1", person_id="1", event_id="e1", location_ids=["l1"])],
         included=[checkin_event("e1", "Sunday Kids"), location("l1", "Room 1")])
    assert rows(engine, "SELECT resource, pco_id FROM pco_landing ORDER BY resource") == [
        ("check-ins/check_ins", "c1"), ("check-ins/events", "e1"), ("check-ins/locations", "l1")]


# --- cursor ---------------------------------------------------------------------------------

def test_cursor_moves_to_the_newest_record_with_the_ids_at_that_second(engine):
    result = land(engine, "people/people", [
        person("1", "A", "A", updated_at="2024-01-01T00:00:05Z"),
        person("2", "B", "B", updated_at="2024-01-01T00:00:07Z"),
        person("3", "C", "C", updated_at="2024-01-01T00:00:07Z")], advance_cursor=True)
    cursor = landing.read_cursor(engine, "people/people")
    assert cursor.value == _utc("2024-01-01T00:00:07Z") and cursor.ids_at_value == {"2", "3"}
    assert result.cursor_before == landing.Cursor("people/people") and result.cursor_after == cursor


def test_ties_at_the_cursor_second_accumulate_across_pages(engine):
    land(engine, "people/people", [person("1", "A", "A", updated_at="2024-01-01T00:00:07Z")], advance_cursor=True)
    land(engine, "people/people", [person("2", "B", "B", updated_at="2024-01-01T00:00:07Z")], advance_cursor=True)
    cursor = landing.read_cursor(engine, "people/people")
    assert cursor.ids_at_value == {"1", "2"}
    # A record re-read from the overlap (older than the cursor) never moves it back.
    land(engine, "people/people", [person("0", "Z", "Z", updated_at="2024-01-01T00:00:06Z")], advance_cursor=True)
    assert landing.read_cursor(engine, "people/people") == cursor
    # The next read starts inside the cursor's second: same-second records are re-read, not skipped.
    params = landing.first_page_params(PEOPLE, cursor, overlap=timedelta(seconds=2))
    assert params["where[updated_at][gte]"] == "2024-01-01T00:00:05Z"
    assert params["order"] == "updated_at"
    assert params["include"] == "emails,phone_numbers,addresses"
    # Keyset paging steps over the ids it already has at the cursor second.
    keyset = landing.keyset_params(PEOPLE, cursor)
    assert (keyset["where[updated_at][gte]"], keyset["offset"]) == ("2024-01-01T00:00:07Z", "2")


def test_an_overlapping_reread_counts_as_unchanged(engine):
    page = [person("1", "A", "A", updated_at="2024-01-01T00:00:07Z")]
    land(engine, "people/people", page, advance_cursor=True)
    again = land(engine, "people/people", page, advance_cursor=True)
    assert again.counts["people/people"].unchanged == 1
    assert again.cursor_before == again.cursor_after


def test_first_page_params_without_cursor_or_with_full_refresh_read_everything(engine):
    assert "where[updated_at][gte]" not in landing.first_page_params(PEOPLE, None)
    cursor = landing.Cursor("people/people", _utc("2024-01-01T00:00:07Z"), frozenset({"1"}))
    assert "where[updated_at][gte]" not in landing.first_page_params(PEOPLE, cursor, full_refresh=True)
    groups = landing.first_page_params(spec_for("groups/groups"), None)
    assert "order" not in groups and groups["where[archive_status]"] == "include"
    mergers = landing.first_page_params(spec_for("people/person_mergers"), cursor)
    assert mergers["order"] == "created_at" and "where[created_at][gte]" in mergers


def test_a_crash_inside_the_page_commits_neither_rows_nor_cursor(engine):
    records = parse([person("1", "A", "A", updated_at="2024-01-01T00:00:07Z")])
    with pytest.raises(RuntimeError, match="crash"):
        with engine.begin() as conn:
            landing.land_records(conn, PEOPLE, records, advance_cursor=True)
            raise RuntimeError("crash after the rows, before the commit")
    assert scalar(engine, "SELECT count(*) FROM pco_landing") == 0
    assert landing.read_cursor(engine, "people/people").value is None


def test_a_failing_cursor_write_rolls_the_rows_back(engine, monkeypatch):
    def fail(conn, cursor):
        raise ConnectionError("database went away while writing the cursor")
    monkeypatch.setattr(landing, "_write_cursor", fail)
    with pytest.raises(ConnectionError):
        land(engine, "people/people", [person("1", "A", "A")], advance_cursor=True)
    assert scalar(engine, "SELECT count(*) FROM pco_landing") == 0


def test_cursor_needs_a_cursor_attribute(engine):
    with pytest.raises(ValueError, match="complete listing"):
        land(engine, "groups/groups", [group("g1", "Youth", None)], advance_cursor=True)


def test_every_catalog_resource_has_a_distinct_name_and_a_known_child_spec():
    for spec in RESOURCES.values():
        for target in (*spec.children.values(), *spec.sideloads.values()):
            assert target in RESOURCES, (spec.name, target)
    assert landing.first_page_params(spec_for("groups/memberships"), None)["per_page"] == "100"


# --- complete listings ----------------------------------------------------------------------

def test_a_complete_listing_removes_what_it_did_not_see(engine):
    land(engine, "groups/groups", [group("g1", "Youth", None), group("g2", "Men", None)])
    listing = landing.start_listing(engine, "groups/groups")
    land(engine, "groups/groups", [group("g1", "Youth", None)])
    outcome = landing.finish_listing(engine, listing)
    assert outcome == landing.ListingOutcome(seen=1, removed=1)
    assert rows(engine, "SELECT pco_id FROM pco_landing WHERE removed_at IS NOT NULL") == [("g2",)]
    # Back in PCO: restored, and that is a change.
    back = land(engine, "groups/groups", [group("g2", "Men", None)])
    assert back.counts["groups/groups"].changed == 1
    assert scalar(engine, "SELECT count(*) FROM pco_landing WHERE removed_at IS NOT NULL") == 0


def test_an_unfinished_listing_removes_nothing(engine):
    land(engine, "groups/groups", [group("g1", "Youth", None), group("g2", "Men", None)])
    landing.start_listing(engine, "groups/groups")
    land(engine, "groups/groups", [group("g1", "Youth", None)])
    # …the run dies here; the next complete listing starts afresh.
    assert scalar(engine, "SELECT count(*) FROM pco_landing WHERE removed_at IS NOT NULL") == 0


def test_a_listing_that_would_empty_a_resource_is_refused(engine):
    land(engine, "groups/groups", [group(f"g{i}", f"Group {i}", None) for i in range(30)])
    listing = landing.start_listing(engine, "groups/groups")
    land(engine, "groups/groups", [group("g1", "Group 1", None)])
    with pytest.raises(landing.ListingGuardError, match="would remove 29 of 30"):
        landing.finish_listing(engine, listing)
    assert scalar(engine, "SELECT count(*) FROM pco_landing WHERE removed_at IS NOT NULL") == 0
    assert landing.finish_listing(engine, listing, max_removed_fraction=1.0).removed == 29


def test_removing_a_person_in_a_listing_removes_their_contacts(engine):
    land(engine, "people/people", [person("1", "A", "A", emails=[email("a@example.org", id="11")]),
                                   person("2", "B", "B")])
    listing = landing.start_listing(engine, "people/people")
    land(engine, "people/people", [person("2", "B", "B")])
    landing.finish_listing(engine, listing, max_removed_fraction=1.0)
    assert rows(engine, "SELECT resource, pco_id FROM pco_landing WHERE removed_at IS NOT NULL ORDER BY 1") == [
        ("people/emails", "11"), ("people/people", "1")]


def test_unreadable_records_are_quarantined_and_resolved_once_they_land(engine):
    with engine.begin() as conn:
        quarantine.quarantine_unreadable(conn, "people/people", [
            RecordError("attributes of Person 7 are not an object", {"type": "Person", "id": "7", "attributes": []}),
            RecordError("resource has no type or no id", {"attributes": {}})])
        assert quarantine.open_counts(conn) == {"people/people": 2}
    land(engine, "people/people", [person("7", "Fixed", "Now")])
    with engine.connect() as conn:
        remaining = quarantine.open_records(conn, "people/people")
    assert [r.record_key[:7] for r in remaining] == ["sha256:"]


def test_landing_rejects_records_of_another_type(engine):
    with pytest.raises(ValueError, match="lands Person records, got Group"):
        land(engine, "people/people", [group("g1", "Youth", None)])


def test_cursor_timestamps_are_kept_to_the_second(engine):
    stamp = datetime(2031, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    land(engine, "people/people", [person("1", "A", "A", updated_at="2031-12-31T23:59:59Z")], advance_cursor=True)
    assert landing.read_cursor(engine, "people/people").value == stamp


def test_nul_characters_pco_sometimes_sends_do_not_break_the_page(engine):
    result = land(engine, "people/people", [person("1", "Ann\x00", "Lee", medical_notes="a\x00b")])
    assert result.counts["people/people"].inserted == 1
    assert scalar(engine, "SELECT attributes->>'medical_notes' FROM pco_landing WHERE pco_id = '1'") == "ab"


# --- the one writer ---------------------------------------------------------------------------

_WRITES = re.compile(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+(pco_landing|pco_listing|sync_cursor)\b",
                     re.IGNORECASE)


def test_only_the_landing_module_writes_the_landing_tables():
    """`sync/landing.py` is the one writer of pco_landing, its listings and cursors (DESIGN §2):
    a second writer would have its own idea of what removing or landing a record means."""
    package = Path(pco_pipeline.__file__).parent
    writers = sorted(f"{path.relative_to(package)}: {match.group(0)}"
                     for path in package.rglob("*.py") if path != package / "sync" / "landing.py"
                     for match in _WRITES.finditer(path.read_text(encoding="utf-8")))
    assert not writers, "pco_landing, pco_listing and sync_cursor are written only by sync/landing.py:\n" + \
        "\n".join(writers)


def test_a_tombstone_removes_a_landed_record_and_lands_an_unknown_one_as_removed(engine):
    land(engine, "groups/memberships", [membership("m1", "g1", "1")], parent_pco_id="g1")
    with engine.begin() as conn:
        removed = landing.tombstone(conn, "groups/memberships", ["m1", "m2"], parent_pco_id="g1")
        again = landing.tombstone(conn, "groups/memberships", ["m1", "m2"], parent_pco_id="g1")
    assert sorted(removed) == ["m1", "m2"] and again == []  # already removed: left as it is
    assert rows(engine, "SELECT pco_id, parent_pco_id, attributes->>'role', removed_at IS NOT NULL FROM pco_landing"
                        " ORDER BY pco_id") == [("m1", "g1", "member", True), ("m2", "g1", None, True)]


def test_a_tombstone_since_a_moment_spares_a_record_landed_after_it(engine):
    land(engine, "groups/groups", [group("g1", "Youth", None)])
    before = scalar(engine, "SELECT min(last_seen_at) FROM pco_landing") - timedelta(seconds=1)
    with engine.begin() as conn:
        assert landing.tombstone(conn, "groups/groups", ["g1"], unseen_since=before) == []
    assert scalar(engine, "SELECT count(*) FROM pco_landing WHERE removed_at IS NOT NULL") == 0

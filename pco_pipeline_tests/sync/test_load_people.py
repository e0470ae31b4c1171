"""Loading people: ownership rules, idempotence, removals, merges, contacts, quarantine."""

from pco_pipeline.sync import landing
from pco_pipeline.sync.load_people import load_people
from pco_pipeline_tests.sync.pco_docs import (
    email, execute, land, local_person, person, person_merger, phone, rows, scalar)


def _church_fields(engine, person_id):
    return tuple(rows(engine, "SELECT allergies, photo_url, is_verified FROM people WHERE id = :i", i=person_id)[0])


def _counts(result, entity="people"):
    return result.counts[entity].as_dict()


def test_church_owned_fields_survive_linking_and_every_update(engine):
    local = local_person(engine, "Ann", "Lee", emails=["ann@example.org"], allergies="peanuts",
                         photo_url="https://church.example/ann.jpg", is_verified=True)
    land(engine, "people/people", [person("1", "Ann", "Lee", emails=[email("ann@example.org")])])
    load_people(engine)
    land(engine, "people/people", [person("1", "Annie", "Lee-Ray", updated_at="2024-06-01T00:00:00Z",
                                          birthdate="1990-01-01", grade=None, status="inactive",
                                          emails=[email("ann@example.org")])])
    result = load_people(engine)
    assert _counts(result)["updated"] == 1
    assert _church_fields(engine, local) == ("peanuts", "https://church.example/ann.jpg", True)
    assert tuple(rows(engine, "SELECT first_name, last_name, birthdate::text, status FROM people WHERE id = :i",
                      i=local)[0]) == ("Annie", "Lee-Ray", "1990-01-01", "inactive")


def test_a_rerun_with_nothing_changed_writes_nothing(engine):
    local_person(engine, "Ann", "Lee", emails=["ann@example.org"], phones=["714 264 3144"])
    land(engine, "people/people", [
        person("1", "Ann", "Lee", emails=[email("ann@example.org")], phones=[phone("(714) 264-3144")]),
        person("2", "Bob", "Ray", birthdate="1980-02-02", emails=[email("bob@example.org")])])
    first = load_people(engine)
    assert (first.counts["people"].updated, first.counts["people"].created) == (1, 1)  # Ann linked, Bob new
    assert first.counts["person_emails"].as_dict()["created"] == 1  # Ann's adopted, Bob's new
    snapshot = rows(engine, "SELECT 'p', id, xmin::text FROM people UNION ALL SELECT 'e', id, xmin::text"
                            " FROM person_emails UNION ALL SELECT 'ph', id, xmin::text FROM person_phones ORDER BY 1, 2")
    again = load_people(engine)
    for entity in ("people", "person_emails", "person_phones"):
        assert again.counts[entity].writes == 0, entity
    assert again.counts["people"].unchanged == 2
    assert rows(engine, "SELECT 'p', id, xmin::text FROM people UNION ALL SELECT 'e', id, xmin::text"
                        " FROM person_emails UNION ALL SELECT 'ph', id, xmin::text FROM person_phones ORDER BY 1, 2"
                        ) == snapshot


def test_the_stored_pco_updated_at_guards_against_older_data(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee", updated_at="2024-05-01T00:00:00Z")])
    load_people(engine)
    # Someone (a webhook run) already wrote a newer version of this person.
    execute(engine, "UPDATE people SET last_name = 'Newer', pco_updated_at = '2024-06-01T00:00:00Z'")
    assert load_people(engine).counts["people"].updated == 0
    assert scalar(engine, "SELECT last_name FROM people") == "Newer"


def test_people_pco_removed_become_inactive_and_come_back(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee"), person("2", "Bob", "Ray")])
    load_people(engine)
    land(engine, "people/people", [person("2", "Bob", "Ray")], listing=True)
    result = load_people(engine)
    assert result.counts["people"].deactivated == 1
    assert rows(engine, "SELECT pco_id, is_active FROM people ORDER BY pco_id") == [("1", False), ("2", True)]
    assert load_people(engine).counts["people"].writes == 0
    land(engine, "people/people", [person("1", "Ann", "Lee")])
    assert load_people(engine).counts["people"].updated == 1
    assert scalar(engine, "SELECT is_active FROM people WHERE pco_id = '1'") is True


def test_a_merge_repoints_every_local_link_to_the_survivor(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee", emails=[email("ann@example.org", id="11")]),
                                   person("2", "Ann", "Lee-dup", emails=[email("ann2@example.org", id="12")]),
                                   person("3", "Kid", "Lee", birthdate="2015-01-01")])
    load_people(engine)
    keep, remove, kid = (scalar(engine, "SELECT id FROM people WHERE pco_id = :p", p=p) for p in "123")
    with engine.begin() as conn:
        import sqlalchemy as sa
        family = conn.execute(sa.text("INSERT INTO families (name) VALUES ('Lee') RETURNING id")).scalar()
        conn.execute(sa.text("INSERT INTO family_members (family_id, person_id, role) VALUES (:f, :k, 'head'),"
                             " (:f, :r, 'head')"), {"f": family, "k": keep, "r": remove})
        dept = conn.execute(sa.text("INSERT INTO church_group (level, name) VALUES (1, 'D') RETURNING id")).scalar()
        area = conn.execute(sa.text("INSERT INTO church_group (level, name, parent_id) VALUES (2, 'A', :d)"
                                    " RETURNING id"), {"d": dept}).scalar()
        grp = conn.execute(sa.text("INSERT INTO church_group (level, name, parent_id) VALUES (3, 'G', :a)"
                                   " RETURNING id"), {"a": area}).scalar()
        conn.execute(sa.text("INSERT INTO group_membership (group_id, person_id, leader_type) VALUES (:g, :r, 'leader')"),
                     {"g": grp, "r": remove})
        conn.execute(sa.text("INSERT INTO checkins (person_id, checked_in_at) VALUES (:r, now())"), {"r": remove})
        conn.execute(sa.text("INSERT INTO relationships (person_id, related_person_id, kind) VALUES"
                             " (:r, :kid, 'parent'), (:k, :kid, 'parent'), (:r, :k, 'spouse')"),
                     {"r": remove, "k": keep, "kid": kid})
        conn.execute(sa.text("INSERT INTO authorized_pickups (child_id, pickup_person_id) VALUES (:kid, :r)"),
                     {"kid": kid, "r": remove})
        conn.execute(sa.text("INSERT INTO person_phones (person_id, number) VALUES (:r, '555 0100')"), {"r": remove})

    land(engine, "people/person_mergers", [person_merger("m1", keep="1", remove="2")], advance_cursor=True)
    result = load_people(engine)
    assert result.merges_applied == 1
    assert result.counts["people"].deactivated == 1
    assert tuple(rows(engine, "SELECT is_active, merged_into_id FROM people WHERE id = :r", r=remove)[0]) == (False, keep)
    for table, column in (("family_members", "person_id"), ("group_membership", "person_id"),
                          ("checkins", "person_id"), ("person_phones", "person_id"),
                          ("authorized_pickups", "pickup_person_id"), ("relationships", "person_id"),
                          ("relationships", "related_person_id")):
        assert scalar(engine, f"SELECT count(*) FROM {table} WHERE {column} = :r", r=remove) == 0, table
    assert scalar(engine, "SELECT count(*) FROM family_members WHERE person_id = :k", k=keep) == 1
    assert scalar(engine, "SELECT leader_type FROM group_membership WHERE person_id = :k", k=keep) == "leader"
    assert scalar(engine, "SELECT count(*) FROM checkins WHERE person_id = :k", k=keep) == 1
    assert rows(engine, "SELECT person_id, related_person_id, kind FROM relationships") == [(keep, kid, "parent")]
    assert scalar(engine, "SELECT pickup_person_id FROM authorized_pickups") == keep
    assert scalar(engine, "SELECT count(*) FROM person_phones WHERE person_id = :k", k=keep) == 1
    # Applied once: the next run has nothing to do.
    again = load_people(engine)
    assert again.merges_applied == 0 and again.counts["people"].writes == 0


def test_merge_chains_go_to_the_final_survivor(engine):
    land(engine, "people/people", [person(p, "Ann", f"Lee{p}") for p in ("1", "2", "3")])
    load_people(engine)
    ids = {p: scalar(engine, "SELECT id FROM people WHERE pco_id = :p", p=p) for p in "123"}
    execute(engine, "INSERT INTO checkins (person_id, checked_in_at) VALUES (:a, now())", a=ids["1"])
    land(engine, "people/person_mergers", [person_merger("m1", keep="2", remove="1"),
                                           person_merger("m2", keep="3", remove="2")])
    assert load_people(engine).merges_applied == 2
    assert scalar(engine, "SELECT person_id FROM checkins") == ids["3"]
    assert rows(engine, "SELECT pco_id, is_active FROM people ORDER BY pco_id") == [
        ("1", False), ("2", False), ("3", True)]


def test_pco_owns_a_linked_persons_contacts_and_local_ones_are_adopted_not_duplicated(engine):
    local = local_person(engine, "Ann", "Lee", emails=["ANN@example.org", "church-only@example.org"],
                         phones=["(714) 264-3144"])
    land(engine, "people/people", [person("1", "Ann", "Lee",
                                          emails=[email("ann@example.org", id="11"), email("work@example.org", id="12",
                                                                                           primary=False)],
                                          phones=[phone("714.264.3144", id="21"), phone("555-0100", id="22")])])
    result = load_people(engine)
    assert result.counts["person_emails"].as_dict() == {"created": 1, "updated": 1, "unchanged": 0,
                                                        "quarantined": 0, "deactivated": 0}
    assert rows(engine, "SELECT pco_id, address, is_primary FROM person_emails WHERE person_id = :p ORDER BY id",
                p=local) == [("11", "ann@example.org", True), (None, "church-only@example.org", False),
                             ("12", "work@example.org", False)]
    assert rows(engine, "SELECT pco_id, number, e164 FROM person_phones WHERE person_id = :p ORDER BY id",
                p=local) == [("21", "714.264.3144", "+17142643144"), ("22", "555-0100", None)]
    # PCO drops the work email: the PCO-sourced copy goes, the church's own address stays.
    land(engine, "people/people", [person("1", "Ann", "Lee", updated_at="2024-07-01T00:00:00Z",
                                          emails=[email("ann@example.org", id="11")],
                                          phones=[phone("714.264.3144", id="21"), phone("555-0100", id="22")])])
    result = load_people(engine)
    assert result.counts["person_emails"].deactivated == 1
    assert [r.address for r in rows(engine, "SELECT address FROM person_emails ORDER BY id")] == [
        "ann@example.org", "church-only@example.org"]


def test_invalid_people_are_quarantined_and_load_once_fixed(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee", birthdate="1990-02-30", emails=[email("a@example.org")]),
                                   person("2", "Bob", "Ray")])
    result = load_people(engine)
    assert _counts(result) == {"created": 1, "updated": 0, "unchanged": 0, "quarantined": 1, "deactivated": 0}
    assert result.counts["person_emails"].quarantined == 1  # waits for its person
    (code, reason), = rows(engine, "SELECT reason_code, reason FROM sync_quarantine"
                                   " WHERE entity = 'people' AND resolved_at IS NULL")
    assert code == "invalid_data" and "birthdate '1990-02-30'" in reason
    # Still broken on the next run: still quarantined, seen twice, nothing loaded.
    load_people(engine)
    assert scalar(engine, "SELECT seen_count FROM sync_quarantine WHERE entity = 'people'") == 2
    land(engine, "people/people", [person("1", "Ann", "Lee", birthdate="1990-02-28", updated_at="2024-03-01T00:00:00Z",
                                          emails=[email("a@example.org")])])
    fixed = load_people(engine)
    assert fixed.counts["people"].created == 1 and fixed.counts["person_emails"].created == 1
    assert scalar(engine, "SELECT count(*) FROM sync_quarantine WHERE resolved_at IS NULL") == 0


def test_an_ambiguous_match_loads_once_staff_link_the_right_person(engine):
    first = local_person(engine, "Ann", "Lee", emails=["ann@example.org"])
    local_person(engine, "Ann", "Lee", emails=["ann@example.org"])
    land(engine, "people/people", [person("1", "Ann", "Lee", emails=[email("ann@example.org")])])
    assert load_people(engine).counts["people"].quarantined == 1
    execute(engine, "UPDATE people SET pco_id = '1' WHERE id = :i", i=first)
    result = load_people(engine)
    assert result.matches.by_pco_id == 1 and result.counts["people"].quarantined == 0
    assert scalar(engine, "SELECT resolved_at IS NOT NULL FROM sync_quarantine WHERE record_key = '1'") is True


def test_a_load_restricted_to_some_people_touches_only_them(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee"), person("2", "Bob", "Ray")])
    result = load_people(engine, pco_ids=["2"])
    assert result.counts["people"].created == 1
    assert rows(engine, "SELECT pco_id FROM people") == [("2",)]


def test_cursor_driven_reload_picks_up_only_the_changed_person(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee"), person("2", "Bob", "Ray")], advance_cursor=True)
    load_people(engine)
    cursor = landing.read_cursor(engine, "people/people")
    land(engine, "people/people", [person("2", "Bobby", "Ray", updated_at="2024-09-01T00:00:00Z")],
         advance_cursor=True)
    result = load_people(engine)
    assert _counts(result) == {"created": 0, "updated": 1, "unchanged": 1, "quarantined": 0, "deactivated": 0}
    advanced = landing.read_cursor(engine, "people/people").value
    assert advanced is not None and cursor.value is not None and advanced > cursor.value

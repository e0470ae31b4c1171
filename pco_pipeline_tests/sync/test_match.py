"""Each matching path: pco_id → email → name + birthdate → create; near-misses; ambiguity; claims."""

from pco_pipeline.sync.load_people import load_people
from pco_pipeline_tests.sync.pco_docs import email, land, local_person, person, person_merger, rows, scalar


def _linked_to(engine, pco_id):
    return scalar(engine, "SELECT id FROM people WHERE pco_id = :p", p=pco_id)


def _quarantine(engine, pco_id):
    return rows(engine, "SELECT reason_code, reason, details FROM sync_quarantine"
                        " WHERE entity = 'people' AND record_key = :p AND resolved_at IS NULL", p=pco_id)


def test_person_already_linked_by_pco_id_is_updated_in_place(engine):
    local = local_person(engine, "Ann", "Lee", pco_id="101")
    land(engine, "people/people", [person("101", "Anne", "Lee")])
    result = load_people(engine)
    assert result.matches.by_pco_id == 1
    assert _linked_to(engine, "101") == local
    assert scalar(engine, "SELECT first_name FROM people WHERE id = :i", i=local) == "Anne"
    assert scalar(engine, "SELECT count(*) FROM people") == 1


def test_email_matches_despite_case_and_whitespace(engine):
    local = local_person(engine, "Ann", "Lee", emails=["ann.lee@example.org"])
    land(engine, "people/people", [person("102", "Ann", "Leigh", emails=[email("  Ann.LEE@Example.ORG ")])])
    result = load_people(engine)
    assert result.matches.by_email == 1
    assert _linked_to(engine, "102") == local
    # PCO owns the name: the local person now carries PCO's spelling.
    assert scalar(engine, "SELECT last_name FROM people WHERE id = :i", i=local) == "Leigh"


def test_name_and_birthdate_match_case_insensitively(engine):
    local = local_person(engine, "ann", " LEE ", birthdate="1990-05-01")
    land(engine, "people/people", [person("103", "ANN", "Lee", birthdate="1990-05-01")])
    result = load_people(engine)
    assert result.matches.by_name_birthdate == 1
    assert _linked_to(engine, "103") == local


def test_unmatched_person_is_created(engine):
    land(engine, "people/people", [person("104", "New", "Comer", birthdate="2001-02-03")])
    result = load_people(engine)
    assert result.matches.to_create == 1
    assert result.counts["people"].created == 1
    row = rows(engine, "SELECT first_name, last_name, birthdate::text, is_active FROM people WHERE pco_id = '104'")[0]
    assert tuple(row) == ("New", "Comer", "2001-02-03", True)


def test_same_name_with_different_birthdate_is_not_a_match(engine):
    local = local_person(engine, "Ann", "Lee", birthdate="1990-05-01")
    land(engine, "people/people", [person("105", "Ann", "Lee", birthdate="1990-05-02")])
    load_people(engine)
    assert _linked_to(engine, "105") != local
    assert scalar(engine, "SELECT pco_id FROM people WHERE id = :i", i=local) is None


def test_same_name_without_birthdate_on_either_side_is_not_a_match(engine):
    no_birthdate_locally = local_person(engine, "Ann", "Lee")
    land(engine, "people/people", [person("106", "Ann", "Lee", birthdate="1990-05-01"),
                                   person("107", "Bob", "Ray", birthdate=None)])
    local_bob = local_person(engine, "Bob", "Ray", birthdate="1980-01-01")
    load_people(engine)
    assert scalar(engine, "SELECT count(*) FROM people WHERE pco_id IS NULL") == 2
    assert {_linked_to(engine, "106"), _linked_to(engine, "107")}.isdisjoint({no_birthdate_locally, local_bob})


def test_a_different_email_is_not_a_match(engine):
    local = local_person(engine, "Ann", "Lee", emails=["ann@example.org"])
    land(engine, "people/people", [person("108", "Ann", "Lee", emails=[email("ann.lee@example.org")])])
    load_people(engine)
    assert _linked_to(engine, "108") != local


def test_people_already_linked_are_never_email_candidates(engine):
    local_person(engine, "Ann", "Lee", emails=["ann@example.org"], pco_id="900")
    land(engine, "people/people", [person("109", "Ann", "Lee", emails=[email("ann@example.org")])])
    result = load_people(engine)
    assert result.matches.to_create == 1


def test_shared_email_picks_the_candidate_with_the_same_first_name(engine):
    local_person(engine, "John", "Lee", emails=["family@example.org"])
    mary = local_person(engine, "Mary", "Lee", emails=["FAMILY@example.org"])
    land(engine, "people/people", [person("110", "mary", "Lee", emails=[email("family@example.org")])])
    result = load_people(engine)
    assert result.matches.by_email == 1
    assert _linked_to(engine, "110") == mary


def test_shared_email_naming_nobody_of_that_first_name_creates(engine):
    local_person(engine, "John", "Lee", emails=["family@example.org"])
    local_person(engine, "Mary", "Lee", emails=["family@example.org"])
    land(engine, "people/people", [person("111", "Tim", "Lee", emails=[email("family@example.org")])])
    result = load_people(engine)
    assert result.matches.to_create == 1 and result.matches.ambiguous == 0


def test_two_email_candidates_with_the_same_first_name_are_quarantined(engine):
    first = local_person(engine, "Ann", "Lee", emails=["ann@example.org"])
    second = local_person(engine, "Ann", "Lee-Smith", emails=["ann@example.org"])
    land(engine, "people/people", [person("112", "Ann", "Lee", emails=[email("ann@example.org")])])
    result = load_people(engine)
    assert result.matches.ambiguous == 1
    assert result.counts["people"].quarantined == 1
    assert scalar(engine, "SELECT count(*) FROM people WHERE pco_id IS NOT NULL") == 0
    (code, reason, details), = _quarantine(engine, "112")
    assert code == "ambiguous_match"
    assert details["candidates"] == [first, second]
    assert f"{first}, {second}" in reason


def test_two_name_and_birthdate_candidates_are_quarantined(engine):
    first = local_person(engine, "Ann", "Lee", birthdate="1990-05-01")
    second = local_person(engine, "ANN", "lee", birthdate="1990-05-01")
    land(engine, "people/people", [person("113", "Ann", "Lee", birthdate="1990-05-01")])
    result = load_people(engine)
    assert result.matches.ambiguous == 1
    (code, _reason, details), = _quarantine(engine, "113")
    assert (code, details["rule"], details["candidates"]) == ("ambiguous_match", "ambiguous_name_birthdate",
                                                             [first, second])
    assert scalar(engine, "SELECT count(*) FROM people") == 2  # nothing created either


def test_a_local_person_is_claimed_by_one_pco_person_only(engine):
    # PCO has the same person twice, unmerged: both records match the one local person.
    local = local_person(engine, "Ann", "Lee", birthdate="1990-05-01")
    land(engine, "people/people", [
        person("115", "Ann", "Lee", birthdate="1990-05-01", created_at="2024-02-01T00:00:00Z"),
        person("114", "Ann", "Lee", birthdate="1990-05-01", created_at="2024-01-01T00:00:00Z"),
    ])
    result = load_people(engine)
    assert _linked_to(engine, "114") == local  # created first in PCO: it keeps the claim
    assert _linked_to(engine, "115") is None
    (code, reason, details), = _quarantine(engine, "115")
    assert details == {"rule": "ambiguous_claim", "candidates": [local], "claimed_by": "114"}
    assert "114" in reason
    assert result.counts["people"].quarantined == 1
    # The next run does not turn the loser into a new person: PCO still has the person twice.
    again = load_people(engine)
    assert again.counts["people"].as_dict() == {"created": 0, "updated": 0, "unchanged": 1, "quarantined": 1,
                                                "deactivated": 0}
    assert _quarantine(engine, "115")[0].details["claimed_by"] == "114"
    # Staff merge the duplicate in PCO: the loser is gone and its quarantine entry resolves.
    land(engine, "people/person_mergers", [person_merger("m1", keep="114", remove="115")])
    load_people(engine)
    assert _quarantine(engine, "115") == []
    assert scalar(engine, "SELECT count(*) FROM people") == 1


def test_a_local_person_matched_by_email_is_no_candidate_for_name_and_birthdate(engine):
    local = local_person(engine, "Ann", "Lee", birthdate="1990-05-01", emails=["ann@example.org"])
    land(engine, "people/people", [
        person("116", "Ann", "Lee", birthdate="1990-05-01", created_at="2024-01-01T00:00:00Z"),
        person("117", "Annie", "Lee", emails=[email("ann@example.org")], created_at="2024-02-01T00:00:00Z"),
    ])
    result = load_people(engine)
    assert _linked_to(engine, "117") == local  # the earlier rule decides
    assert result.matches.to_create == 1 and result.matches.ambiguous == 0


def test_an_email_other_pco_people_share_identifies_nobody(engine):
    # Only the father has the family address locally; PCO lists it for him and his daughter.
    local_person(engine, "John", "Lee", emails=["lees@example.org"])
    land(engine, "people/people", [
        person("118", "Tim", "Lee", emails=[email("lees@example.org")]),
        person("119", "Amy", "Lee", emails=[email("LEES@example.org")])])
    result = load_people(engine)
    assert result.matches.to_create == 2 and result.matches.by_email == 0
    assert scalar(engine, "SELECT count(*) FROM people WHERE pco_id IS NULL") == 1


def test_a_local_person_linked_to_a_record_pco_merged_away_follows_the_merger(engine):
    local = local_person(engine, "Ann", "Lee", pco_id="120", allergies="peanuts")
    land(engine, "people/people", [person("121", "Ann", "Lee")])
    land(engine, "people/person_mergers", [person_merger("m1", keep="121", remove="120")])
    result = load_people(engine)
    assert result.matches.by_merged_pco_id == 1 and result.matches.to_create == 0
    assert _linked_to(engine, "121") == local
    assert scalar(engine, "SELECT allergies FROM people WHERE id = :i", i=local) == "peanuts"
    assert scalar(engine, "SELECT is_active FROM people WHERE id = :i", i=local) is True
    assert load_people(engine).counts["people"].writes == 0

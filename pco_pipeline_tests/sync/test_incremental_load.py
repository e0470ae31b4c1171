"""Incremental people loads (issue 17 item 3): a load reads only what changed since its
watermark; a full load (the nightly refresh) compares everyone and counts what the incremental
path missed."""

from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.registry import PEOPLE_ENTITY
from pco_pipeline_tests.sync.pco_docs import email, execute, land, person, rows, scalar

_CHURCH_ROWS = ("SELECT 'p', id, xmin::text FROM people UNION ALL SELECT 'e', id, xmin::text FROM person_emails"
                " UNION ALL SELECT 'ph', id, xmin::text FROM person_phones ORDER BY 1, 2")


def _three_people(engine):
    land(engine, "people/people", [person(str(i), f"First{i}", f"Last{i}", emails=[email(f"p{i}@example.org", id=f"1{i}")])
                                   for i in (1, 2, 3)])
    first = load_people(engine, incremental=True)
    assert first.full and first.counts["people"].created == 3  # no watermark yet: everyone is compared


def test_an_incremental_load_writes_a_landed_change_and_looks_at_nobody_else(engine):
    _three_people(engine)
    land(engine, "people/people", [person("2", "First2", "Changed", updated_at="2025-01-01T00:00:00Z",
                                          emails=[email("new2@example.org", id="12", updated_at="2025-01-01T00:00:00Z")])])
    result = load_people(engine, incremental=True)
    assert not result.full and result.looked_at == 1
    assert result.counts["people"].updated == 1 and result.counts["person_emails"].updated == 1
    assert rows(engine, "SELECT p.last_name, e.address FROM people p JOIN person_emails e ON e.person_id = p.id"
                        " WHERE p.pco_id = '2'") == [("Changed", "new2@example.org")]


def test_an_idle_incremental_load_classifies_nothing_and_writes_nothing(engine):
    _three_people(engine)
    before = rows(engine, _CHURCH_ROWS)
    result = load_people(engine, incremental=True)
    assert not result.full and result.looked_at == 0
    assert "drifted_records" not in PEOPLE_ENTITY.load(engine).facts  # only a full load checks drift
    assert all(counts.writes == 0 and counts.unchanged == 0 for counts in result.counts.values())
    assert rows(engine, _CHURCH_ROWS) == before


def test_a_church_edit_is_looked_at_by_the_next_incremental_load(engine):
    _three_people(engine)
    execute(engine, "UPDATE people SET last_name = 'Church' WHERE pco_id = '3'")
    result = load_people(engine, incremental=True)
    assert result.looked_at == 1 and result.counts["people"].writes == 0  # the push sends it; the load keeps it
    assert scalar(engine, "SELECT last_name FROM people WHERE pco_id = '3'") == "Church"


def test_a_change_the_incremental_path_misses_is_found_and_repaired_by_the_full_load(engine):
    _three_people(engine)
    assert load_people(engine).drifted_records == 0
    # A landed change stamped as older than the watermark (e.g. a row restored from a backup).
    execute(engine, "UPDATE pco_landing SET normalized = jsonb_set(normalized, '{last_name}', '\"Missed\"'),"
                    " changed_at = '2020-01-01' WHERE resource = 'people/people' AND pco_id = '1'")
    assert load_people(engine, incremental=True).counts["people"].writes == 0
    assert scalar(engine, "SELECT last_name FROM people WHERE pco_id = '1'") == "Last1"
    # The nightly full refresh's complete listing makes the next load a full one.
    execute(engine, "INSERT INTO pco_listing (resource, started_at, finished_at) VALUES ('people/people', now(), now())")
    full = PEOPLE_ENTITY.load(engine)  # what the church/people asset runs and shows in its metadata
    assert full.facts["full_comparison"] == 1 and full.facts["drifted_records"] == 1
    assert full.counts["people"].updated == 1
    assert scalar(engine, "SELECT last_name FROM people WHERE pco_id = '1'") == "Missed"
    assert scalar(engine, "SELECT drifted_records FROM load_watermarks WHERE entity = 'people'") == 1
    assert load_people(engine).drifted_records == 0

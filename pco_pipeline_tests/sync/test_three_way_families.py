"""The families load applies only what PCO changed since the two sides last agreed: a family the
church renamed keeps its name while PCO's new address arrives; a name both changed is a conflict
decided by its policy."""

from __future__ import annotations

from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_people import load_people
from pco_pipeline_tests.sync.pco_docs import address, execute, household, land, person, rows

LATER = "2030-01-01T00:00:00Z"


def _linked_family(engine) -> None:
    land(engine, "people/people", [person("1", "Ann", "Lee", addresses=[address("1 Main St", "Elk")])])
    load_people(engine)
    land(engine, "people/households", [household("h1", "Lee Household", ["1"], primary_contact="1")])
    load_families(engine)


def _family(engine) -> tuple:
    return tuple(rows(engine, "SELECT name, street_line_1, city FROM families WHERE pco_id = 'h1'")[0])


def _pco_moves_and_renames(engine, name: str) -> None:
    land(engine, "people/people", [person("1", "Ann", "Lee", updated_at=LATER,
                                          addresses=[address("9 Elm St", "Fox")])])
    load_people(engine)
    land(engine, "people/households", [household("h1", name, ["1"], primary_contact="1", updated_at=LATER)])


def test_a_church_rename_survives_while_pcos_new_address_is_loaded(engine):
    _linked_family(engine)
    execute(engine, "UPDATE families SET name = 'The Lees' WHERE pco_id = 'h1'")
    _pco_moves_and_renames(engine, "Lee Household")
    load_families(engine)
    assert _family(engine) == ("The Lees", "9 Elm St", "Fox")
    assert rows(engine, "SELECT count(*) FROM sync_conflicts")[0][0] == 0


def test_a_name_both_changed_goes_to_pco_by_the_shipped_policy_and_is_recorded(engine):
    _linked_family(engine)
    execute(engine, "UPDATE families SET name = 'The Lees' WHERE pco_id = 'h1'")
    _pco_moves_and_renames(engine, "Lee Family")
    load_families(engine)
    assert _family(engine)[0] == "Lee Family"
    assert [tuple(r) for r in rows(engine, "SELECT entity, field, church_value, pco_value, outcome"
                                           " FROM sync_conflicts")] == [
        ("families", "name", "The Lees", "Lee Family", "pco_wins")]

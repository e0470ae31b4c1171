"""Loading the synthetic church's local dataset into a real, migrated church database."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from pco_pipeline.db.local_dataset import TABLE_ORDER, LocalDatasetError, load_local_dataset
from pco_pipeline.demo_data import generate_church


@pytest.fixture(scope="module")
def small_local():
    return generate_church(people=300, seed=5).local


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar() for t in TABLE_ORDER}


def test_the_whole_dataset_lands_and_new_rows_get_fresh_ids(engine):
    church = generate_church(people=2000, seed=1)
    loaded = load_local_dataset(engine, church.local)
    expected = {t: len(church.local[t]) for t in TABLE_ORDER}
    assert loaded == expected
    assert counts(engine) == expected
    with engine.begin() as conn:
        unmatched = conn.execute(sa.text(
            "SELECT count(*) FROM person_emails e LEFT JOIN people p ON p.id = e.person_id WHERE p.id IS NULL")).scalar()
        assert unmatched == 0
        row = conn.execute(sa.text(
            "SELECT first_name, birthdate, pco_id FROM people WHERE id = :id"), {"id": church.local["people"][0]["id"]}
        ).one()
        first = church.local["people"][0]
        assert (row.first_name, row.birthdate, row.pco_id) == (first["first_name"], first["birthdate"], first["pco_id"])
        inserts = {
            "people": "INSERT INTO people (first_name, last_name) VALUES ('New', 'Person') RETURNING id",
            "families": "INSERT INTO families (name) VALUES ('New') RETURNING id",
            "church_group": "INSERT INTO church_group (level, name) VALUES (1, 'New dept') RETURNING id",
            "events": "INSERT INTO events (name) VALUES ('New event') RETURNING id",
            "locations": "INSERT INTO locations (name) VALUES ('New room') RETURNING id",
        }
        for table, insert in inserts.items():
            new_id = conn.execute(sa.text(insert)).scalar()
            assert new_id == max(r["id"] for r in church.local[table]) + 1, table


def test_refuses_a_database_that_already_has_church_data(engine, small_local):
    load_local_dataset(engine, small_local)
    before = counts(engine)
    with pytest.raises(LocalDatasetError, match=r"already has rows in \['people'.*replace=True"):
        load_local_dataset(engine, small_local)
    assert counts(engine) == before


def test_replace_swaps_the_church_data(engine, small_local):
    load_local_dataset(engine, generate_church(people=120, seed=9).local)
    loaded = load_local_dataset(engine, small_local, replace=True)
    assert counts(engine) == loaded == {t: len(small_local[t]) for t in TABLE_ORDER}
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT id, last_name FROM people ORDER BY id")).all()
    assert [(r.id, r.last_name) for r in names] == sorted((p["id"], p["last_name"]) for p in small_local["people"])


def test_a_bad_table_loads_nothing_at_all(engine, small_local):
    broken = dict(small_local)
    broken["checkins"] = [dict(r, mood="happy") for r in small_local["checkins"]]
    with pytest.raises(LocalDatasetError, match=r"checkins: unknown column\(s\) \['mood'\]"):
        load_local_dataset(engine, broken)
    assert set(counts(engine).values()) == {0}
    with pytest.raises(LocalDatasetError, match="unknown church table"):
        load_local_dataset(engine, {"persons": []})


def test_a_foreign_key_violation_rolls_everything_back(engine, small_local):
    broken = dict(small_local)
    broken["person_emails"] = small_local["person_emails"] + [dict(small_local["person_emails"][0], id=99_999,
                                                                   person_id=88_888, pco_id=None)]
    with pytest.raises(LocalDatasetError, match=r"(?s)^person_emails: .*person_emails_person_id_fkey.*88888"):
        load_local_dataset(engine, broken)
    assert set(counts(engine).values()) == {0}


def test_children_listed_before_their_parents_still_load(engine, small_local):
    shuffled = dict(small_local)
    groups = list(small_local["church_group"])
    random.Random(4).shuffle(groups)
    groups.sort(key=lambda g: -g["level"])  # every group before its area, every area before its department
    shuffled["church_group"] = groups
    shuffled["locations"] = list(reversed(small_local["locations"]))
    load_local_dataset(engine, shuffled, batch_size=7)
    with engine.connect() as conn:
        levels = dict(conn.execute(sa.text("SELECT level, count(*) FROM church_group GROUP BY level")).all())
    assert levels == {level: sum(g["level"] == level for g in groups) for level in (1, 2, 3)}


def test_a_parent_cycle_is_reported(engine):
    rows = [{"id": 1, "pco_id": None, "parent_id": 2, "level": 2, "name": "A"},
            {"id": 2, "pco_id": None, "parent_id": 1, "level": 2, "name": "B"}]
    with pytest.raises(LocalDatasetError, match=r"church_group: rows \[1, 2\] are in a parent_id cycle"):
        load_local_dataset(engine, {"church_group": rows})

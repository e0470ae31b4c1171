"""The whole data layer against the seeded synthetic church and its answer key (no HTTP).

The sandbox's generator makes a PCO organization and a local church database that overlaps it,
with `expected_matches`: what matching must conclude for every local person. Here the PCO
records are landed directly (as the extract would, page by page), the local dataset is loaded,
and every load runs; then each expected match, the reconciliation and a quiet re-run are checked.
"""

from collections import Counter

import pytest
import sqlalchemy as sa

from pco_pipeline.db.local_dataset import load_local_dataset
from pco_pipeline.pco.jsonapi import parse_document
from pco_pipeline.demo_data import generate_church
from pco_pipeline.sync import landing
from pco_pipeline.sync.catalog import spec_for
from pco_pipeline.sync.load_checkins import load_checkins, load_events
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.reconcile import reconcile

LANDED = ("people/people", "people/emails", "people/phone_numbers", "people/addresses", "people/households",
          "people/person_mergers", "groups/group_types", "groups/groups", "groups/memberships",
          "check-ins/events", "check-ins/locations", "check-ins/event_times", "check-ins/attendance_types",
          "check-ins/headcounts", "check-ins/check_ins", "calendar/events", "calendar/event_instances")


def _land_everything(engine, church) -> None:
    for name in LANDED:
        spec = spec_for(name)
        listing = landing.start_listing(engine, name)
        records = church.pco[name]
        for start in range(0, len(records), 100):
            page = parse_document({"data": records[start:start + 100]}).records
            landing.land_page(engine, spec, page, advance_cursor=spec.incremental)
        landing.finish_listing(engine, listing)


def _load_everything(engine) -> dict:
    report = {}
    report.update(load_people(engine).counts)
    report.update(load_families(engine))
    report.update(load_groups(engine))
    report.update(load_group_memberships(engine))
    report.update(load_events(engine))
    report.update(load_checkins(engine))
    return report


@pytest.fixture(scope="module")
def church():
    return generate_church(people=600, seed=3)


@pytest.fixture
def synced(engine, church):
    load_local_dataset(engine, church.local)
    _land_everything(engine, church)
    first = _load_everything(engine)
    return engine, first


def test_every_expected_match_is_what_matching_concludes(synced, church):
    engine, _ = synced
    with engine.connect() as conn:
        local = {row.id: row for row in conn.execute(sa.text("SELECT id, pco_id, is_active FROM people"))}
        quarantined = dict(conn.execute(sa.text(
            "SELECT record_key, details->>'rule' FROM sync_quarantine"
            " WHERE entity = 'people' AND resolved_at IS NULL AND reason_code = 'ambiguous_match'")).all())
        linked_pco = set(conn.execute(sa.text("SELECT pco_id FROM people WHERE pco_id IS NOT NULL")).scalars())
    wrong = []
    for expected in church.expected_matches:
        person = local[expected.local_person_id]
        if expected.kind in ("pco_id", "email", "name_birthdate"):
            ok = person.pco_id == expected.pco_person_id and person.is_active
            if expected.reason == "pco_duplicate_earliest_created":
                ok = ok and quarantined.get(expected.candidates[1]) == "ambiguous_claim"
        elif expected.kind == "ambiguous":
            ok = person.pco_id is None and all(c in quarantined for c in expected.candidates)
        else:  # local_only, near_miss
            ok = person.pco_id is None
            if expected.resembles:
                ok = ok and expected.resembles in linked_pco  # the look-alike got a row of its own
        if not ok:
            wrong.append((expected, person.pco_id, quarantined.get(expected.pco_person_id or "")))
    assert not wrong, wrong[:5]
    kinds = Counter(e.kind for e in church.expected_matches)
    assert all(kinds[k] for k in ("pco_id", "email", "name_birthdate", "local_only", "near_miss", "ambiguous"))


def test_after_the_first_sync_the_church_database_equals_pco(synced):
    engine, first = synced
    report = reconcile(engine)
    assert report.in_sync, report.table()
    assert report.entities["people"].quarantined >= 2  # the seeded ambiguities, explained
    assert first["people"].created > 0 and first["checkins"].created > 0


def test_a_second_sync_with_nothing_changed_writes_nothing(synced, church):
    engine, _ = synced
    _land_everything(engine, church)
    again = _load_everything(engine)
    assert {entity: counts.writes for entity, counts in again.items() if counts.writes} == {}


def test_local_data_the_sync_does_not_own_is_untouched(synced, church):
    engine, _ = synced
    local_checkins = [row for row in church.local["checkins"] if row["source"] == "local"]
    with engine.connect() as conn:
        held = conn.execute(sa.text("SELECT count(*) FROM checkins WHERE source = 'local'")).scalar()
        relationships = conn.execute(sa.text("SELECT count(*) FROM relationships")).scalar()
        local_groups = conn.execute(sa.text("SELECT count(*) FROM church_group WHERE pco_id IS NULL")).scalar()
        allergies = conn.execute(sa.text("SELECT count(*) FROM people WHERE allergies IS NOT NULL")).scalar()
    assert held == len(local_checkins)
    assert relationships == len(church.local["relationships"])
    assert local_groups == sum(1 for g in church.local["church_group"] if g["pco_id"] is None)
    assert allergies == sum(1 for p in church.local["people"] if p["allergies"] is not None)


def test_families_the_church_entered_are_linked_to_their_households_not_duplicated(synced, church):
    """A family the church entered itself becomes the family of the PCO household holding its
    members, instead of the sync creating a second family for the same people."""
    engine, _ = synced
    households = {h["id"]: {ref["id"] for ref in h["relationships"]["people"]["data"]}
                  for h in church.pco["people/households"]}
    in_households = Counter(pid for people in households.values() for pid in people)
    church_families = [f["id"] for f in church.local["families"] if f["pco_id"] is None]
    with engine.connect() as conn:
        linked = dict(conn.execute(sa.text("SELECT id, pco_id FROM families WHERE id = ANY(:ids) AND pco_id IS NOT NULL"),
                                   {"ids": church_families}).all())
        members = conn.execute(sa.text("SELECT fm.family_id, p.pco_id FROM family_members fm"
                                       " JOIN people p ON p.id = fm.person_id WHERE p.pco_id IS NOT NULL")).all()
    assert len(linked) > len(church_families) // 3  # the seed's church-entered households
    for family_id, household in linked.items():
        assert {pco_id for fid, pco_id in members if fid == family_id} <= households[household]
    # nobody is in more families than PCO has households for them (PCO allows several)
    families_of = Counter(pco_id for _, pco_id in members)
    assert {p: n for p, n in families_of.items() if n > 1} == {p: n for p, n in in_households.items()
                                                               if n > 1 and p in families_of}

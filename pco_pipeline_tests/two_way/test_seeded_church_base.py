"""On the seeded synthetic church after its first sync (no HTTP), the two-way declarations read
both sides alike: once the base is seeded (by the loads that apply the three-way rule, else by
`seed_base`), every field of every linked record of every declared entity is in sync, so the
first two-way run after migrating sends, takes and records nothing."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from pco_pipeline.db.local_dataset import load_local_dataset
from pco_pipeline.demo_data import generate_church
from pco_pipeline.sync.base import seed_base
from pco_pipeline.sync.conflicts import record_conflicts
from pco_pipeline.sync.merge import Outcome, field_states, three_way_sql
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.two_way_entities import ENTITIES
from pco_pipeline_tests.sync.test_seeded_church import _land_everything, _load_everything


@pytest.fixture(scope="module")
def church():
    return generate_church(people=400, seed=5)


def _outcomes(conn, entity, policies) -> Counter:
    counted: Counter = Counter()
    for row in conn.execute(three_way_sql(entity, policies), {"entity": entity.entity}):
        counted.update(state.outcome for state in field_states(row, entity.fields))
    return counted


# The entities whose load applies the three-way rule to every linked record, and so seeds its base
# itself. The memberships load does so only for the memberships the sync created: those the church
# entered have no base until seed_base, and must then agree (nothing to send, take or decide).
THREE_WAY_LOADS = {"people", "person_emails", "person_phones", "families", "family_members"}


def test_after_seeding_every_linked_field_is_in_sync(engine, church):
    load_local_dataset(engine, church.local)
    _land_everything(engine, church)
    _load_everything(engine)
    policies = load_policies(environ={})
    with engine.begin() as conn:
        before = {name: _outcomes(conn, entity, policies.for_entity(name)) for name, entity in ENTITIES.items()}
        for entity in ENTITIES.values():
            seed_base(conn, entity)
        after = {name: _outcomes(conn, entity, policies.for_entity(name)) for name, entity in ENTITIES.items()}
        recorded = {name: record_conflicts(conn, entity, policies.for_entity(name))
                    for name, entity in ENTITIES.items()}
    for name in ENTITIES:
        if name in THREE_WAY_LOADS:
            assert set(before[name]) == {Outcome.IN_SYNC}, (name, before[name])
        else:
            assert before[name][Outcome.AGREE] > 0, name  # linked records with no base yet
            assert set(before[name]) <= {Outcome.IN_SYNC, Outcome.AGREE}, (name, before[name])
        assert set(after[name]) == {Outcome.IN_SYNC}, (name, after[name])
    assert recorded == {name: 0 for name in ENTITIES}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sync_conflicts")).scalar_one() == 0

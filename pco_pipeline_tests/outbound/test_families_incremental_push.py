"""The families push compares incrementally (`church_changes.classify_changes` over
sync/sql/push/families_changed.sql and family_members_changed.sql, which read the church's rows
through sql/0025's push_church_rows_since): after a church edit only the change capture or a
base can name — one whose writer states a time older than the push's watermark (its outbox row
is the only trace), a family or a person unlinked (only the base still names the record) — the
incremental comparison of families and household memberships holds the same rows and plans the
same changes as a comparison of every linked record, and the edit is among them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pco_pipeline.pco.client import resource_body
from pco_pipeline.sync.families_push import run_families_push
from pco_pipeline.sync.policies import load_policies
from pco_pipeline_tests.outbound.test_family_members_two_way import sync
from pco_pipeline_tests.outbound.test_push_updates import edit, pco_person
from pco_pipeline_tests.two_way.test_incremental_push import compared

POLICIES = load_policies(environ={})


@pytest.fixture
def church(engine, client):
    """The Byrons (Ada, the primary contact, and Will) made in PCO, synced in, and pushed once
    (a full comparison: the push's watermark)."""
    ada, will = (pco_person(client, first, "Byron") for first in ("Ada", "Will"))
    household = client.post("/people/v2/households", resource_body(
        "Household", {"name": "Byron Household"},
        relationships={"people": [("Person", ada), ("Person", will)], "primary_contact": ("Person", ada)})).id
    sync(client, engine)
    report = run_families_push(engine, client)
    assert report.comparisons == {"families": "full", "family_members": "full"}
    with engine.connect() as conn:
        family = conn.execute(sa.text("SELECT id FROM families WHERE pco_id = :h"), {"h": household}).scalar_one()
    return {"ada": ada, "will": will, "household": household, "family": family}


EDITS = {
    "a family renamed, stated as older": (
        "UPDATE families SET name = 'Lovelace-Byron', updated_at = '2020-01-01' WHERE id = :family"),
    "the primary contact changed, stated as older": (
        "UPDATE family_members SET is_primary_contact = NOT is_primary_contact, updated_at = '2020-01-01'"
        " WHERE family_id = :family"),
    "a family unlinked": "UPDATE families SET pco_id = NULL WHERE id = :family",
    "a person unlinked": "UPDATE people SET pco_id = NULL WHERE pco_id = :will",
}


@pytest.mark.parametrize("sql", EDITS.values(), ids=list(EDITS))
def test_the_incremental_families_comparison_equals_the_full_one_after_a_church_edit(engine, church, sql):
    edit(engine, sql, family=church["family"], will=church["will"])
    looked_at = []
    for name in ("families", "family_members"):
        policies = POLICIES.for_entity(name)
        incremental = compared(engine, name, full=False, policies=policies)
        assert incremental == compared(engine, name, full=True, policies=policies), name
        looked_at += [row["pco_id"] for row in incremental[0]]
    assert looked_at   # the edited record was compared: not both comparisons empty

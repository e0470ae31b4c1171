"""The loads a webhook delivery runs come from the entity registry: an entity added to the
registry whose asset reads PCO households is loaded when a household event is applied, and an
entity reading nothing the event changed is not."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from pco_pipeline.sync.loading import LoadCounts
from pco_pipeline.sync.registry import DEFAULT, ChurchAsset, ChurchEntity, LoadOutcome, Table, pco_fields
from pco_pipeline.sync.webhook_apply import apply_inbox_rows
from pco_pipeline_tests.webhooks.test_apply_malformed import household_body, store_row


def toy_entity(name: str, reads: str, calls: list[str]) -> ChurchEntity:
    def load(engine: sa.Engine) -> LoadOutcome:
        calls.append(name)
        return LoadOutcome({name: LoadCounts(updated=1)})
    return ChurchEntity(name, load=load, tables=(Table(name, name, pco_fields("name"), unique_pco_id=False),),
                        assets=(ChurchAsset(name, description=name, entity=name, preview_columns="name",
                                            reads=(reads,)),),
                        job="sync_families")


def test_a_household_event_runs_the_loads_of_every_entity_reading_households_and_no_other(engine):
    calls: list[str] = []
    registry = DEFAULT.extended(entities=(toy_entity("household_notes", "households", calls),
                                          toy_entity("group_notes", "groups", calls)))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    row = store_row(engine, "d1", household_body("d1", "7001", "Ng Household", now), "7001", now)

    report = apply_inbox_rows(engine, [row], registry=registry)

    assert report.applied == 1
    assert calls == ["household_notes"]
    assert report.loads["household_notes"].updated == 1
    assert "families" in report.loads and "group_memberships" not in report.loads

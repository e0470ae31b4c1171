"""`church/*` assets: load what the extracts landed into the church tables, one step per load of
the entity registry (`sync/registry.py`); a load that fills several assets (check-ins: locations
and check-ins) materializes them all.

Each load matches and upserts set-based in one transaction, writes only rows whose values
differ (a re-run with nothing new writes nothing), quarantines what it cannot apply with the
reason, and never touches the church-owned fields (the registry's field maps say which).

A load that would give more than the safety brake's share of the church's linked records of an
entity PCO's values (`sync/safety_brake.py`) fails before writing anything, saying how many and
why; the run config flag `confirm_large_change` (`pco-pipeline sync … --confirm`) lets that run
through.
"""

from collections.abc import Iterable, Iterator, Mapping

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.church_db.previews import markdown_preview
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.church_db.runlog import step_log
from pco_pipeline.defs.inbound.keys import LOAD_GROUP, church_key, pco_key
from pco_pipeline.sync import quarantine
from pco_pipeline.sync.loading import LoadCounts
from pco_pipeline.sync.registry import DEFAULT, ChurchAsset, ChurchEntity, LoadOutcome, Registry
from pco_pipeline.sync.safety_brake import CONFIRM_FLAG, SafetyBrakeEngaged, large_changes_confirmed

PREVIEW_ROWS = 10


class LoadConfig(dg.Config):
    confirm_large_change: bool = False
    """Let this run through the safety brake (PCO changed more of the church than PCO_SAFETY_BRAKE_SHARE)."""


def load_step_name(entity: ChurchEntity) -> str:
    """The step (op) running `entity`'s load: church__<asset>, or church_<entity> for several assets."""
    return f"church__{entity.assets[0].name}" if len(entity.assets) == 1 else f"church_{entity.name}"


def confirm_run_config(load_assets: Iterable[str], registry: Registry = DEFAULT) -> dict:
    """Run config letting the loads showing `load_assets` (church/* asset names) through the brake."""
    wanted = set(load_assets)
    steps = [load_step_name(entity) for entity in registry.entities
             if wanted & {asset.name for asset in entity.assets}]
    return {"ops": {step: {"config": {CONFIRM_FLAG: True}} for step in steps}}


def _result(engine: sa.Engine, asset: ChurchAsset, table: str, counts: Mapping[str, LoadCounts],
            facts: Mapping[str, int]) -> dg.MaterializeResult:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        open_quarantine = quarantine.open_counts(conn)
        preview = markdown_preview(conn, sa.text(
            f"SELECT {asset.preview_columns} FROM {table} ORDER BY updated_at DESC, id DESC LIMIT :n"),
            {"n": PREVIEW_ROWS})
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(rows),
        **{key: dg.MetadataValue.int(value) for key, value in counts[asset.entity].as_dict().items()},
        "open_quarantine": dg.MetadataValue.int(sum(open_quarantine.values())),
        "preview": dg.MetadataValue.md(preview),
        **{key: dg.MetadataValue.int(value) for key, value in facts.items()},
        **dict(summary.line(counts[summary.entity]) for summary in asset.summaries),
    }
    return dg.MaterializeResult(asset_key=church_key(asset.name), metadata=metadata)


def _logged(context: dg.AssetExecutionContext, engine: sa.Engine, entity: ChurchEntity,
            config: LoadConfig) -> LoadOutcome:
    """Run the entity's load, reporting its counts into the run's pco_sync_log row; a load the
    safety brake stopped fails the step with the brake's words."""
    try:
        with step_log(context, engine, "inbound") as step, large_changes_confirmed(config.confirm_large_change):
            outcome = entity.load(engine)
            total = LoadCounts.combined(outcome.counts.values())
            step.finish(created=total.created, updated=total.updated + total.deactivated, failed=total.quarantined)
    except SafetyBrakeEngaged as exc:
        raise dg.Failure(description=str(exc)) from exc
    for name, counts in outcome.counts.items():
        context.log.info(f"{name}: {counts.as_dict()}")
    return outcome


def load_asset(entity: ChurchEntity) -> dg.AssetsDefinition:
    """The step running `entity`'s load and materializing its `church/*` assets: an asset (step
    church__<asset>) when the load fills one, a multi-asset (step church_<entity>) when several."""
    specs = [dg.AssetSpec(church_key(asset.name), group_name=LOAD_GROUP, kinds={"postgres"},
                          deps=[*(pco_key(name) for name in asset.reads), *(church_key(name) for name in asset.after)],
                          description=asset.description)
             for asset in entity.assets]

    def materialize(context: dg.AssetExecutionContext, config: LoadConfig, church_db: PostgresResource
                    ) -> Iterator[dg.MaterializeResult]:
        engine = church_db.get_engine()
        outcome = _logged(context, engine, entity, config)
        for index, asset in enumerate(entity.assets):
            facts = outcome.facts if index == 0 else {}
            yield _result(engine, asset, entity.table(asset.entity).table, outcome.counts, facts)

    if len(specs) == 1:
        (spec,) = specs
        return dg.asset(key=spec.key, group_name=LOAD_GROUP, kinds={"postgres"}, deps=spec.deps,
                        description=spec.description)(materialize)
    return dg.multi_asset(name=f"church_{entity.name}", specs=specs)(materialize)

"""Inbound jobs and their schedules, from the entity registry: the same jobs staff launch from the
UI or `pco-pipeline sync`. Each job of the registry runs the `pco/*` and `church/*` assets that
name it; `full_sync` runs them all; `sync_incremental` the resources PCO lets the extract
keyset-read (cheap to poll often: the rest are complete listings on every run, so polling them
every 15 minutes would re-read them whole) and the loads reading them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import dagster as dg

from pco_pipeline.defs.inbound.keys import church_key, pco_key
from pco_pipeline.sync.registry import DEFAULT, Job, Registry

if TYPE_CHECKING:  # what define_asset_job returns (not exported by dagster's top level)
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

INBOUND_TAGS = {"pco/direction": "inbound"}


def full_refresh_run_config(extract_names: Iterable[str] | None = None, registry: Registry = DEFAULT) -> dict:
    """Run config that makes the given extracts (default: all) re-read everything."""
    names = extract_names or [spec.extract.asset for spec in registry.extracts if spec.extract]
    return {"ops": {f"pco__{name}": {"config": {"full_refresh": True}} for name in names}}


def _job(job: Job, assets: tuple[tuple[str, ...], tuple[str, ...]]) -> UnresolvedAssetJobDefinition:
    extracts, loads = assets
    selection = dg.AssetSelection.assets(*[pco_key(n) for n in extracts], *[church_key(n) for n in loads])
    # One process per run: one shared rate budget per credential, steps in dependency order.
    return dg.define_asset_job(job.name, selection=selection, description=job.description, tags=INBOUND_TAGS,
                               executor_def=dg.in_process_executor)


def inbound_jobs(registry: Registry) -> list[UnresolvedAssetJobDefinition]:
    """One job per registry job, then full_sync and sync_incremental."""
    return [*(_job(job, registry.job_assets(job.name)) for job in registry.jobs),
            _job(registry.full_sync, registry.job_assets(registry.full_sync.name)),
            _job(registry.incremental_sync, registry.incremental_assets())]


def inbound_schedules(registry: Registry, jobs: Mapping[str, UnresolvedAssetJobDefinition]
                      ) -> list[dg.ScheduleDefinition]:
    """The nightly full sync (on) and the 15-minute incremental sync (off until switched on), on `jobs`."""
    return [
        dg.ScheduleDefinition(
            name="nightly_full_sync",
            job=jobs[registry.full_sync.name],
            cron_schedule=os.environ.get("PCO_NIGHTLY_CRON", "0 3 * * *"),
            execution_timezone=os.environ.get("PCO_SYNC_TIMEZONE", "UTC"),
            run_config=full_refresh_run_config(registry=registry),
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Re-reads everything from PCO every night (finds deletions and changes updated_at misses). "
                        "Set PCO_NIGHTLY_CRON and PCO_SYNC_TIMEZONE to move it.",
        ),
        dg.ScheduleDefinition(
            name="incremental_sync",
            job=jobs[registry.incremental_sync.name],
            cron_schedule="*/15 * * * *",
            execution_timezone=os.environ.get("PCO_SYNC_TIMEZONE", "UTC"),
            default_status=dg.DefaultScheduleStatus.STOPPED,
            description="Every 15 minutes: what changed in PCO since the last run. Switch it on in the UI.",
        ),
    ]

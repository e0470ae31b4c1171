"""The inbound code location, generated from an entity registry (`sync/registry.py`): the `pco/*`
extract assets, the `church/*` load assets, their checks, the inbound jobs and schedules."""

import dagster as dg

from pco_pipeline.defs.inbound.checks import asset_checks
from pco_pipeline.defs.inbound.extract import extract_asset
from pco_pipeline.defs.inbound.jobs import inbound_jobs, inbound_schedules
from pco_pipeline.defs.inbound.load import load_asset
from pco_pipeline.sync.registry import DEFAULT, Registry


def definitions_for(registry: Registry) -> dg.Definitions:
    """Everything inbound that `registry` declares (resources are the code location's, not these)."""
    jobs = inbound_jobs(registry)
    return dg.Definitions(
        assets=[*(extract_asset(spec) for spec in registry.extracts), *(load_asset(e) for e in registry.entities)],
        asset_checks=asset_checks(registry),
        jobs=jobs,
        schedules=inbound_schedules(registry, {job.name: job for job in jobs}),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return definitions_for(DEFAULT)

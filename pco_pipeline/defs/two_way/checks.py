"""Two-way sync in the code location: the conflict policies validated when it loads (a wrong
policy file or `PCO_CONFLICT_MAX_WAIT_HOURS` stops it loading with a message naming the file,
entity and field, or the setting, instead of failing the first load), and per `church/*` asset
showing a two-way entity a check that fails while conflicts held for a person wait too long."""

from collections.abc import Sequence

import dagster as dg

from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.inbound.keys import church_key
from pco_pipeline.sync import conflicts, policies
from pco_pipeline.sync.registry import DEFAULT, Registry
from pco_pipeline.sync.two_way_entities import ENTITIES


def waiting_conflicts_check(asset: str, entities: Sequence[str]) -> dg.AssetChecksDefinition:
    """Fails while a conflict of `entities` has been held for a person longer than the setting."""
    @dg.asset_check(asset=church_key(asset), name=f"{asset}_conflicts_waiting",
                    description=f"No conflict of {', '.join(entities)} held for a person (policy manual, or newest "
                                f"without a later side) waits longer than {policies.MAX_WAIT_SETTING} (default "
                                f"{policies.DEFAULT_MAX_WAIT_HOURS} h); decide them with `pco-pipeline conflicts "
                                "resolve`.")
    def _check(church_db: PostgresResource) -> dg.AssetCheckResult:
        limit = policies.max_wait()
        with church_db.get_engine().connect() as conn:
            waiting = conflicts.held_longer_than(conn, limit, entities)
        oldest = waiting.oldest_detected_at
        return dg.AssetCheckResult(
            passed=waiting.count == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={"waiting_longer": waiting.count, "limit_hours": limit.total_seconds() / 3600,
                      "oldest_detected_at": oldest.isoformat() if oldest else "none"})

    return _check


def conflict_checks(registry: Registry) -> list[dg.AssetChecksDefinition]:
    """One waiting-conflicts check per `church/*` asset showing a two-way entity."""
    by_asset: dict[str, list[str]] = {}
    for entity in ENTITIES:
        _, asset = registry.entity_of_table(entity)
        by_asset.setdefault(asset.name, []).append(entity)
    return [waiting_conflicts_check(asset, entities) for asset, entities in by_asset.items()]


@dg.definitions
def defs() -> dg.Definitions:
    policies.load_policies()
    policies.max_wait()
    return dg.Definitions(asset_checks=conflict_checks(DEFAULT))

"""The inbound assets' keys and groups: `pco/<asset>` lands a PCO resource (group pco_extract),
`church/<asset>` loads church tables (group church_load). Which assets exist is the entity
registry's to say (`pco_pipeline/sync/registry.py`)."""

import dagster as dg

EXTRACT_GROUP = "pco_extract"
LOAD_GROUP = "church_load"


def pco_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["pco", name])


def church_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["church", name])

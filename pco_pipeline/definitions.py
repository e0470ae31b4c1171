"""The Dagster code location: everything under `defs/` (one folder per source system)."""

from pathlib import Path

import dagster as dg

import pco_pipeline.dagster_fixes  # noqa: F401  (corrections to the pinned Dagster, in every process loading this)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)

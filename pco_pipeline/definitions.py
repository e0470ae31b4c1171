"""The Dagster code location: everything under `defs/` (one folder per source system)."""

from pathlib import Path

import dagster as dg

import pco_pipeline.dagster_fixes  # noqa: F401  (corrections to the pinned Dagster, in every process loading this)


@dg.definitions
def defs() -> dg.Definitions:
    """The definitions of the `defs/` folder, as `dg.load_from_defs_folder` builds them, minus the
    catalog of every installed component type it adds as repository metadata for `dg`'s tools
    (this project defines no components). Every run's process loads this; the catalog cost
    0.1–0.2 s of CPU each time (bench_latency's launch stage)."""
    tree = dg.ComponentTree.for_project(path_within_project=Path(__file__).parent)
    return dg.Definitions.merge(tree.build_defs(tree.defs_module_path), dg.Definitions(component_tree=tree))

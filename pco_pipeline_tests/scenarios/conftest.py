"""Scenario fixtures: an empty sandbox organization over real HTTP, the Dagster jobs run in-process
on it and on the test database (shared, from pco_pipeline_tests.sandbox_fixtures)."""

from pco_pipeline_tests.sandbox_fixtures import (  # noqa: F401 (fixtures register by being imported)
    instance,
    pco,
    resources,
    run_job,
    sandbox,
    sandbox_url,
)

"""Inbound fixtures: the seeded sandbox church over real HTTP (with the overlapping local church
dataset loaded into the test database), and Dagster resources pointed at both (all shared, from
pco_pipeline_tests.sandbox_fixtures)."""

from pco_pipeline_tests.sandbox_fixtures import (  # noqa: F401 (fixtures register by being imported)
    SANDBOX_PEOPLE,
    church,
    instance,
    materialized,
    pco,
    resources,
    run_job,
    sandbox,
    sandbox_url,
)

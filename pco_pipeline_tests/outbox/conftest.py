"""Outbox fixtures: the sandbox over HTTP with a client and the Dagster resources on it (shared with
the outbound suite), the pipeline's own engine on the test database, and helpers reading the outbox
and running the sensor and `push_changes` as the daemon would."""

from collections.abc import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from pco_pipeline.db.engine import get_engine
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.outbound.church_changes import push_changes, push_church_changes_sensor
from pco_pipeline_tests.outbound.conftest import client  # noqa: F401 (fixtures register by being imported)
from pco_pipeline_tests.sandbox_fixtures import (  # noqa: F401
    instance,
    pco,
    resources,
    sandbox,
    sandbox_url,
)


@pytest.fixture
def pipeline_engine(database_url: str) -> Iterator[sa.Engine]:
    """The engine the pipeline itself uses on the test database (its connections carry the origin mark)."""
    engine = get_engine(database_url)
    yield engine
    engine.dispose()


def outbox_rows(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT id, table_name, row_key, operation, changed_columns, status, attempts, run_id, status_reason,"
            " next_attempt_at FROM church_outbox ORDER BY id")))


def sensor_tick(database_url: str, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    """One evaluation of push_church_changes_sensor, as the daemon's tick makes it."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"church_db": PostgresResource(database_url=database_url)})
    result = push_church_changes_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def run_request(result: dg.SensorResult | dg.RunRequest, resources: dict, instance: dg.DagsterInstance,
                ) -> dg.ExecuteInProcessResult:
    """Run the push_changes run a sensor or schedule asked for, in-process."""
    request = result if isinstance(result, dg.RunRequest) else (result.run_requests or [])[0]
    return push_changes.execute_in_process(run_config=request.run_config, resources=resources, instance=instance,
                                  tags=request.tags, raise_on_error=False)

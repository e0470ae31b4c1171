"""The world the two-way state machine drives: a sandbox PCO organization in-process, whose webhook
deliveries are caught in memory, and a church database on the real PostgreSQL, with the pipeline's
own steps run the way its jobs run them, without Dagster:

- `sync(full_refresh)`: the extracts and loads of the people, families and groups jobs, from the
  entity registry (what `sync_people`, `sync_families`, `sync_groups` run);
- `push()`: every push of the registry in full_push's order (`run_push`);
- `deliver()`: the caught deliveries stored in `webhook_inbox` (as the receiver stores them) and
  applied by `apply_inbox_rows` (as the apply_webhooks job does).

It also reads both sides for the checks: the write requests PCO received, and a fingerprint of
every row version in the tables a sync or push writes (a row's `xmin` changes with every insert
or update, even one that writes the same values; a delete drops the row), so "nothing written" is
checked without triggers and without the statistics collector's delay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import URL

from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.config import BasicCredentials, PCOConfig, RetryPolicy
from pco_pipeline.sync import push_ledger
from pco_pipeline.sync.extract import extract_resource
from pco_pipeline.sync.push_engine import run_push
from pco_pipeline.sync.registry import DEFAULT as REGISTRY
from pco_pipeline.sync.webhook_apply import apply_inbox_rows
from pco_pipeline.webhooks.app import WEBHOOK_PATH
from pco_pipeline.webhooks.envelope import parse_deliveries
from pco_pipeline_tests.conftest import create_test_database
from pco_pipeline_tests.sandbox_fixtures import demo_sandbox
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox
from pco_sandbox.transport import InProcessTransport

IN_PROCESS_BASE = "https://api.planningcenteronline.com"
RECEIVER_URL = f"https://church.example{WEBHOOK_PATH}"
TWO_WAY_JOBS = ("sync_people", "sync_families", "sync_groups")
# What a sync, a push or a delivery may write in the church database. Bookkeeping is left out: run
# logs, listings, the push ledger and the inbox record that a run happened, and pco_landing's
# last_seen_at moves on every complete listing by design (it is how removals are found).
WRITTEN_TABLES = ("people", "person_emails", "person_phones", "families", "family_members", "church_group",
                  "group_membership", "sync_base", "sync_conflicts", "sync_quarantine")
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class ProcessDied(Exception):
    """The pipeline's process stopped between PCO's answer and the ledger recording it."""


class DeathBeforeOutcome:
    """Makes the next ledger outcome of a write (`confirm`, `confirm_deleted`) raise ProcessDied
    once: PCO carried the write out, the church database never learns its answer."""

    def __init__(self) -> None:
        self.armed = False
        self._originals = {name: getattr(push_ledger, name) for name in ("confirm", "confirm_deleted")}
        for name, original in self._originals.items():
            setattr(push_ledger, name, self._dying(original))

    def _dying(self, original: Callable[..., None]) -> Callable[..., None]:
        def outcome(*args: Any, **kwargs: Any) -> None:
            if self.armed:
                self.armed = False
                raise ProcessDied("the process died before recording PCO's answer")
            original(*args, **kwargs)
        return outcome

    def restore(self) -> None:
        for name, original in self._originals.items():
            setattr(push_ledger, name, original)


class CaughtDeliveries(httpx.BaseTransport):
    """The church's webhook receiver as seen by PCO: accepts every delivery (200) and keeps its body."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self._bodies.append(request.read())
        return httpx.Response(200)

    def take(self) -> list[bytes]:
        with self._lock:
            bodies, self._bodies = self._bodies, []
        return bodies


@contextmanager
def fresh_database(server_url: URL, template: str, name: str) -> Iterator[sa.Engine]:
    """A database copied from the migrated template, dropped afterwards."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        create_test_database(conn, name, template)
    engine = sa.create_engine(server_url.set(database=name), pool_size=2, max_overflow=4)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class World:
    """One sandbox organization subscribed to every event the pipeline applies, and one church database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.caught = CaughtDeliveries()
        self.sandbox: Sandbox = demo_sandbox(webhook_transport=self.caught, webhook_time_scale=1e-6,
                                             webhook_timeout=5.0)
        for name in REGISTRY.subscribed_events:
            self.sandbox.webhooks.subscribe(name, RECEIVER_URL)
        config = PCOConfig(base_url=IN_PROCESS_BASE, basic=BasicCredentials(DEMO_APP_ID, DEMO_SECRET),
                           retry=RetryPolicy(max_retries=1, backoff_base=0.001, backoff_max=0.002))
        self.client = PCOClient(config, transport=InProcessTransport(self.sandbox.app))
        self.death = DeathBeforeOutcome()

    def close(self) -> None:
        self.death.restore()
        self.client.close()
        self.sandbox.close()

    # --- the pipeline's steps ---------------------------------------------------------------------

    def sync(self, *, full_refresh: bool) -> None:
        """The inbound people, families and groups jobs: their extracts, then their loads in order."""
        extracts = {asset for job in TWO_WAY_JOBS for asset in REGISTRY.job_assets(job)[0]}
        for spec in REGISTRY.extracts:
            if spec.extract is not None and spec.extract.asset in extracts:
                extract_resource(self.client, self.engine, spec, full_refresh=full_refresh)
        for entity in REGISTRY.entities:
            if entity.job in TWO_WAY_JOBS:
                entity.load(self.engine)

    def push(self) -> None:
        """full_push: every push of the registry, in order."""
        for push in REGISTRY.pushes:
            run_push(push.kind, self.engine, self.client)

    def deliver(self) -> set[tuple[str, str]]:
        """Store every delivery PCO has made so far in the inbox and apply every open inbox row;
        returns the (resource type, id) of the records the stored deliveries name."""
        self.sandbox.webhooks.wait_idle(timeout=10.0)
        named: set[tuple[str, str]] = set()
        with self.engine.begin() as conn:
            for body in self.caught.take():
                for delivery in parse_deliveries(body):
                    named.add((delivery.resource_type, delivery.resource_id))
                    conn.execute(sa.text(
                        "INSERT INTO webhook_inbox (event_name, delivery_id, attempt, idempotency_token, event_time,"
                        " resource_type, resource_id, raw_body) VALUES (:name, :id, :attempt, :token, :time,"
                        " :type, :rid, :body) ON CONFLICT DO NOTHING"),
                        {"name": delivery.event_name, "id": delivery.delivery_id, "attempt": delivery.attempt,
                         "token": delivery.idempotency_token, "time": delivery.event_time,
                         "type": delivery.resource_type, "rid": delivery.resource_id, "body": body})
            open_rows = conn.execute(sa.text(
                "SELECT id FROM webhook_inbox WHERE status IN ('pending', 'failed') ORDER BY id")).scalars().all()
        if open_rows:
            apply_inbox_rows(self.engine, list(open_rows), pco=lambda: self.client)
        return named

    # --- what the checks read ---------------------------------------------------------------------

    def write_requests(self) -> list[str]:
        """The write requests PCO has answered since the request log was last reset."""
        return [f"{e.method} {e.path}" for e in self.sandbox.requests.entries() if e.method in WRITE_METHODS]

    def row_versions(self) -> set[tuple[str, str, str]]:
        """(table, row, version) of every row of WRITTEN_TABLES."""
        with self.engine.connect() as conn:
            rows: set[tuple[str, str, str]] = set()
            for table in WRITTEN_TABLES:
                rows |= {(table, str(ctid), str(xmin)) for ctid, xmin in conn.execute(
                    sa.text(f"SELECT ctid::text, xmin::text FROM {table}"))}  # noqa: S608 (fixed names)
        return rows

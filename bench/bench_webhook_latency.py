"""End-to-end webhook latency: from a change in PCO to the changed row in the church database.

The pieces run as they would in production, on loopback:
- PCO: the seeded sandbox church (300 people, PCO's own 100 requests / 20 s limit) served over
  HTTP; its webhook sender delivers every change to the subscriptions `webhooks.subscriptions.
  subscribe` created through the API;
- the receiver: `pco-pipeline webhooks serve` in its own process, accepting the stored secrets,
  on a fresh database of the benchmarks' embedded PostgreSQL (`.pco_pipeline/bench-pgdata`)
  that an inbound sync first made equal to PCO;
- the sensor loop, driven here the way the Dagster daemon drives it: `apply_webhooks_sensor` is
  evaluated every `PCO_WEBHOOK_SENSOR_INTERVAL_SECONDS` (default 15) and each run it requests is
  executed at once, in-process (so a run launcher's process start-up is not included).

Meanwhile a "staff" thread edits PCO at random moments (mostly name changes, some new people and
new emails: both need more work — a re-read, matching), and a watcher polls the church database
every 50 ms for each change. Latency = first moment the watcher sees the change − the moment it
was made in PCO. The table splits it into delivery (change → stored in webhook_inbox) and the
rest (waiting for the next tick + the run). Target: p95 ≤ the sensor interval + 5 s.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from bench._support import drop_database, fresh_database, start_receiver
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.pco.resources import PCOResource
from pco_pipeline.defs.webhooks.apply import apply_webhooks
from pco_pipeline.defs.webhooks.sensor import apply_webhooks_sensor, sensor_interval_seconds
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox, SandboxConfig
from pco_sandbox.seed import generate_organization
from pco_sandbox.server import run_sandbox_server
from pco_pipeline.sync.normalize import normalize_email
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline.webhooks.server import bind_socket
from pco_pipeline.webhooks.subscriptions import subscribe

DATABASE = "pco_bench_webhook_latency"
CHURCH_PEOPLE = 300
CHANGES = 45
SPREAD_SECONDS = 75          # the changes are made at random moments over this long
SLACK_SECONDS = 5            # the target: p95 ≤ interval + this
POLL_SECONDS = 0.05
MIX = (("rename", 0.8), ("new person", 0.1), ("new email", 0.1))


@dataclass
class Change:
    kind: str
    key: str                 # what the watcher looks for: a pco_id (+ value)
    expected: str
    made_at: float           # wall clock (time.time()), comparable with PostgreSQL's now()
    seen_at: float | None = None
    stored_at: float | None = None

    @property
    def latency(self) -> float:
        """Seconds from the change in PCO to the watcher seeing it (only for a change it saw)."""
        assert self.seen_at is not None
        return self.seen_at - self.made_at


@dataclass
class Watch:
    changes: list[Change] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)


# --- setup ----------------------------------------------------------------------------------------

# --- the three actors -----------------------------------------------------------------------------

def make_changes(sandbox: Sandbox, linked: list[str], watch: Watch, seed: int = 11) -> None:
    """Edit PCO at random moments, recording what the church database should come to show."""
    rng = random.Random(seed)
    moments = sorted(rng.uniform(0, SPREAD_SECONDS) for _ in range(CHANGES))
    people = rng.sample(linked, CHANGES)
    start = time.monotonic()
    with sandbox.client() as api:
        for index, (moment, pco_id) in enumerate(zip(moments, people)):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
            made_at = time.time()
            if kind == "rename":
                value = f"Latency{index}"
                sandbox.controls.update_record("people/people", pco_id, {"last_name": value})
                change = Change(kind, pco_id, value, made_at)
            elif kind == "new person":
                data = {"type": "Person", "attributes": {"first_name": "Bench", "last_name": f"Newcomer{index}"}}
                created = api.post("/people/v2/people", json={"data": data}).json()["data"]
                change = Change(kind, created["id"], f"Newcomer{index}", made_at)
            else:
                address = f"latency{index}@example.org"
                data = {"type": "Email", "attributes": {"address": address, "location": "Work"}}
                api.post(f"/people/v2/people/{pco_id}/emails", json={"data": data}).raise_for_status()
                expected = normalize_email(address)
                assert expected is not None  # a non-blank address
                change = Change(kind, pco_id, expected, made_at)
            with watch.lock:
                watch.changes.append(change)


def watch_database(engine: sa.Engine, watch: Watch) -> None:
    """Note when each change first becomes visible to a reader of the church database."""
    names = sa.text("SELECT pco_id, last_name FROM people WHERE pco_id = ANY(:ids) AND is_active")
    emails = sa.text("SELECT p.pco_id, e.address_normalized FROM person_emails e JOIN people p ON p.id = e.person_id"
                     " WHERE p.pco_id = ANY(:ids)")
    stored = sa.text("SELECT resource_id, extract(epoch FROM min(received_at)) FROM webhook_inbox"
                     " WHERE resource_id = ANY(:ids) AND received_at >= to_timestamp(:since) GROUP BY resource_id")
    while not watch.done.is_set():
        with watch.lock:
            waiting = [c for c in watch.changes if c.seen_at is None]
        if waiting:
            ids = sorted({c.key for c in waiting})
            with engine.connect() as conn:
                seen_names = {tuple(row) for row in conn.execute(names, {"ids": ids})}
                seen_emails = {tuple(row) for row in conn.execute(emails, {"ids": ids})}
                first_stored = dict(conn.execute(stored, {"ids": ids, "since": min(c.made_at for c in waiting)}).all())
            now = time.time()
            for change in waiting:
                if change.stored_at is None and change.key in first_stored:
                    change.stored_at = float(first_stored[change.key])
                if (change.key, change.expected) in (seen_emails if change.kind == "new email" else seen_names):
                    change.seen_at = now
        time.sleep(POLL_SECONDS)


@dataclass
class SensorLoop:
    ticks: int = 0
    runs: int = 0
    run_seconds: list[float] = field(default_factory=list)


def drive_sensor(instance: dg.DagsterInstance, resources: dict, interval: int, watch: Watch, deadline: float,
                 loop: SensorLoop) -> None:
    """Evaluate the sensor every `interval` seconds and execute what it requests, as the daemon would."""
    cursor = None
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    next_tick = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(max(0.0, next_tick - time.monotonic()))
        next_tick += interval
        loop.ticks += 1
        context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                          resources={"church_db": resources["church_db"]})
        result = apply_webhooks_sensor(context)
        assert isinstance(result, dg.SensorResult)  # what the sensor returns
        cursor = result.cursor or cursor
        for request in result.run_requests or ():
            started = time.monotonic()
            run = apply_webhooks.execute_in_process(run_config={**request.run_config, **quiet},
                                                    resources=resources, instance=instance, tags=request.tags)
            loop.run_seconds.append(time.monotonic() - started)
            loop.runs += 1
            if not run.success:
                raise RuntimeError("an apply_webhooks run failed")
        with watch.lock:
            if len(watch.changes) == CHANGES and all(c.seen_at is not None for c in watch.changes):
                return


# --- report ---------------------------------------------------------------------------------------

def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    interval = sensor_interval_seconds()
    database_url = fresh_database(DATABASE)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    sandbox = Sandbox(SandboxConfig(app_id=DEMO_APP_ID, secret=DEMO_SECRET))   # PCO's 100 requests / 20 s
    sandbox.load(generate_organization(people=CHURCH_PEOPLE, seed=3, now=sandbox.clock.now()).pco)
    watch, loop = Watch(), SensorLoop()
    with run_sandbox_server(sandbox) as sandbox_url, tempfile.TemporaryDirectory() as workdir, \
            dg.instance_for_test() as instance:
        pco = PCOResource(base_url=sandbox_url, app_id=DEMO_APP_ID, secret=DEMO_SECRET)
        sync_webhook_resources(pco.get_client(), engine)
        with bind_socket("127.0.0.1", 0) as free:
            port = free.getsockname()[1]
        subscribe(pco.get_client(), engine, f"http://127.0.0.1:{port}/api/pco/webhook")
        # only the secrets `subscribe` stored
        receiver, _ = start_receiver(database_url, Path(workdir) / "receiver.log", secrets=(), port=port)
        with engine.connect() as conn:
            linked = list(conn.execute(sa.text("SELECT pco_id FROM people WHERE pco_id IS NOT NULL AND is_active"
                                               " ORDER BY pco_id")).scalars())
        resources = {"pco": pco, "church_db": PostgresResource(database_url=database_url)}
        staff = threading.Thread(target=make_changes, args=(sandbox, linked, watch), daemon=True)
        watcher = threading.Thread(target=watch_database, args=(engine, watch), daemon=True)
        try:
            watcher.start()
            staff.start()
            drive_sensor(instance, resources, interval, watch,
                         time.monotonic() + SPREAD_SECONDS + 4 * interval + 60, loop)
        finally:
            watch.done.set()
            receiver.terminate()
            receiver.wait(timeout=30)
            sandbox.close()
    engine.dispose()
    drop_database(DATABASE)

    changes = watch.changes
    missed = [c for c in changes if c.seen_at is None]
    seen = [c for c in changes if c.seen_at is not None]
    print(f"webhook end-to-end latency: {len(changes)} changes in PCO over {SPREAD_SECONDS} s, sensor every "
          f"{interval} s, {loop.ticks} ticks, {loop.runs} runs (median run {statistics.median(loop.run_seconds):.2f} s), "
          f"{os.cpu_count()} cores")
    print(f"{'change':<12} {'n':>3} {'delivery p50':>13} {'total p50 s':>12} {'total p95 s':>12} {'max s':>7}")
    rows = [(kind, [c for c in seen if c.kind == kind]) for kind, _ in MIX] + [("all", seen)]
    for kind, group in rows:
        if not group:
            continue
        delivery = [c.stored_at - c.made_at for c in group if c.stored_at is not None]
        latencies = [c.latency for c in group]
        print(f"{kind:<12} {len(group):>3} {statistics.median(delivery) if delivery else float('nan'):>13.2f} "
              f"{statistics.median(latencies):>12.2f} {_p95(latencies):>12.2f} {max(latencies):>7.2f}")
    target = interval + SLACK_SECONDS
    p95 = _p95([c.latency for c in seen]) if seen else float("inf")
    ok = not missed and p95 <= target
    print(f"target p95 ≤ interval + {SLACK_SECONDS} s = {target} s: {'met' if ok else 'NOT met'} "
          f"(p95 {p95:.2f} s = {p95 / target:.2f}x of the target; {len(missed)} change(s) never arrived)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

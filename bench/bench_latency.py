"""End-to-end latency through the real daemon, both ways: a church edit → PCO, and a PCO edit →
webhook → the church database.

Everything runs as in production, on loopback, in separate processes where production has them:
- PCO: the seeded sandbox church (CHURCH_PEOPLE people, PCO's own 100 requests / 20 s limit)
  served over HTTP by this process; its webhook sender delivers every change to the subscriptions
  `webhooks.subscriptions.subscribe` created through the API;
- the church database: a fresh database of the benchmarks' embedded PostgreSQL, made equal to PCO
  by an inbound sync first;
- the receiver: `pco-pipeline webhooks serve` in its own process, storing deliveries in webhook_inbox;
- Dagster: `dagster-daemon run` on the project's workspace with a DAGSTER_HOME holding the project's
  dagster.yaml (Postgres storage in a fresh database of the same server, the run queue, the
  `pco_api` pool, run monitoring); its sensor daemon ticks `push_church_changes_sensor` and
  `apply_webhooks_sensor`, its run queue launches each requested run through the default run
  launcher (a new `dagster api execute_run` process per run, as every deployment without a
  container launcher does).

Two "staff" threads edit at random moments over `--spread` seconds: one renames people in the church
database with plain SQL on a connection of its own (as any other application would: the triggers
write church_outbox), the other edits PCO as its UI would (mostly renames; some new people and new
emails, which need a re-read and matching). Church and PCO edits touch different people (no
conflicts). A watcher polls PCO's records and the church database every 50 ms.

Latency = first moment the watcher sees the edit on the other side − the moment it was made. Each
edit is then traced through Dagster's run records (the run whose config holds its outbox / inbox
row): waiting for a tick (edit or delivery → run created by the sensor), queue + launch (created →
the run's process started), work (started → edit seen). Target (issue 17): p95 ≤ 10 s both ways
with the sensors ticking every 5 s. Each `--intervals` entry is one round with its own daemon
(`default` leaves PCO_*_SENSOR_INTERVAL_SECONDS unset: 15 s).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from dagster._core.definitions.run_request import InstigatorType
from sqlalchemy.engine import make_url

from bench._support import drop_database, empty_database, fresh_database, start_receiver
from pco_pipeline.defs.pco.resources import PCOResource
from pco_pipeline.paths import project_root
from pco_pipeline.sync.normalize import normalize_email
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline.webhooks.server import bind_socket
from pco_pipeline.webhooks.subscriptions import subscribe
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox, SandboxConfig
from pco_sandbox.seed import generate_organization
from pco_sandbox.server import run_sandbox_server

DATABASE = f"pco_bench_latency_{os.getpid()}"          # two runs at once do not drop each other's
DAGSTER_DATABASE = f"pco_bench_latency_dagster_{os.getpid()}"
# 100 church edits within ~100 s must stay under the safety brake's share (10% of the linked people,
# sync/safety_brake.py) when a backlog makes one push carry many of them: at 400 people a slow daemon
# tripped it and the round measured the brake, not latency.
CHURCH_PEOPLE = 2000
TARGET_SECONDS = 10.0
TARGET_INTERVAL = 5           # the target holds at this sensor interval
POLL_SECONDS = 0.05
DAEMON_START_SECONDS = 180
INTERVAL_SETTINGS = ("PCO_OUTBOX_SENSOR_INTERVAL_SECONDS", "PCO_WEBHOOK_SENSOR_INTERVAL_SECONDS")
PCO_MIX = (("rename", 0.8), ("new person", 0.1), ("new email", 0.1))
CHURCH_TO_PCO, PCO_TO_CHURCH = "church edit → PCO", "PCO edit → church"
JOBS = {CHURCH_TO_PCO: "push_changes", PCO_TO_CHURCH: "apply_webhooks"}
SENSORS = {CHURCH_TO_PCO: "push_church_changes_sensor", PCO_TO_CHURCH: "apply_webhooks_sensor"}


@dataclass
class Edit:
    direction: str
    kind: str
    person: str               # the pco_id whose record shows the edit (a new person's own id)
    expected: str             # the last name, or the normalized email address, to be seen
    made_at: float            # wall clock (time.time()): comparable with Dagster's and PostgreSQL's timestamps
    queued_at: float | None = None     # when its church_outbox / webhook_inbox row was written
    inbox_resource: str = ""           # the resource id its webhook names (a PCO edit's)
    seen_at: float | None = None


@dataclass
class Edits:
    made: list[Edit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    expected: int = 0

    def add(self, edit: Edit) -> None:
        with self.lock:
            self.made.append(edit)

    def waiting(self) -> list[Edit]:
        with self.lock:
            return [e for e in self.made if e.seen_at is None]

    def all_seen(self) -> bool:
        with self.lock:
            return len(self.made) == self.expected and all(e.seen_at is not None for e in self.made)


# --- the actors -----------------------------------------------------------------------------------

def moments(rng: random.Random, count: int, spread: float) -> list[float]:
    return sorted(rng.uniform(0, spread) for _ in range(count))


def edit_church(database_url: str, people: list[str], spread: float, edits: Edits, seed: int = 17) -> None:
    """Rename `people` in the church database at random moments with plain SQL, as another application would."""
    rng = random.Random(seed)
    other_application = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    rename = sa.text("UPDATE people SET last_name = :name WHERE pco_id = :p")
    start = time.monotonic()
    with other_application.connect() as conn:
        for index, (moment, pco_id) in enumerate(zip(moments(rng, len(people), spread), people)):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            name = f"Edited{index}"
            conn.execute(rename, {"name": name, "p": pco_id})   # the trigger writes church_outbox in this commit
            conn.commit()
            made_at = time.time()
            edits.add(Edit(CHURCH_TO_PCO, "rename", pco_id, name, made_at, made_at))
    other_application.dispose()


def edit_pco(sandbox: Sandbox, people: list[str], spread: float, edits: Edits, seed: int = 11) -> None:
    """Edit PCO at random moments as its UI would (no API budget used), per PCO_MIX."""
    rng = random.Random(seed)
    start = time.monotonic()
    for index, (moment, pco_id) in enumerate(zip(moments(rng, len(people), spread), people)):
        time.sleep(max(0.0, start + moment - time.monotonic()))
        kind = rng.choices([k for k, _ in PCO_MIX], [w for _, w in PCO_MIX])[0]
        made_at = time.time()
        if kind == "rename":
            sandbox.controls.update_record("people/people", pco_id, {"last_name": f"Latency{index}"})
            edit = Edit(PCO_TO_CHURCH, kind, pco_id, f"Latency{index}", made_at, inbox_resource=pco_id)
        elif kind == "new person":
            person = sandbox.controls.create_person(first_name="Bench", last_name=f"Newcomer{index}")
            edit = Edit(PCO_TO_CHURCH, kind, person.id, f"Newcomer{index}", made_at, inbox_resource=person.id)
        else:
            address = f"latency{index}@example.org"
            email = sandbox.controls.create("people/emails", {"address": address, "location": "Work"},
                                            parent_id=pco_id)
            expected = normalize_email(address)
            assert expected is not None  # a non-blank address
            edit = Edit(PCO_TO_CHURCH, kind, pco_id, expected, made_at, inbox_resource=email.id)
        edits.add(edit)


def watch(sandbox: Sandbox, engine: sa.Engine, edits: Edits) -> None:
    """Note when each edit first shows on the other side (and when a PCO edit's webhook was stored)."""
    names = sa.text("SELECT pco_id, last_name FROM people WHERE pco_id = ANY(:ids) AND is_active")
    emails = sa.text("SELECT p.pco_id, e.address_normalized FROM person_emails e JOIN people p ON p.id = e.person_id"
                     " WHERE p.pco_id = ANY(:ids)")
    stored = sa.text("SELECT resource_id, extract(epoch FROM min(received_at)) FROM webhook_inbox"
                     " WHERE resource_id = ANY(:ids) AND received_at >= to_timestamp(:since) GROUP BY resource_id")
    while not edits.done.is_set():
        waiting = edits.waiting()
        inbound = [e for e in waiting if e.direction == PCO_TO_CHURCH]
        for edit in waiting:
            if edit.direction == CHURCH_TO_PCO and \
                    sandbox.store.require("people/people", edit.person).attributes.get("last_name") == edit.expected:
                edit.seen_at = time.time()
        if inbound:
            with engine.connect() as conn:
                ids = sorted({e.person for e in inbound})
                seen = {tuple(row) for row in conn.execute(names, {"ids": ids})}
                seen |= {tuple(row) for row in conn.execute(emails, {"ids": ids})}
                first_stored = {row[0]: float(row[1]) for row in conn.execute(
                    stored, {"ids": sorted({e.inbox_resource for e in inbound}),
                             "since": min(e.made_at for e in inbound)})}
            now = time.time()
            for edit in inbound:
                if edit.queued_at is None and edit.inbox_resource in first_stored:
                    edit.queued_at = first_stored[edit.inbox_resource]
                if (edit.person, edit.expected) in seen:
                    edit.seen_at = now
        time.sleep(POLL_SECONDS)


# --- the daemon -----------------------------------------------------------------------------------

@contextmanager
def running_daemon(home: Path, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` on the project's workspace in its own process group, yielded once both
    sensors have ticked; stopped (SIGTERM, then SIGKILL to its group) on exit."""
    command = [str(Path(sys.executable).with_name("dagster-daemon")), "run",
               "--workspace", str(project_root() / "workspace.yaml")]
    with log_path.open("w") as log:
        # cwd: DAGSTER_HOME, not the checkout, whose .env Dagster would load over the environment.
        process = subprocess.Popen(command, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + DAEMON_START_SECONDS
        while not all(f"sensor: {name}" in log_path.read_text() for name in
                      ("push_church_changes_sensor", "apply_webhooks_sensor")):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the daemon did not tick both sensors:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield process
    finally:
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


def daemon_environment(home: Path, dagster_url: str, database_url: str, sandbox_url: str,
                       interval: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PCO_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), DAGSTER_PG_URL=dagster_url, DATABASE_URL=database_url,
               PCO_API_BASE=sandbox_url, PCO_APP_ID=DEMO_APP_ID, PCO_SECRET=DEMO_SECRET,
               PCO_NIGHTLY_CRON="0 3 29 2 *")   # keep the nightly full sync out of the round
    if interval is not None:
        env.update({name: str(interval) for name in INTERVAL_SETTINGS})
    return env


# --- a round --------------------------------------------------------------------------------------

@dataclass
class RunTimes:
    """One run's moments (wall clock) from Dagster's run record and event log."""
    created: float                # the sensor's tick created it (queued)
    starting: float | None        # the run queue dequeued it and called the run launcher
    started: float | None         # its run worker process is up (RUN_START)
    step_started: float | None    # its step began (after the step's process, if any, and a pco_api slot)
    ended: float | None
    failure: str | None           # why it failed or was canceled (its first failure event), else None


@dataclass
class Round:
    interval: int
    edits: list[Edit]
    runs: dict[str, list[RunTimes]]                 # per direction, in the order their steps began
    tick_gaps: dict[str, list[float]]               # per direction: seconds between its sensor's ticks


def _why(event: dg.EventLogEntry) -> str:
    """A failure event's reason: a step's own words (dg.Failure's description, else its error), else the message."""
    data = getattr(event.dagster_event, "event_specific_data", None)
    user = getattr(data, "user_failure_data", None)
    error = getattr(data, "error", None)
    while error is not None and error.cause is not None:   # the step's own exception, not Dagster's wrapper
        error = error.cause
    text = (user.description if user is not None else None) or (error.message if error is not None else None) \
        or event.message or ""
    return text.strip().splitlines()[0][:300] if text.strip() else "failed"


def run_times(instance: dg.DagsterInstance, record: dg.RunRecord) -> RunTimes:
    first: dict[dg.DagsterEventType, float] = {}
    failure = None
    for event in instance.all_logs(record.dagster_run.run_id):
        if event.dagster_event is None:
            continue
        first.setdefault(event.dagster_event.event_type, event.timestamp)
        if failure is None and event.dagster_event.is_failure:
            failure = _why(event)
    ended_badly = record.dagster_run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
    return RunTimes(record.create_timestamp.timestamp(), first.get(dg.DagsterEventType.RUN_STARTING),
                    record.start_time, first.get(dg.DagsterEventType.STEP_START), record.end_time,
                    (failure or f"status {record.dagster_run.status.value}") if ended_badly else None)


def collect_runs(instance: dg.DagsterInstance) -> dict[str, list[RunTimes]]:
    return {direction: sorted((run_times(instance, record) for record in
                               instance.get_run_records(dg.RunsFilter(job_name=job))),
                              key=lambda run: run.step_started or float("inf"))
            for direction, job in JOBS.items()}


def collect_tick_gaps(instance: dg.DagsterInstance, since: float) -> dict[str, list[float]]:
    """Seconds between consecutive ticks of each direction's sensor from `since` (the ticks the
    daemon recorded): how often the sensor actually ran, whatever its interval says."""
    states = {state.instigator_name: state for state in
              instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)}
    gaps = {}
    for direction, name in SENSORS.items():
        state = states.get(name)
        ticks = [] if state is None else sorted(tick.timestamp for tick in instance.get_ticks(
            state.instigator_origin_id, state.selector_id, after=since, limit=10_000))
        gaps[direction] = [b - a for a, b in zip(ticks, ticks[1:])]
    return gaps


def carrier(runs: list[RunTimes], edit: Edit) -> RunTimes | None:
    """The run whose step was under way when the edit showed on the other side (runs of one
    direction take turns in the pco_api pool): the last whose step began before."""
    begun = [run for run in runs if run.step_started is not None and edit.seen_at is not None
             and run.step_started <= edit.seen_at]
    return begun[-1] if begun else None


def run_round(interval: int | None, per_direction: int, spread: float, workdir: Path, dagster_yaml: Path) -> Round:
    database_url = fresh_database(DATABASE)
    dagster_url = make_url(empty_database(DAGSTER_DATABASE)).set(drivername="postgresql+psycopg2") \
        .render_as_string(hide_password=False)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    sandbox = Sandbox(SandboxConfig(app_id=DEMO_APP_ID, secret=DEMO_SECRET))   # PCO's 100 requests / 20 s
    sandbox.load(generate_organization(people=CHURCH_PEOPLE, seed=3, now=sandbox.clock.now()).pco)
    workdir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix=f"dagster_home_{interval or 'default'}_", dir=workdir))
    shutil.copy(dagster_yaml, home / "dagster.yaml")
    edits = Edits(expected=2 * per_direction)
    with run_sandbox_server(sandbox) as sandbox_url:
        env = daemon_environment(home, dagster_url, database_url, sandbox_url, interval)
        pco = PCOResource(base_url=sandbox_url, app_id=DEMO_APP_ID, secret=DEMO_SECRET)
        sync_webhook_resources(pco.get_client(), engine)
        with bind_socket("127.0.0.1", 0) as free:
            port = free.getsockname()[1]
        subscribe(pco.get_client(), engine, f"http://127.0.0.1:{port}/api/pco/webhook")
        receiver, _ = start_receiver(database_url, home / "receiver.log", secrets=(), port=port)
        with engine.connect() as conn:
            linked = list(conn.execute(sa.text("SELECT pco_id FROM people WHERE pco_id IS NOT NULL AND is_active"
                                               " ORDER BY pco_id")).scalars())
        people = random.Random(5).sample(linked, 2 * per_direction)
        try:
            with running_daemon(home, env, home / "daemon.log"):
                actors = [threading.Thread(target=watch, args=(sandbox, engine, edits), daemon=True),
                          threading.Thread(target=edit_church, daemon=True,
                                           args=(database_url, people[:per_direction], spread, edits)),
                          threading.Thread(target=edit_pco, daemon=True,
                                           args=(sandbox, people[per_direction:], spread, edits))]
                started = time.time()
                for actor in actors:
                    actor.start()
                deadline = time.monotonic() + spread + 6 * (interval or 15) + 120
                while time.monotonic() < deadline and not edits.all_seen():
                    time.sleep(0.5)
                edits.done.set()
                os.environ["DAGSTER_PG_URL"] = dagster_url   # the instance's dagster.yaml reads it
                with dg.DagsterInstance.from_config(str(home)) as instance:
                    runs = collect_runs(instance)
                    tick_gaps = collect_tick_gaps(instance, started)
        finally:
            edits.done.set()
            receiver.terminate()
            receiver.wait(timeout=30)
            sandbox.close()
    engine.dispose()
    drop_database(DATABASE)
    drop_database(DAGSTER_DATABASE)
    return Round(interval or 15, edits.made, runs, tick_gaps)


# --- report ---------------------------------------------------------------------------------------

def p95(values: Sequence[float]) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def _gap(gaps: Sequence[float]) -> str:
    return f"{statistics.median(gaps):5.2f} / {max(gaps):5.2f}" if gaps else "–"


def _p50_p95(values: Sequence[float]) -> str:
    return f"{statistics.median(values):5.2f} / {p95(values):5.2f}" if values else "    – /     –"


def report(result: Round) -> bool:
    """Print the round's table; whether the target holds (only judged at TARGET_INTERVAL)."""
    print(f"\nsensor interval {result.interval} s ({os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f})")
    print(f"{'direction':<19} {'n':>4} {'seen':>4} {'p50 s':>6} {'p95 s':>6} {'max s':>6} {'p95/10s':>7}")
    ok = True
    for direction in JOBS:
        edits = [e for e in result.edits if e.direction == direction]
        seen = sorted(e.seen_at - e.made_at for e in edits if e.seen_at is not None)
        top = max(seen) if seen else float("nan")
        print(f"{direction:<19} {len(edits):>4} {len(seen):>4} {statistics.median(seen) if seen else float('nan'):>6.2f} "
              f"{p95(seen):>6.2f} {top:>6.2f} {p95(seen) / TARGET_SECONDS:>6.2f}x")
        ok = ok and len(seen) == len(edits) > 0 and p95(seen) <= TARGET_SECONDS
    print("where the time goes, p50 / p95 s — delivery: edit → its church_outbox / webhook_inbox row; tick: row →"
          " run created by a sensor tick; queue: created → dequeued, launcher called; launch: → run process up;"
          " step: → step began (step process, pco_api slot); work: → edit seen on the other side. Each edit is"
          " traced through the run whose step was under way when it showed (Dagster's run records and events);"
          " tick gap: seconds between the direction's sensor's ticks during the round;"
          " 'early': edits a run already under way when they were made carried (a push reads the church's"
          " changes, not only its batch's rows)")
    stages = ("delivery", "tick", "queue", "launch", "step", "work")
    print(f"{'direction':<19} " + " ".join(f"{stage:>13}" for stage in stages)
          + f" {'early':>5} {'runs':>5} {'run p50 s':>9} {'tick gap p50 / max s':>20}")
    for direction, runs in result.runs.items():
        traced = [(e, carrier(runs, e)) for e in result.edits if e.direction == direction and e.queued_at]
        moments = [(e.made_at, e.queued_at, run.created, run.starting, run.started, run.step_started, e.seen_at)
                   for e, run in traced if run is not None and run.created >= (e.queued_at or e.made_at)]
        early = sum(run is not None and run.created < (e.queued_at or e.made_at) for e, run in traced)
        split = [[b - a for a, b in (m[i:i + 2] for m in moments) if a is not None and b is not None]
                 for i in range(len(stages))]
        lengths = [r.ended - r.started for r in runs if r.started and r.ended]
        failures = sorted({r.failure for r in runs if r.failure})
        print(f"{direction:<19} " + " ".join(f"{_p50_p95(values):>13}" for values in split)
              + f" {early:>5} {len(runs):>5} {statistics.median(lengths) if lengths else float('nan'):>9.2f}"
              + f" {_gap(result.tick_gaps[direction]):>20}"
              + "".join(f"\n    run failed: {failure}" for failure in failures))
    return ok or result.interval != TARGET_INTERVAL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bench_latency")
    parser.add_argument("--intervals", nargs="+", default=["default", str(TARGET_INTERVAL)],
                        help="sensor intervals in seconds, one round each ('default': the settings unset)")
    parser.add_argument("--edits", type=int, default=100, help="edits per direction per round (default 100)")
    parser.add_argument("--spread", type=float, default=100, help="seconds over which the edits are made")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the daemon's and receiver's logs in DIR (default: a temporary directory)")
    parser.add_argument("--dagster-yaml", type=Path, default=project_root() / "dagster.yaml",
                        help="the instance settings to run with (default: the project's dagster.yaml)")
    args = parser.parse_args(argv if argv is not None else [])
    ok = True
    with tempfile.TemporaryDirectory() as temporary:
        workdir = args.keep or Path(temporary)
        for interval in args.intervals:
            result = run_round(None if interval == "default" else int(interval), args.edits, args.spread, workdir,
                               args.dagster_yaml)
            ok = report(result) and ok
    judged = str(TARGET_INTERVAL) in args.intervals
    print(f"\ntarget: p95 ≤ {TARGET_SECONDS:g} s both ways at {TARGET_INTERVAL} s: "
          + ("met" if ok else "NOT met") if judged else f"not judged (no round at {TARGET_INTERVAL} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`pco-pipeline demo`: the whole product against a sandbox church, through the jobs staff run.

1. the embedded PostgreSQL (or DATABASE_URL), migrated;
2. a sandbox PCO organization (2,000 people by default) kept in `.pco_pipeline/sandbox/`, and the
   webhook receiver, subscribed to it through the PCO API;
3. the sandbox's overlapping local church dataset, loaded once into the church database;
4. `full_sync` → `full_push` → a burst of changes in PCO, delivered as webhooks and applied by
   the sensor's `apply_webhooks` runs;
5. two-way sync in words a church office follows: a last name corrected in the church database
   (plain SQL), previewed field by field by `push_people`'s dry run, reaches PCO through
   `push_people`; then the same fields changed on both sides:
   the next `sync_people` records the conflicts, one decided by its policy (`pco`: PCO's value kept, the
   church's kept in the conflict record), one held for a person (the demo's policy file makes
   people's nickname `manual`), which the demo resolves as `pco-pipeline conflicts resolve ID
   --take church` does, and `push_people` gives PCO the chosen value; each outcome is read back
   from both sides and checked;
6. a final reconciliation (`full_sync` with a full refresh);
7. a report: per entity created / updated / unchanged / quarantined, requests used against the
   limit, the time each step took, and whether church and PCO agree. Exit code 0 only if they do
   and every check of step 5 held.

A second run reuses both sides' data and is incremental.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import threading
import time
from collections import defaultdict
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field

import sqlalchemy as sa

from pco_pipeline.commands.conflicts import run_resolve
from pco_pipeline.db.engine import get_engine
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.runs.launch import prepare_environment, run_job
from pco_pipeline.paths import state_dir
from pco_pipeline.sync.policies import POLICIES_SETTING

DEFAULT_PEOPLE = 2000
DEFAULT_RATE_LIMIT = "100/2s"   # PCO's 100 / 20 s, ten times faster: the demo stays a demo
RECEIVER_PORT = 8787
BURST_CHANGES = 40
SURNAMES = ("Whitfield", "Okafor", "Lindqvist", "Moreau", "Castellanos", "Nakamura")
NICKNAMES = ("Robbie", "Bert", "Kit", "Frankie", "Dot", "Gus")
# The demo's conflict policies: the shipped defaults, and one field held for a person.
DEMO_POLICIES = """# pco-pipeline demo: the shipped policies, except that a nickname changed differently on both
# sides waits for a person to decide (`pco-pipeline conflicts resolve`).
[people]
nickname = "manual"
"""


def register(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="run the whole product against a sandbox church, with a report")
    demo.add_argument("--people", type=int, default=DEFAULT_PEOPLE, help="people in the sandbox church")
    demo.add_argument("--seed", type=int, default=1, help="seed of the sandbox church")
    demo.add_argument("--rate-limit", default=DEFAULT_RATE_LIMIT,
                      help="the sandbox's rate limit (PCO's is 100/20s; default %(default)s)")
    demo.add_argument("--receiver-port", type=int, default=RECEIVER_PORT,
                      help="loopback port of the webhook receiver (its URL is what PCO is subscribed to)")
    demo.set_defaults(handler=run_demo)


@dataclass
class StepTiming:
    name: str
    seconds: float
    requests: int
    ok: bool


@dataclass
class DemoReport:
    steps: list[StepTiming] = field(default_factory=list)
    # entity -> counter -> total over every run of the demo
    entities: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    notes: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)   # what the two-way stories verified

    def check(self, what: str, holds: bool) -> None:
        self.checks.append((what, holds))
        print(f"     {'✓' if holds else '✗ NOT'} {what}", flush=True)

    def add_run(self, result) -> None:
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization
            key = materialization.asset_key.to_user_string()
            if not key.startswith("church/"):
                continue
            entity = self.entities[key.removeprefix("church/")]
            for counter in ("created", "updated", "deactivated"):
                value = materialization.metadata.get(counter)
                if value is not None:
                    entity[counter] += int(value.value)
            if "unchanged" in materialization.metadata:  # the latest run's, not a sum over runs
                entity["unchanged"] = int(materialization.metadata["unchanged"].value)


class RequestMeter:
    """Shows a live line per step: elapsed time and requests sent to PCO (the sandbox counts them)."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.interactive = sys.stdout.isatty()

    def total(self) -> int:
        return int(self.sandbox.controls.counters()["requests"])

    @contextmanager
    def step(self, report: DemoReport, name: str):
        start, before = time.monotonic(), self.total()
        done = threading.Event()

        def show() -> None:
            every = 0.5 if self.interactive else 15.0
            while not done.wait(every):
                line = f"  … {name}: {time.monotonic() - start:5.1f} s, {self.total() - before} requests"
                print(f"\r{line}" if self.interactive else line, end="" if self.interactive else "\n", flush=True)

        thread = threading.Thread(target=show, daemon=True)
        thread.start()
        outcome = {"ok": True}
        try:
            yield outcome
        finally:
            done.set()
            thread.join()
            seconds, used = time.monotonic() - start, self.total() - before
            if self.interactive:
                print("\r" + " " * 70 + "\r", end="")
            mark = "ok" if outcome["ok"] else "FAILED"
            print(f"  {name:<34} {mark:<6} {seconds:6.1f} s  {used:5d} requests", flush=True)
            report.steps.append(StepTiming(name, seconds, used, outcome["ok"]))


def _church_is_empty(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT NOT EXISTS (SELECT 1 FROM people)")).scalar_one()


def _forget_church_data(engine: sa.Engine) -> None:
    """The sandbox this data came from is gone: start both sides afresh."""
    with engine.begin() as conn:
        tables = conn.execute(sa.text(
            "SELECT string_agg(quote_ident(table_name), ', ') FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name <> 'schema_migrations'")).scalar()
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def _open_sandbox(args, engine: sa.Engine):
    """The sandbox organization, reopened from its state file or created (with the local dataset)."""
    from pco_pipeline.db.local_dataset import load_local_dataset
    from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
    from pco_sandbox.core import Sandbox, SandboxConfig
    from pco_pipeline.demo_data import generate_church

    state = state_dir() / "sandbox" / f"church-{args.people}-{args.seed}.json"
    config = SandboxConfig(app_id=DEMO_APP_ID, secret=DEMO_SECRET, rate_limit=args.rate_limit)
    if state.exists():
        sandbox = Sandbox.open(state, people=args.people, seed=args.seed, config=config)
        print(f"sandbox church: reopened {state} ({sandbox.store.count('people/people')} people in PCO)")
        if _church_is_empty(engine):
            print("  the church database is empty: loading the sandbox's local church dataset")
            load_local_dataset(engine, generate_church(people=args.people, seed=args.seed).local)
        return sandbox, state
    sandbox = Sandbox(config)
    # generate_church's default `now` is fixed, so the local half can be regenerated identically later.
    church = generate_church(people=args.people, seed=args.seed)
    sandbox.load(church.pco)
    sandbox.save(state)
    if not _church_is_empty(engine):
        print("  the church database holds data from an earlier sandbox: clearing it")
        _forget_church_data(engine)
    counts = load_local_dataset(engine, church.local)
    print(f"sandbox church: {args.people} people in PCO (seed {args.seed}), state in {state}")
    print(f"local church dataset: {counts.get('people', 0)} people, {counts.get('families', 0)} families, "
          f"{counts.get('church_group', 0)} groups loaded into the church database")
    return sandbox, state


def _burst(sandbox, rng: random.Random) -> dict[str, int]:
    """Changes a church office makes in PCO during a day: edits, new people, a deletion, a merge."""
    controls = sandbox.controls
    people = sorted(sandbox.store.all("people/people"), key=lambda r: int(r.id))
    done: dict[str, int] = defaultdict(int)
    controls.advance_clock(3600)
    # A day's edits, not a bulk change: a small church's share stays well under the safety brake's.
    for person in rng.sample(people, min(BURST_CHANGES, len(people) // 20)):
        controls.update_record("people/people", person.id, {"nickname": rng.choice(["Sam", "Liz", "Jo", "Max"])})
        done["people updated"] += 1
    for n in range(3):
        controls.create_person(first_name=f"Visitor{n}", last_name="Demo", gender="F")
        done["people created"] += 1
    emails = sandbox.store.all("people/emails")
    for email in rng.sample(emails, min(5, len(emails))):
        controls.update_record("people/emails", email.id,
                               {"address": f"updated.{email.id}@example.org"})
        done["emails changed"] += 1
    survivors = [p for p in people if p.attributes.get("status") == "active"]
    gone, keep, merged = rng.sample(survivors, 3)
    controls.delete_person(gone.id)
    done["people deleted"] += 1
    controls.merge_people(keep.id, merged.id)
    done["people merged"] += 1
    return done


@dataclass(frozen=True)
class DemoPerson:
    id: int
    pco_id: str
    first_name: str
    last_name: str
    nickname: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def _people_both_sides_agree_on(engine: sa.Engine, sandbox, count: int, rng: random.Random) -> list[DemoPerson]:
    """`count` linked, active people whose last name and nickname church and PCO hold alike, with
    no conflict or quarantine pending (so each story starts from two sides in agreement)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT p.id, p.pco_id, p.first_name, p.last_name, p.nickname FROM people p
            WHERE p.pco_id IS NOT NULL AND p.is_active AND p.merged_into_id IS NULL
              AND NOT EXISTS (SELECT 1 FROM sync_conflicts c WHERE c.entity = 'people' AND c.pco_id = p.pco_id
                              AND c.applied_at IS NULL)
              AND NOT EXISTS (SELECT 1 FROM sync_quarantine q WHERE q.resolved_at IS NULL
                              AND (q.pco_id = p.pco_id OR q.local_id = p.id))
            ORDER BY p.id""")).all()
    agreeing = []
    for row in rows:
        record = sandbox.store.get("people/people", row.pco_id)
        if record is None or record.attributes.get("status") != "active":
            continue
        if (record.attributes.get("last_name"), record.attributes.get("nickname")) == (row.last_name, row.nickname):
            agreeing.append(DemoPerson(row.id, row.pco_id, row.first_name, row.last_name, row.nickname))
    return rng.sample(agreeing, count)


def _church_person(engine: sa.Engine, person_id: int) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT last_name, nickname FROM people WHERE id = :id"), {"id": person_id}).one()


def _other(choices: tuple[str, ...], *avoid: str | None, rng: random.Random) -> str:
    return rng.choice([choice for choice in choices if choice not in avoid])


def _dry_run_fields(result) -> str:
    """The field table (base → church → PCO → planned action) a push job's dry run showed."""
    return "\n".join(event.event_specific_data.metadata["fields"].value for event in result.all_events
                     if event.is_successful_output and "fields" in event.event_specific_data.metadata)


def _two_way_stories(engine: sa.Engine, sandbox, meter: RequestMeter, report: DemoReport, rng: random.Random) -> None:
    """A correction made in the church reaching PCO, then the same fields changed on both sides:
    the conflicts recorded, one decided by its policy, one resolved by a person, both sides
    holding the chosen value. Told in words; every outcome read back from both sides and checked."""
    corrected, decided, held = _people_both_sides_agree_on(engine, sandbox, 3, rng)
    pco_people = "people/people"

    print("\n  1. A correction made in the church reaches PCO", flush=True)
    new_last = _other(SURNAMES, corrected.last_name, rng=rng)
    print(f"     In the church database, {corrected.name}'s last name is corrected to {new_last!r} with plain SQL:")
    print(f"       UPDATE people SET last_name = '{new_last}' WHERE id = {corrected.id};")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET last_name = :last WHERE id = :id"),
                     {"last": new_last, "id": corrected.id})
    print("     Staff first look at what the push would do (`pco-pipeline push people --dry-run`):", flush=True)
    with meter.step(report, "push_people --dry-run") as step:
        from pco_pipeline.defs.outbound.jobs import dry_run_config

        preview = run_job("push_people", run_config=dry_run_config("push_people"))
        step["ok"] = preview.success
    record = f"| people {corrected.id} (PCO {corrected.pco_id}) | last_name |"
    planned = [line for line in _dry_run_fields(preview).splitlines() if record in line]
    if planned:
        print("       | # | record | field | base | church | PCO | planned action |")
    for line in planned:
        print(f"       {line}")
    report.check("the dry run shows the correction going to PCO, and sent nothing",
                 any(line.endswith("| send to PCO |") for line in planned)
                 and sandbox.store.require(pco_people, corrected.pco_id).attributes.get("last_name")
                 == corrected.last_name)
    print("     Staff run the people push (`pco-pipeline push people`):", flush=True)
    with meter.step(report, "push_people (the correction)") as step:
        step["ok"] = run_job("push_people").success
    in_pco = sandbox.store.require(pco_people, corrected.pco_id).attributes
    print(f"     PCO person {corrected.pco_id} now reads: {in_pco.get('first_name')} {in_pco.get('last_name')}")
    report.check("PCO holds the church's correction", in_pco.get("last_name") == new_last)

    print("\n  2. The same field changed differently on both sides", flush=True)
    church_last = _other(SURNAMES, decided.last_name, rng=rng)
    pco_last = _other(SURNAMES, decided.last_name, church_last, rng=rng)
    church_nick = _other(NICKNAMES, held.nickname, rng=rng)
    pco_nick = _other(NICKNAMES, held.nickname, church_nick, rng=rng)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET last_name = :v WHERE id = :id"), {"v": church_last, "id": decided.id})
        conn.execute(sa.text("UPDATE people SET nickname = :v WHERE id = :id"), {"v": church_nick, "id": held.id})
    sandbox.controls.advance_clock(60)
    sandbox.controls.update_record(pco_people, decided.pco_id, {"last_name": pco_last})
    sandbox.controls.update_record(pco_people, held.pco_id, {"nickname": pco_nick})
    print(f"     {decided.name}'s last name: the church writes {church_last!r}, the PCO office {pco_last!r}")
    print(f"     {held.name}'s nickname: the church writes {church_nick!r}, the PCO office {pco_nick!r}")
    print("     The next people sync from PCO (`pco-pipeline sync people`) finds both sides changed since they "
          "last agreed:", flush=True)
    with meter.step(report, "sync_people (both sides changed)") as step:
        step["ok"] = run_job("sync_people").success
    with engine.connect() as conn:
        by_policy = conn.execute(sa.text(
            "SELECT id, church_value, pco_value, decided_by FROM sync_conflicts WHERE entity = 'people'"
            " AND pco_id = :p AND field = 'last_name' ORDER BY id DESC LIMIT 1"), {"p": decided.pco_id}).first()
        waiting = conn.execute(sa.text(
            "SELECT id, decided_at FROM sync_conflicts WHERE entity = 'people' AND pco_id = :p"
            " AND field = 'nickname' ORDER BY id DESC LIMIT 1"), {"p": held.pco_id}).first()
    church_now = _church_person(engine, decided.id).last_name
    if by_policy is not None:
        print(f"     Conflict {by_policy.id}: {decided.name}'s last name. Policy `pco` decides: PCO's {pco_last!r} "
              f"stays and is written into the church database; the church's {church_last!r} is kept in the "
              f"conflict record (`pco-pipeline conflicts show {by_policy.id}`).")
    report.check("the conflict is recorded with both values and decided by policy pco",
                 by_policy is not None and by_policy.decided_by == "policy pco"
                 and (by_policy.church_value, by_policy.pco_value) == (church_last, pco_last))
    report.check(f"the church database now holds PCO's {pco_last!r}", church_now == pco_last)
    if waiting is not None:
        print(f"     Conflict {waiting.id}: {held.name}'s nickname. Policy `manual`: held for a person; neither "
              "side changes until someone decides.")
    report.check("the nickname conflict is held for a person, neither side changed",
                 waiting is not None and waiting.decided_at is None
                 and _church_person(engine, held.id).nickname == church_nick
                 and sandbox.store.require(pco_people, held.pco_id).attributes.get("nickname") == pco_nick)
    if waiting is None:
        return
    print(f"     A staff member keeps the church's {church_nick!r}:")
    print(f"       pco-pipeline conflicts resolve {waiting.id} --take church")
    said = io.StringIO()
    with redirect_stdout(said):   # the command's own answer, indented with the story
        resolved = run_resolve(argparse.Namespace(conflict_id=waiting.id, take="church", value=None)) == 0
    print(f"     {said.getvalue().strip()}")
    report.check("the conflict is resolved", resolved)
    print("     Staff run the people push (`pco-pipeline push people`):", flush=True)
    with meter.step(report, "push_people (the decision)") as step:
        step["ok"] = run_job("push_people").success
    in_pco = sandbox.store.require(pco_people, held.pco_id).attributes.get("nickname")
    in_church = _church_person(engine, held.id).nickname
    print(f"     {held.name}'s nickname now: church {in_church!r}, PCO {in_pco!r}")
    report.check("both sides hold the chosen nickname", in_pco == in_church == church_nick)


def _apply_inbox_like_the_sensor(database_url: str) -> list:
    """Evaluate `apply_webhooks_sensor` as the daemon would and run what it asks for, until it rests."""
    import dagster as dg

    from pco_pipeline.defs.church_db.resources import PostgresResource
    from pco_pipeline.defs.webhooks.sensor import apply_webhooks_sensor

    results, cursor = [], None
    with dg.DagsterInstance.get() as instance:
        for _ in range(50):
            context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                              resources={"church_db": PostgresResource(database_url=database_url)})
            evaluation = apply_webhooks_sensor(context)
            assert isinstance(evaluation, dg.SensorResult)  # what the sensor returns
            if not evaluation.run_requests:
                break
            cursor = evaluation.cursor or cursor
            for request in evaluation.run_requests:
                results.append(run_job("apply_webhooks", run_config=dict(request.run_config),
                                       tags=dict(request.tags)))
    return results


def _agreement(engine: sa.Engine, sandbox) -> tuple[bool, list[str]]:
    """Whether church and PCO agree: the reconciliation over every entity, and people counted directly."""
    from pco_pipeline.sync.reconcile import reconcile

    lines = []
    reconciliation = reconcile(engine)
    lines.append(reconciliation.table())
    pco_people = {r.id for r in sandbox.store.all("people/people")}
    with engine.connect() as conn:
        linked = set(conn.execute(sa.text("SELECT pco_id FROM people WHERE pco_id IS NOT NULL AND is_active")).scalars())
        held = set(conn.execute(sa.text("SELECT record_key FROM sync_quarantine WHERE entity = 'people'"
                                        " AND resolved_at IS NULL")).scalars())
    missing, extra = pco_people - linked - held, linked - pco_people
    lines.append(f"people in PCO: {len(pco_people)}; linked and active in the church: {len(linked)}; "
                 f"held in quarantine for review: {len(held & pco_people)}; missing: {len(missing)}; "
                 f"extra: {len(extra)}")
    return reconciliation.in_sync and not missing and not extra, lines


def run_demo(args) -> int:
    from pco_pipeline.pco.client import PCOClient
    from pco_pipeline.pco.config import PCOConfig
    from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
    from pco_sandbox.server import run_sandbox_server
    from pco_pipeline.webhooks.app import create_app
    from pco_pipeline.webhooks.server import BackgroundServer
    from pco_pipeline.webhooks.settings import ReceiverSettings
    from pco_pipeline.webhooks.subscriptions import stored_secrets, subscribe

    started = time.monotonic()
    target = prepare_environment()
    # The demo's own conflict policies (its church is the sandbox's): one field held for a person.
    policies = state_dir() / "demo_policies.toml"
    policies.parent.mkdir(parents=True, exist_ok=True)
    policies.write_text(DEMO_POLICIES)
    os.environ[POLICIES_SETTING] = str(policies)
    engine = get_engine(target.url)
    applied = apply_migrations(engine)
    print(f"church database: {target.display_url()} ({target.source}); "
          f"{len(applied)} migration(s) applied now" if applied else
          f"church database: {target.display_url()} ({target.source}); schema up to date")
    sandbox, state = _open_sandbox(args, engine)
    report = DemoReport()
    meter = RequestMeter(sandbox)
    ok = True
    try:
        with run_sandbox_server(sandbox) as base_url:
            # The Dagster resources read these, as they would a real organization's settings. Echoes
            # of the push arrive by the thousand: bigger inbox batches mean fewer runs.
            os.environ.update(PCO_API_BASE=base_url, PCO_APP_ID=DEMO_APP_ID, PCO_SECRET=DEMO_SECRET)
            os.environ.setdefault("PCO_WEBHOOK_BATCH_SIZE", "1000")
            receiver_url = f"http://127.0.0.1:{args.receiver_port}/api/pco/webhook"
            with PCOClient(PCOConfig.from_env()) as client:
                subscribed = subscribe(client, engine, receiver_url)
            settings = ReceiverSettings(secrets=stored_secrets(engine))
            with BackgroundServer(create_app(target.url, settings), port=args.receiver_port):
                print(f"sandbox PCO API: {base_url} (limit {args.rate_limit}; PCO's own is 100/20s)")
                print(f"webhook receiver: {receiver_url} ({len(subscribed.all)} subscriptions, "
                      f"{len(subscribed.created)} new)")
                print("steps:")
                with meter.step(report, "full_sync (PCO → church)") as step:
                    result = run_job("full_sync")
                    step["ok"] = result.success
                    report.add_run(result)
                with meter.step(report, "full_push (church → PCO)") as step:
                    result = run_job("full_push")
                    step["ok"] = result.success
                with meter.step(report, "burst of changes in PCO") as step:
                    changes = _burst(sandbox, random.Random(int(time.time())))
                    step["ok"] = sandbox.webhooks.wait_idle(60)
                report.notes.append("changes made in PCO: " + ", ".join(f"{n} {what}" for what, n in changes.items()))
                with meter.step(report, "apply_webhooks (sensor's runs)") as step:
                    runs = _apply_inbox_like_the_sensor(target.url)
                    step["ok"] = all(r.success for r in runs)
                    for run in runs:
                        report.add_run(run)
                    report.notes.append(f"webhook runs launched by the sensor: {len(runs)}")
                print("two-way sync, told as a church office sees it:")
                _two_way_stories(engine, sandbox, meter, report, random.Random(int(time.time())))
                print()
                with meter.step(report, "reconciliation (full refresh)") as step:
                    from pco_pipeline.commands.sync import job_run_config

                    result = run_job("full_sync", run_config=job_run_config("full_sync", True))
                    step["ok"] = result.success
                    report.add_run(result)
        ok = all(s.ok for s in report.steps) and all(holds for _, holds in report.checks)
        agree, lines = _agreement(engine, sandbox)
    finally:
        sandbox.save(state)
        sandbox.close()
    with engine.connect() as conn:
        from pco_pipeline.sync.quarantine import open_counts

        open_quarantine = open_counts(conn)
    _print_report(report, args, time.monotonic() - started, open_quarantine)
    print("\n".join(lines))
    verdict = "church and PCO agree" if agree and ok else "church and PCO DO NOT agree" if not agree else \
        "a step or a check failed"
    print(f"\nresult: {verdict}")
    return 0 if agree and ok else 1


# church asset -> the quarantine entities whose open rows it reports
QUARANTINE_ENTITIES = {"people": ("people", "person_emails", "person_phones"),
                       "families": ("families", "family_members"), "checkins": ("checkins", "checkin_events")}


def _print_report(report: DemoReport, args, total_seconds: float, open_quarantine: dict[str, int]) -> None:
    print("\nper entity: created / updated / deactivated summed over this demo's runs; unchanged in the last "
          "run; quarantined = held for review now")
    print(f"  {'entity':<20} {'created':>8} {'updated':>8} {'deactivated':>12} {'unchanged':>10} {'quarantined':>12}")
    for entity, counts in sorted(report.entities.items()):
        held = sum(open_quarantine.get(e, 0) for e in QUARANTINE_ENTITIES.get(entity, (entity,)))
        print(f"  {entity:<20} {counts['created']:>8} {counts['updated']:>8} {counts['deactivated']:>12} "
              f"{counts['unchanged']:>10} {held:>12}")
    requests = sum(s.requests for s in report.steps)
    print(f"\nrequests to PCO: {requests} (sandbox limit {args.rate_limit}); at PCO's real limit of 100 per 20 s "
          f"they need at least {requests / 100 * 20:.0f} s")
    for note in report.notes:
        print(note)
    print(f"demo took {total_seconds:.0f} s")

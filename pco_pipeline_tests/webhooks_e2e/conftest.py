"""End to end: the seeded sandbox church sends real, signed deliveries over loopback to the real
receiver, which stores them in this test's database; the sensor and `apply_webhooks` apply them.

The church database starts equal to PCO (an inbound sync of the overlapping synthetic church);
the subscriptions are created through the sandbox's API by `webhooks.subscriptions.subscribe`,
and the receiver accepts exactly the secrets that stored.
"""

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from pco_pipeline.db.local_dataset import load_local_dataset
from pco_pipeline.defs.pco.resources import PCOResource
from pco_pipeline.defs.webhooks.apply import apply_webhooks
from pco_pipeline.defs.webhooks.sensor import apply_webhooks_sensor
from pco_pipeline.demo_data import SyntheticChurch
from pco_sandbox.core import Sandbox
from pco_pipeline.sync.normalize import normalize_email
from pco_pipeline.sync.reconcile import reconcile
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline.webhooks.app import WEBHOOK_PATH, create_app
from pco_pipeline.webhooks.authenticity import SIGNATURE_HEADER, sign
from pco_pipeline.webhooks.server import BackgroundServer, bind_socket
from pco_pipeline.webhooks.settings import ReceiverSettings
from pco_pipeline.webhooks.subscriptions import stored_secrets, subscribe
from pco_pipeline_tests.sandbox_fixtures import (  # noqa: F401 (fixtures register by being imported)
    demo_sandbox,
    instance,
    pco,
    resources,
    sandbox_url,
    seed_church,
)

CHURCH_PEOPLE = 80
SEED = 7
# PCO retries after 30 s, 1 min, 2 min, …; scaled so a retry comes within milliseconds.
TIME_SCALE = 0.0005
@pytest.fixture
def seeded() -> Iterator[tuple[Sandbox, SyntheticChurch]]:
    """A sandbox holding PCO's side of the synthetic church, and that church."""
    box = demo_sandbox(webhook_time_scale=TIME_SCALE, webhook_timeout=5.0)
    yield box, seed_church(box, people=CHURCH_PEOPLE, seed=SEED)
    box.close()


@pytest.fixture
def sandbox(seeded: tuple[Sandbox, SyntheticChurch]) -> Sandbox:
    return seeded[0]


@pytest.fixture
def synced(seeded: tuple[Sandbox, SyntheticChurch], pco: PCOResource, engine: sa.Engine) -> sa.Engine:
    """The church database after an inbound sync: equal to PCO before any webhook."""
    load_local_dataset(engine, seeded[1].local)
    sync_webhook_resources(pco.get_client(), engine)
    report = reconcile(engine)
    assert report.in_sync, report.table()
    return engine


@pytest.fixture
def receiver_port() -> int:
    with bind_socket("127.0.0.1", 0) as free:
        return free.getsockname()[1]


@pytest.fixture
def receiver_url(receiver_port: int) -> str:
    return f"http://127.0.0.1:{receiver_port}{WEBHOOK_PATH}"


@pytest.fixture
def subscribed(synced: sa.Engine, pco: PCOResource, receiver_url: str):
    """PCO's subscriptions to the receiver, created through the API; secrets stored in the database."""
    return subscribe(pco.get_client(), synced, receiver_url)


def start_receiver(database_url: str, engine: sa.Engine, port: int) -> BackgroundServer:
    """The receiver on `port`, accepting the stored subscription secrets (as `webhooks serve` does)."""
    settings = ReceiverSettings(secrets=stored_secrets(engine))
    return BackgroundServer(create_app(database_url, settings), port=port).start()


@pytest.fixture
def receiver(subscribed, database_url: str, synced: sa.Engine, receiver_port: int) -> Iterator[BackgroundServer]:
    server = start_receiver(database_url, synced, receiver_port)
    yield server
    server.stop()


@dataclass
class Drained:
    ticks: int
    runs: list          # ExecuteInProcessResult per launched run
    run_keys: list[str]
    cursor: str | None


def drain(instance: dg.DagsterInstance, resources: dict, cursor: str | None = None, max_ticks: int = 20) -> Drained:
    """Evaluate the sensor and execute each run it requests, in-process, until it has nothing to launch."""
    runs, keys = [], []
    for tick in range(1, max_ticks + 1):
        context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                          resources={"church_db": resources["church_db"]})
        result = apply_webhooks_sensor(context)
        assert isinstance(result, dg.SensorResult)
        if not result.run_requests:
            return Drained(tick, runs, keys, cursor)
        cursor = result.cursor or cursor
        for request in result.run_requests:
            keys.append(request.run_key)
            runs.append(apply_webhooks.execute_in_process(
                run_config=request.run_config, resources=resources, instance=instance, tags=request.tags))
    raise AssertionError(f"the sensor still had work after {max_ticks} ticks")


def wait_for_deliveries(sandbox: Sandbox, timeout: float = 30) -> None:
    assert sandbox.webhooks.wait_idle(timeout), "the sandbox still has deliveries in flight"


# --- PCO (the sandbox's store) vs the church database --------------------------------------------------

def open_quarantine(conn, entity: str) -> set[str]:
    return set(conn.execute(sa.text(
        "SELECT record_key FROM sync_quarantine WHERE entity = :e AND resolved_at IS NULL"), {"e": entity}).scalars())


def differences_from_pco(engine: sa.Engine, sandbox: Sandbox) -> list[str]:
    """Where the church database differs from the sandbox's own store (not from what was landed):
    active linked people and their names, emails and phones, households and their members, and
    PCO group memberships. Records held in the quarantine (with a reason) are left out."""
    store = sandbox.store
    problems: list[str] = []
    pco_people = {r.id: r for r in store.all("people/people")}
    emails: dict[str, set[str | None]] = {}
    for email in store.all("people/emails"):
        emails.setdefault(email.rel_ids("person")[0], set()).add(normalize_email(email.attributes["address"]))
    phones: dict[str, set[str]] = {}
    for phone in store.all("people/phone_numbers"):
        phones.setdefault(phone.rel_ids("person")[0], set()).add(phone.attributes["e164"])
    households = {h.id: (h.attributes["name"], {ref[1] for ref in store.household_people(h.id)})
                  for h in store.all("people/households")}
    memberships = {(m.rel_ids("group")[0], m.rel_ids("person")[0]) for m in store.all("groups/memberships")}

    with engine.connect() as conn:
        held_back = open_quarantine(conn, "people")
        local = {r.pco_id: r for r in conn.execute(sa.text(
            "SELECT pco_id, first_name, last_name FROM people WHERE pco_id IS NOT NULL AND is_active"))}
        local_emails: dict[str, set[str]] = {}
        for pco_id, address in conn.execute(sa.text(
                "SELECT p.pco_id, e.address_normalized FROM person_emails e JOIN people p ON p.id = e.person_id"
                " WHERE p.is_active AND p.pco_id IS NOT NULL AND e.pco_id IS NOT NULL")):
            local_emails.setdefault(pco_id, set()).add(address)
        local_phones: dict[str, set[str]] = {}
        for pco_id, e164 in conn.execute(sa.text(
                "SELECT p.pco_id, c.e164 FROM person_phones c JOIN people p ON p.id = c.person_id"
                " WHERE p.is_active AND p.pco_id IS NOT NULL AND c.pco_id IS NOT NULL")):
            local_phones.setdefault(pco_id, set()).add(e164)
        families = {}
        for pco_id, name, member in conn.execute(sa.text(
                "SELECT f.pco_id, f.name, p.pco_id FROM families f"
                " LEFT JOIN family_members fm ON fm.family_id = f.id"
                " LEFT JOIN people p ON p.id = fm.person_id AND p.pco_id IS NOT NULL"
                " WHERE f.pco_id IS NOT NULL AND f.pco_removed_at IS NULL")):
            families.setdefault(pco_id, (name, set()))[1].update({member} if member else set())
        local_memberships = set(tuple(r) for r in conn.execute(sa.text(
            "SELECT g.pco_id, p.pco_id FROM group_membership gm JOIN church_group g ON g.id = gm.group_id"
            " JOIN people p ON p.id = gm.person_id WHERE gm.pco_id IS NOT NULL")).all())
        held_memberships = open_quarantine(conn, "group_memberships")

    expected_people = set(pco_people) - held_back
    if set(local) != expected_people:
        problems.append(f"active linked people: missing {sorted(expected_people - set(local))}, "
                        f"extra {sorted(set(local) - expected_people)}")
    for pco_id in expected_people & set(local):
        attributes = pco_people[pco_id].attributes
        if (local[pco_id].first_name, local[pco_id].last_name) != (attributes["first_name"].strip(),
                                                                     attributes["last_name"].strip()):
            problems.append(f"person {pco_id}: name {local[pco_id].first_name} {local[pco_id].last_name}"
                            f" != {attributes['first_name']} {attributes['last_name']}")
        if local_emails.get(pco_id, set()) != emails.get(pco_id, set()):
            problems.append(f"person {pco_id}: emails {local_emails.get(pco_id)} != {emails.get(pco_id)}")
        if local_phones.get(pco_id, set()) != phones.get(pco_id, set()):
            problems.append(f"person {pco_id}: phones {local_phones.get(pco_id)} != {phones.get(pco_id)}")
    if set(families) != set(households):
        problems.append(f"families: missing {sorted(set(households) - set(families))}, "
                        f"extra {sorted(set(families) - set(households))}")
    for household_id in set(families) & set(households):
        name, members = households[household_id]
        local_name, local_members = families[household_id]
        if local_name != name.strip():
            problems.append(f"family {household_id}: name {local_name!r} != {name!r}")
        if local_members != members - held_back:
            problems.append(f"family {household_id}: members {sorted(local_members)} != {sorted(members)}")
    expected_memberships = {m for m in memberships}
    extra = local_memberships - expected_memberships
    missing = expected_memberships - local_memberships
    if extra or len(missing) > len(held_memberships):
        problems.append(f"group memberships: missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}")
    return problems


# --- deliveries made by hand (replays, reordering, forgeries) ----------------------------------------

def subscription_secret(engine: sa.Engine, event_name: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT authenticity_secret FROM webhook_subscriptions WHERE event_name = :e"),
                            {"e": event_name}).scalar_one()


def post_delivery(url: str, body: bytes, secret: str) -> httpx.Response:
    """POST `body` the way PCO does: signed with `secret` (the body need not be a delivery at all)."""
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}
    return httpx.post(url, content=body, headers=headers, timeout=10)


def as_new_delivery(body: bytes, **meta) -> bytes:
    """The same event as a new delivery (new delivery id and idempotency token), meta overridden."""
    document = json.loads(body)
    delivery = document["data"][0]
    payload = json.loads(delivery["attributes"]["payload"])
    payload.setdefault("meta", {}).update({"idempotency_token": str(uuid.uuid4()), **meta})
    delivery["id"] = str(uuid.uuid4())
    delivery["attributes"]["payload"] = json.dumps(payload)
    return json.dumps(document).encode()


def captured_while_down(sandbox: Sandbox) -> list[bytes]:
    """Bodies of the deliveries that found no receiver, oldest first; the sandbox stops retrying them
    (they are ignored in PCO's event log), so the test decides when and in what order they arrive."""
    failed = [d for d in sandbox.webhooks.deliveries() if d.status is None and d.attempt == 1]
    for delivery in failed:
        event = sandbox.store.get("webhooks/events", delivery.event_id)
        assert event is not None
        sandbox.webhooks.ignore(event)
    return [d.body for d in failed]


def inbox_rows(engine: sa.Engine) -> Sequence[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT id, event_name, resource_id, status, status_reason, tries, attempt FROM webhook_inbox ORDER BY id"
        )).all()


def local_person(engine: sa.Engine, pco_id: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT id, first_name, last_name, is_active, updated_at, pco_updated_at FROM people WHERE pco_id = :p"),
            {"p": pco_id}).one()

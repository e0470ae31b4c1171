"""A sandbox organization kept in a snapshot file: what the API serves after reopening is what it
served before, ids are never handed out twice, webhook subscriptions keep their secrets, and an
unreadable file is refused with a message naming it."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pco_sandbox.core import Sandbox, SandboxConfig
from pco_sandbox.persistence import SnapshotError, autosave
from pco_sandbox.webhooks import sign
from pco_pipeline_tests.sandbox.conftest import NOW, Receiver

ROOT = Path(__file__).resolve().parents[2]
PEOPLE, SEED = 40, 5


def config(receiver: Receiver | None = None, **options) -> SandboxConfig:
    settings = {"app_id": "test-app", "secret": "test-secret", "rate_limit": "off", "clock_start": NOW,
                "clock_frozen": True, "webhook_time_scale": 0.0001,
                "webhook_transport": httpx.MockTransport(receiver or Receiver())}
    settings.update(options)
    return SandboxConfig(**settings)


def every_listing(sandbox: Sandbox) -> dict[str, bytes]:
    """path → response body, for every listing the API serves: each top-level collection (all pages),
    every nested to-many route of every record, people with every include, webhook events and
    deliveries, and the organization."""
    paths = ["/people/v2", "/people/v2/people?include=addresses,emails,field_data,households,phone_numbers,"
             "primary_campus&per_page=100",
             "/webhooks/v2/webhook_subscriptions?per_page=100"]
    for kind in sandbox.store.kinds():
        if not kind.top_level:
            continue
        paths.append(f"/{kind.app}/v2/{kind.collection}?per_page=100")
        nested = [name for name, rel in kind.relationships.items() if rel.nested and rel.to_many]
        for record in sandbox.store.all(kind.key):
            paths += [f"/{kind.app}/v2/{kind.collection}/{record.id}/{name}?per_page=100" for name in nested]
    for subscription in sandbox.store.all("webhooks/subscriptions"):
        for event in sandbox.store.children("webhooks/events", "subscription", subscription.id):
            paths.append(f"/webhooks/v2/subscriptions/{subscription.id}/events/{event.id}/deliveries")
    bodies: dict[str, bytes] = {}
    with sandbox.client() as client:
        for path in paths:
            headers = {"X-PCO-API-Version": "2022-10-20"} if "webhook_subscriptions" in path else {}
            offset = 0
            while True:
                url = f"{path}{'&' if '?' in path else '?'}offset={offset}" if offset else path
                response = client.get(url, headers=headers)
                assert response.status_code == 200, (url, response.text[:300])
                bodies[url] = response.content
                document = response.json()
                if not isinstance(document.get("data"), list) or "next" not in document.get("links", {}):
                    break
                offset += 100
    return bodies


@pytest.fixture
def busy(tmp_path):
    """A seeded church after a day of changes: API writes, a deletion, a merge, subscriptions."""
    receiver = Receiver()
    sandbox = Sandbox.seeded(people=PEOPLE, seed=SEED, config=config(receiver))
    with sandbox.client() as client:
        assert client.post("/webhooks/v2/subscriptions", json={"data": {"attributes": {
            "name": "people.v2.events.person.created", "url": "http://receiver.test/hooks"}}}).status_code == 201
        sandbox.webhooks.subscribe("people.v2.events.email.created", "http://receiver.test/hooks")
        sandbox.clock.advance(3600)
        created = client.post("/people/v2/people", json={"data": {"attributes": {
            "first_name": "Zoë", "last_name": "Öberg", "birthdate": "1990-02-03"}}}).json()["data"]
        assert client.post(f"/people/v2/people/{created['id']}/emails", json={"data": {"attributes": {
            "address": "zoe@example.org", "location": "Home"}}}).status_code == 201
        doomed = client.post("/people/v2/people", json={"data": {"attributes": {
            "first_name": "Short", "last_name": "Lived"}}}).json()["data"]
    people = sandbox.store.all("people/people")
    sandbox.controls.merge_people(people[0].id, people[1].id)
    sandbox.controls.delete_person(doomed["id"])
    sandbox.clock.advance(60)
    assert sandbox.webhooks.wait_idle()
    yield sandbox, doomed["id"]
    sandbox.close()


@pytest.fixture
def busy_church(busy) -> Sandbox:
    return busy[0]


@pytest.fixture
def doomed_id(busy) -> str:
    """The id of the person the busy day created last and deleted."""
    return busy[1]


def test_reopened_sandbox_serves_every_listing_byte_for_byte(busy_church, tmp_path):
    before = every_listing(busy_church)
    state = tmp_path / "church.json"
    busy_church.save(state)
    with Sandbox.open(state, people=PEOPLE, seed=SEED, config=config()) as reopened:
        after = every_listing(reopened)
        assert reopened.clock.now() == busy_church.clock.now()
        assert reopened.store.id_counters() == busy_church.store.id_counters()
    assert len(before) > 200 and any(b'"Zo\xc3\xab"' in body for body in before.values())
    assert sorted(after) == sorted(before)
    different = [path for path in before if before[path] != after[path]]
    assert different == []


def test_new_records_after_reopening_get_ids_never_used_before(busy_church, doomed_id, tmp_path):
    state = tmp_path / "church.json"
    busy_church.save(state)
    highest_person = max(int(r.id) for r in busy_church.store.all("people/people"))
    assert int(doomed_id) > highest_person  # the deleted person had the highest id
    email_ids = {r.id for r in busy_church.store.all("people/emails")}
    with Sandbox.open(state, people=PEOPLE, seed=SEED, config=config()) as reopened, reopened.client() as client:
        person = client.post("/people/v2/people", json={"data": {"attributes": {
            "first_name": "New", "last_name": "Comer"}}}).json()["data"]
        email = client.post(f"/people/v2/people/{person['id']}/emails", json={"data": {"attributes": {
            "address": "new@example.org", "location": "Home"}}}).json()["data"]
        merger = reopened.controls.merge_people(person["id"], reopened.store.all("people/people")[0].id)
    assert int(person["id"]) == int(doomed_id) + 1
    assert email["id"] not in email_ids and int(email["id"]) > max(int(i) for i in email_ids)
    assert int(merger.id) > max(int(r.id) for r in busy_church.store.all("people/person_mergers"))


def test_subscriptions_and_their_secrets_survive_and_sign_later_deliveries(busy_church, tmp_path):
    state = tmp_path / "church.json"
    busy_church.save(state)
    secrets = {s.attributes["name"]: s.attributes["authenticity_secret"]
               for s in busy_church.store.all("webhooks/subscriptions")}
    assert len(secrets) == 2
    assert stat.S_IMODE(state.stat().st_mode) == 0o600  # the file holds those secrets
    receiver = Receiver()
    with Sandbox.open(state, people=PEOPLE, seed=SEED, config=config(receiver)) as reopened:
        reopened.controls.create_person(first_name="After", last_name="Restart")
        assert reopened.webhooks.wait_idle()
    (request,) = receiver.requests
    delivery = json.loads(request.content)["data"][0]["attributes"]
    assert delivery["name"] == "people.v2.events.person.created"
    assert json.loads(delivery["payload"])["data"]["attributes"]["first_name"] == "After"
    assert request.headers["X-PCO-Webhooks-Authenticity"] == sign(secrets[delivery["name"]], request.content)


def test_a_delivery_pending_at_save_is_delivered_after_reopening(tmp_path):
    failing = Receiver(otherwise=503)
    state = tmp_path / "church.json"
    with Sandbox.seeded(people=5, seed=SEED, config=config(failing, webhook_time_scale=1.0)) as sandbox:
        sandbox.webhooks.subscribe("people.v2.events.person.created", "http://receiver.test/hooks")
        sandbox.controls.create_person(first_name="Waiting", last_name="Onretry")
        deadline = time.monotonic() + 10
        while not failing.requests:  # the first attempt fails; the retry is 30 s away
            assert time.monotonic() < deadline
            time.sleep(0.01)
        sandbox.save(state)
    receiver = Receiver()
    with Sandbox.open(state, people=5, seed=SEED, config=config(receiver)) as reopened:
        assert reopened.webhooks.wait_idle()
        (event,) = reopened.store.all("webhooks/events")
        assert event.attributes["status"] == "delivered"
    (request,) = receiver.requests
    assert request.headers["X-PCO-Webhooks-Attempt"] == "2"
    assert request.headers["X-PCO-Webhooks-Event"] == event.attributes["uuid"]


def test_a_clock_following_the_wall_keeps_its_offset(tmp_path):
    state = tmp_path / "church.json"
    start = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    with Sandbox(config(clock_start=start, clock_frozen=False)) as sandbox:
        sandbox.save(state)
    with Sandbox.open(state, people=0, seed=1, config=config()) as reopened:
        assert not reopened.clock.frozen
        assert start <= reopened.clock.now() < start + timedelta(seconds=30)


def test_open_seeds_and_saves_when_the_file_is_missing(tmp_path):
    state = tmp_path / "nested" / "church.json"
    with Sandbox.open(state, people=12, seed=SEED, config=config()) as seeded:
        people = [r.id for r in seeded.store.all("people/people")]
    with Sandbox.seeded(people=12, seed=SEED, config=config()) as reference:
        assert people == [r.id for r in reference.store.all("people/people")]
    assert state.exists() and stat.S_IMODE(state.stat().st_mode) == 0o600
    with Sandbox.open(state, people=999, seed=42, config=config()) as reopened:  # the file wins
        assert [r.id for r in reopened.store.all("people/people")] == people


def test_a_failed_save_leaves_the_previous_file_whole(busy_church, tmp_path):
    state = tmp_path / "church.json"
    busy_church.save(state)
    saved = state.read_bytes()
    person = busy_church.store.all("people/people")[0].copy()
    person.attributes["nickname"] = object()  # cannot be written as JSON
    busy_church.store.replace("people/people", person)
    with pytest.raises(TypeError):
        busy_church.save(state)
    assert state.read_bytes() == saved
    assert [p.name for p in tmp_path.iterdir()] == ["church.json"]  # no temp file left behind


def _valid_snapshot(tmp_path) -> bytes:
    path = tmp_path / "valid.json"
    with Sandbox.seeded(people=5, seed=SEED, config=config()) as sandbox:
        sandbox.save(path)
    return path.read_bytes()


@pytest.mark.parametrize("damage,reason", [
    (lambda valid: valid[: len(valid) // 2], "ends in the middle"),
    (lambda valid: b"", "empty"),
    (lambda valid: b"\xff\xfe garbage", "not UTF-8"),
    (lambda valid: b"{not json at all", "not valid JSON"),
    (lambda valid: b'{"people": []}', "not a sandbox snapshot"),
    (lambda valid: valid.replace(b'"version":1', b'"version":99'), "version 99"),
    (lambda valid: valid.replace(b'"collections":{', b'"collections":{"people/extra":[42],', 1),
     "not a JSON:API resource"),
])
def test_an_unreadable_file_is_refused_with_its_name_and_reason(tmp_path, damage, reason):
    state = tmp_path / "church.json"
    damaged = damage(_valid_snapshot(tmp_path))
    state.write_bytes(damaged)
    with pytest.raises(SnapshotError) as refused:
        Sandbox.open(state, people=5, seed=SEED, config=config())
    assert str(state) in str(refused.value) and reason in str(refused.value)
    assert state.read_bytes() == damaged  # never overwritten by a fresh seed


def test_autosave_writes_changes_periodically_and_at_exit(tmp_path):
    state = tmp_path / "church.json"
    with Sandbox.open(state, people=5, seed=SEED, config=config()) as sandbox:
        first = state.stat().st_mtime_ns
        with autosave(sandbox, state, interval=0.05):
            time.sleep(0.2)
            assert state.stat().st_mtime_ns == first  # nothing changed: nothing written
            sandbox.controls.create_person(first_name="Periodic", last_name="Save")
            deadline = time.monotonic() + 5
            while b"Periodic" not in state.read_bytes():
                assert time.monotonic() < deadline
                time.sleep(0.02)
            sandbox.controls.create_person(first_name="Final", last_name="Save")
            sandbox.controls.advance_clock(5)
        assert b"Final" in state.read_bytes()
        now = sandbox.clock.now()
    with Sandbox.open(state, people=5, seed=SEED, config=config()) as reopened:
        assert reopened.clock.now() == now


# --- the command -----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(state: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("PCO_APP_ID", "PCO_SECRET")}
    return subprocess.Popen([sys.executable, "-m", "pco_pipeline.cli", "sandbox", "--port", str(port),
                             "--people", "20", "--seed", "3", "--rate-limit", "off", "--state", str(state)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url)
            return
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_command_keeps_changes_across_restarts(tmp_path):
    state, port = tmp_path / "church.json", _free_port()
    base, auth = f"http://127.0.0.1:{port}", ("sandbox-app-id", "sandbox-secret")
    process = _serve(state, port)
    try:
        _wait_for(process, base)
        created = httpx.post(f"{base}/people/v2/people", auth=auth, json={"data": {"attributes": {
            "first_name": "Kept", "last_name": "Across"}}}).json()["data"]
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err, err  # SIGTERM: a clean stop
    assert f"state: {state}" in out and f"kept in {state}" in out

    process = _serve(state, port)
    try:
        _wait_for(process, base)
        person = httpx.get(f"{base}/people/v2/people/{created['id']}", auth=auth)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert person.status_code == 200 and person.json()["data"]["attributes"]["name"] == "Kept Across"
    assert f"reopened {state}" in out and "Traceback" not in err


def test_command_refuses_a_corrupt_state_file_in_one_line(tmp_path):
    state = tmp_path / "church.json"
    state.write_text('{"format": "pco-pipeline/sandbox-snapshot", "version": 1, "collections": {"people/peo')
    process = _serve(state, _free_port())
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "Traceback" not in err and str(state) in err and "partial write" in err
    assert len(err.strip().splitlines()) == 1


def test_ids_of_people_merged_away_before_loading_are_never_handed_out():
    """A seeded PersonMerger names a removed id no /people record has; a new person must not get it."""
    from pco_sandbox.core import Sandbox, SandboxConfig

    box = Sandbox(SandboxConfig(rate_limit="off"))
    box.load({
        "people/people": [{"type": "Person", "id": "10", "attributes": {"first_name": "Kept", "last_name": "One"}}],
        "people/person_mergers": [{"type": "PersonMerger", "id": "1", "attributes": {
            "person_to_keep_id": "10", "person_to_remove_id": "11", "created_at": "2026-01-01T00:00:00Z"}}],
    })
    created = box.controls.create_person(first_name="New", last_name="Person")
    assert int(created.id) > 11
    box.close()

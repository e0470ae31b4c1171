"""The client against the PCO sandbox, in-process and over real HTTP on loopback.

Rate limits are compressed (a few requests per second) and faults come from the sandbox's own
fault injection, seeded so every run fails the same way.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from contextlib import ExitStack

import pytest

from pco_pipeline.pco import (BasicCredentials, OAuthCredentials, PCOAuthError, PCOClient, PCOConfig,
                              PCOValidationError, PCOWriteOutcomeUnknown, RetryPolicy, resource_body)
from pco_pipeline.pco.auth import OAuthSession
from pco_sandbox.core import Sandbox, SandboxConfig
from pco_sandbox.server import run_sandbox_server
from pco_sandbox.transport import InProcessTransport

IN_PROCESS_BASE = "https://api.planningcenteronline.com"
INCLUDE = ["emails", "phone_numbers", "addresses"]
FAST_RETRIES = RetryPolicy(max_retries=6, backoff_base=0.01, backoff_max=0.05)
CONTACTS = {"emails": "people/emails", "phone_numbers": "people/phone_numbers", "addresses": "people/addresses"}


class ArrivalClock:
    """ASGI wrapper noting when each API request reaches the sandbox (monotonic seconds) and the
    request count the sandbox answered with."""

    def __init__(self, app):
        self.app, self.times, self.counts, self.lock = app, [], [], threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(("/_sandbox", "/oauth")):
            await self.app(scope, receive, send)
            return
        with self.lock:
            self.times.append(time.monotonic())

        async def noting_send(message):
            if message["type"] == "http.response.start":
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]}
                with self.lock:
                    self.counts.append(int(headers["x-pco-api-request-rate-count"]))
            await send(message)

        await self.app(scope, receive, noting_send)


@pytest.fixture(scope="module")
def church():
    with Sandbox.seeded(people=640, seed=11, config=SandboxConfig(rate_limit="20/1s")) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def church_url(church):
    with run_sandbox_server(church) as base_url:
        yield base_url


def _new_credential(sandbox) -> tuple[str, str]:
    app_id, secret = f"app-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    sandbox.auth.add_personal_access_token(app_id, secret)
    return app_id, secret


@pytest.fixture
def connect():
    """connect(sandbox, mode, base_url=None, **config) → a client with a fresh credential."""
    with ExitStack() as stack:
        def make(sandbox, mode, base_url=None, app=None, **config):
            app_id, secret = _new_credential(sandbox)
            config.setdefault("retry", FAST_RETRIES)
            credentials = BasicCredentials(app_id, secret)
            if mode == "http":
                assert base_url is not None, "an http client needs the server's base_url"
                client = PCOClient(PCOConfig(base_url=base_url, basic=credentials, **config))
            else:
                client = PCOClient(PCOConfig(base_url=IN_PROCESS_BASE, basic=credentials, **config),
                                   transport=InProcessTransport(app or sandbox.app))
            stack.callback(client.close)
            return client
        yield make


def _assert_equals_the_store(sandbox, people):
    stored = sandbox.store.all("people/people")
    assert [p.id for p in people] == [r.id for r in stored]
    for person, record in zip(people, stored):
        assert person["first_name"] == record.attributes["first_name"]
        assert person["last_name"] == record.attributes["last_name"]
        for relationship, key in CONTACTS.items():
            expected = {c.id for c in sandbox.store.children(key, "person", record.id)}
            assert {c.id for c in person.related_list(relationship)} == expected, (person.id, relationship)


@pytest.mark.parametrize("mode", ["in-process", "http"])
def test_full_listing_with_includes_equals_the_sandbox(church, church_url, connect, mode):
    client = connect(church, mode, church_url)
    people = list(client.iter_records("/people/v2/people", include=INCLUDE))
    _assert_equals_the_store(church, people)
    contacts = sum(len(p.related_list(r)) for p in people for r in CONTACTS)
    assert contacts > len(people)  # the seeded church really has contact rows to resolve
    counters = client.counters.snapshot()
    assert counters.requests == math.ceil(len(people) / 100) and counters.rate_limited == 0


def test_filtered_ordered_listing_matches_the_sandbox(church, connect):
    client = connect(church, "in-process")
    children = list(client.iter_records("/people/v2/people", where={"child": True}, order=["last_name", "-birthdate"],
                                        per_page=25))
    expected = {r.id for r in church.store.all("people/people") if r.attributes.get("child")}
    assert {p.id for p in children} == expected and len(children) == len(expected)
    # pages of 25 fetched concurrently stitch into the same order as pages of 100 read one by one
    in_one_go = client.iter_records("/people/v2/people", where={"child": True}, order=["last_name", "-birthdate"],
                                    prefetch=1)
    assert [p.id for p in children] == [p.id for p in in_one_go]


@pytest.mark.parametrize("mode", ["in-process", "http"])
def test_fault_storm_loses_and_duplicates_nothing(connect, mode):
    with Sandbox.seeded(people=900, seed=3, config=SandboxConfig(rate_limit="15/1s", fault_seed=5)) as sandbox:
        with (run_sandbox_server(sandbox) if mode == "http" else ExitStack()) as base_url:
            client = connect(sandbox, mode, base_url, prefetch=4,
                             retry=RetryPolicy(max_retries=10, backoff_base=0.01, backoff_max=0.05), timeout=0.5)
            faults = sandbox.faults
            faults.add("error", status=503, probability=0.15, path_prefix="/people/v2/people")
            faults.add("error", status=500, count=2, path_prefix="/people/v2/people")
            faults.add("reset", count=3, path_prefix="/people/v2/people")
            faults.add("malformed", count=2, path_prefix="/people/v2/people")
            faults.add("timeout", count=2, seconds=0.1 if mode == "in-process" else 2.0,
                       path_prefix="/people/v2/people")
            faults.add("latency", latency_ms=5)
            sandbox.controls.set_rate_limit("15/1s")
            people = list(client.iter_records("/people/v2/people", include=INCLUDE))
            _assert_equals_the_store(sandbox, people)
            counters = client.counters.snapshot()
            assert counters.retries >= 9 and counters.records == 900


def _minimal_people(count: int, first_id: int = 100_000) -> list[dict]:
    return [{"type": "Person", "id": str(first_id + i), "attributes": {"first_name": f"P{i}", "last_name": "Row"}}
            for i in range(count)]


def test_the_advertised_limit_is_never_exceeded(connect):
    with Sandbox(SandboxConfig(rate_limit="8/1s"), data={"people/people": _minimal_people(1500)}) as sandbox:
        arrivals = ArrivalClock(sandbox.app)
        client = connect(sandbox, "in-process", app=arrivals)
        twin = PCOClient(client.config, transport=InProcessTransport(arrivals))  # same credential, other thread
        counts = {}

        def run(name, pco):
            counts[name] = sum(1 for _ in pco.iter_records("/people/v2/people"))

        threads = [threading.Thread(target=run, args=(n, c)) for n, c in (("a", client), ("b", twin))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        twin.close()
        assert counts == {"a": 1500, "b": 1500}
        assert sandbox.controls.counters()["rate_limited"] == 0
        # the sandbox counts in fixed windows: within one of them never more than 8 (across a
        # reset, a 1 s interval may hold more — the client resumes as soon as the count resets)
        assert max(arrivals.counts) <= 8
        assert len(arrivals.times) == len(arrivals.counts) == 2 * math.ceil(1500 / 100)


def test_deep_offsets_pace_to_their_own_limit(connect):
    people = _minimal_people(30_260)
    with Sandbox(SandboxConfig(rate_limit="12/1s", deep_offset_limit=3), data={"people/people": people}) as sandbox:
        client = connect(sandbox, "in-process")
        records = list(client.iter_records("/people/v2/people", offset=29_900))
        assert [r.id for r in records] == [p["id"] for p in people[29_900:]]
        assert client.budget.limit("deep_offset") == 3 and client.budget.limit() == 12
        assert sandbox.controls.counters()["rate_limited"] == 0


@pytest.mark.parametrize("mode", ["in-process", "http"])
def test_writes_and_their_errors(church, church_url, connect, mode):
    client = connect(church, mode, church_url)
    remote_id = int(time.time() * 1000) % 10_000_000
    person = client.post("/people/v2/people", resource_body("Person", {"first_name": "Wren", "last_name": "Client",
                                                                      "remote_id": remote_id}))
    assert person.id and person["remote_id"] == remote_id
    changed = client.patch(f"/people/v2/people/{person.id}", resource_body("Person", {"nickname": "W"}, id=person.id))
    assert changed["nickname"] == "W"
    email = client.post(f"/people/v2/people/{person.id}/emails",
                        resource_body("Email", {"address": "wren@example.test", "location": "Home"}))
    assert email.relationship_ids("person") == [person.id]
    with pytest.raises(PCOValidationError) as invalid:
        client.patch(f"/people/v2/people/{person.id}", resource_body("Person", {"bogus": 1}, id=person.id))
    assert invalid.value.detail and "bogus" in str(invalid.value)
    client.delete(f"/people/v2/people/{person.id}")
    assert church.store.get("people/people", person.id) is None


@pytest.mark.parametrize("mode", ["in-process", "http"])
def test_a_lost_post_answer_is_reported_not_repeated(connect, mode):
    with Sandbox(SandboxConfig(rate_limit="50/1s")) as sandbox:
        with (run_sandbox_server(sandbox) if mode == "http" else ExitStack()) as base_url:
            client = connect(sandbox, mode, base_url)
            sandbox.faults.add("reset", count=1, method="POST", path_prefix="/people/v2/people")
            with pytest.raises(PCOWriteOutcomeUnknown):
                client.post("/people/v2/people", resource_body("Person", {"first_name": "Once", "remote_id": 4242}))
            created = [r for r in sandbox.store.all("people/people") if r.attributes.get("remote_id") == 4242]
            assert len(created) == 1  # PCO created it; the client did not create it a second time
            found = list(client.iter_records("/people/v2/people", where={"remote_id": 4242}))
            assert [p.id for p in found] == [created[0].id]


# ---------------------------------------------------------------- OAuth

def _oauth_tokens(sandbox, client_id="oauth-client", client_secret="oauth-secret-123"):
    sandbox.auth.register_oauth_client(client_id, client_secret)
    code = sandbox.auth.authorize(client_id, "people groups")
    return sandbox.auth.token({"grant_type": "authorization_code", "code": code, "client_id": client_id,
                               "client_secret": client_secret})


def _oauth_client(sandbox, tokens, base_url, **credentials):
    oauth = OAuthCredentials(client_id="oauth-client", client_secret="oauth-secret-123",
                             refresh_token=tokens["refresh_token"], **credentials)
    return PCOClient(PCOConfig(base_url=base_url, oauth=oauth, retry=FAST_RETRIES))


def test_oauth_refresh_before_expiry_and_on_401_over_http(tmp_path):
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(seconds=7100)  # the token below has 100 s left
    with Sandbox(SandboxConfig(rate_limit="50/1s", clock_start=start)) as sandbox, \
            run_sandbox_server(sandbox) as base_url:
        tokens = _oauth_tokens(sandbox)
        client = _oauth_client(sandbox, tokens, base_url, access_token=tokens["access_token"],
                               expires_at=tokens["created_at"] + tokens["expires_in"],
                               token_file=str(tmp_path / "tokens.json"))
        client.get("/people/v2")
        assert isinstance(client._auth, OAuthSession)
        assert client._auth.refreshes == 1  # refreshed before using a token about to expire
        assert client.oauth_scopes == ("groups", "people")
        sandbox.controls.advance_clock(7200)  # PCO now considers the new access token expired
        organization = client.get("/people/v2")
        assert organization["data"]["attributes"]["name"] and client._auth.refreshes == 2
        forbidden = sandbox.controls.counters()["by_status"].get("401")
        assert forbidden == 1  # exactly one 401, then the refreshed token worked
        sandbox.auth.revoke_all_tokens()
        with pytest.raises(PCOAuthError, match="reconnect the PCO account"):
            client.get("/people/v2")
        client.close()

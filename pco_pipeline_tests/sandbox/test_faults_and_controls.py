"""Fault injection (in-process and over real HTTP) and the /_sandbox/ test controls."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from pco_sandbox.server import run_sandbox_server
from pco_pipeline_tests.sandbox.conftest import make_sandbox


# --- faults --------------------------------------------------------------------------------------

def test_error_fault_for_a_count_then_normal_service(sandbox, client):
    sandbox.controls.inject_fault("error", count=2, status=503, path_prefix="/people/v2/people")
    statuses = [client.get("/people/v2/people").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert client.get("/people/v2/households").status_code == 200
    assert [e["faults"] for e in sandbox.controls.request_log()][:2] == [("error",), ("error",)]


def test_probability_faults_are_reproducible_with_a_seed():
    outcomes = []
    for _ in range(2):
        with make_sandbox(fault_seed=7) as sandbox, sandbox.client() as client:
            sandbox.controls.inject_fault("error", probability=0.5)
            outcomes.append([client.get("/people/v2/people").status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1] and {500, 503} & set(outcomes[0]) and 200 in outcomes[0]


def test_latency_fault_delays_the_answer(sandbox, client):
    sandbox.controls.inject_fault("latency", latency_ms=150, count=1)
    started = time.perf_counter()
    client.get("/people/v2/people")
    assert time.perf_counter() - started >= 0.15


def test_malformed_fault_cuts_the_body(sandbox, client):
    sandbox.controls.inject_fault("malformed", count=1)
    response = client.get("/people/v2/people")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_reset_in_process_is_a_transport_error_and_the_write_still_happened(sandbox, client):
    sandbox.controls.inject_fault("reset", count=1, method="POST")
    with pytest.raises(httpx.TransportError):
        client.post("/people/v2/people", json={"data": {"type": "Person", "attributes": {"first_name": "Maybe"}}})
    assert client.get("/people/v2/people", params={"where[first_name]": "Maybe"}).json()["meta"]["total_count"] == 1


def test_lowered_limit_fault(sandbox, client):
    sandbox.controls.inject_fault("rate_limit", limit=1, count=2)
    first, second = client.get("/people/v2/people"), client.get("/people/v2/people")
    assert first.status_code == 200 and second.status_code == 429
    assert second.json()["errors"][0]["detail"] == "Rate limit exceeded: 2 of 1 requests per 20 seconds"
    assert client.get("/people/v2/people").status_code == 200


def test_reset_and_timeout_over_real_http():
    with make_sandbox() as sandbox, run_sandbox_server(sandbox) as base_url:
        auth = (sandbox.app_id, sandbox.secret)
        sandbox.controls.inject_fault("reset", count=1)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base_url}/people/v2/people", auth=auth)
        sandbox.controls.inject_fault("timeout", count=1, seconds=5)
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{base_url}/people/v2/people", auth=auth, timeout=0.3)
        assert time.perf_counter() - started < 2
        assert httpx.get(f"{base_url}/people/v2/people", auth=auth).status_code == 200


def test_unknown_fault_kind_is_refused(sandbox):
    with pytest.raises(ValueError, match="unknown fault kind"):
        sandbox.controls.inject_fault("gremlins")


# --- controls ------------------------------------------------------------------------------------

def test_ui_edit_bumps_updated_at_and_can_be_made_invisible(sandbox, client):
    sandbox.controls.advance_clock(3600)
    sandbox.controls.update_record("people/people", "102", {"nickname": "Will"})
    edited = client.get("/people/v2/people/102").json()["data"]["attributes"]
    assert edited["nickname"] == "Will" and edited["updated_at"] == "2026-03-10T19:00:00Z"
    sandbox.controls.advance_clock(60)
    sandbox.controls.update_record("people/people", "102", {"membership": "Elder"}, touch=False)
    silent = client.get("/people/v2/people/102").json()["data"]["attributes"]
    assert silent["membership"] == "Elder" and silent["updated_at"] == "2026-03-10T19:00:00Z"


def test_merge_removes_one_person_and_logs_a_merger(sandbox, client):
    merger = sandbox.controls.merge_people("101", "102")
    assert client.get("/people/v2/people/102").status_code == 404
    emails = [e["attributes"]["address"] for e in client.get("/people/v2/people/101/emails").json()["data"]]
    assert emails == ["ada@byron.example", "family@byron.example", "will@work.example"]
    mergers = client.get("/people/v2/person_mergers").json()["data"]
    assert [(m["id"], m["attributes"]["person_to_keep_id"], m["attributes"]["person_to_remove_id"])
            for m in mergers] == [(merger.id, "101", "102")]
    household = client.get("/people/v2/households/5001").json()["data"]
    assert household["relationships"]["people"]["data"] == [{"id": "101", "type": "Person"}]


def test_controls_over_http():
    with make_sandbox() as sandbox, run_sandbox_server(sandbox) as base_url:
        controls = f"{base_url}/_sandbox"
        auth = (sandbox.app_id, sandbox.secret)
        assert httpx.get(controls).json()["collections"]["people/people"] == 5
        created = httpx.post(f"{controls}/people", json={"attributes": {"first_name": "Via", "last_name": "HTTP"}})
        assert created.status_code == 201
        person_id = created.json()["id"]
        patched = httpx.patch(f"{controls}/records/people/people/{person_id}", json={"attributes": {"nickname": "V"}})
        assert patched.json()["attributes"]["nickname"] == "V"
        assert httpx.post(f"{controls}/clock/advance", json={"seconds": 86400}).json()["now"] == "2026-03-11T18:00:00Z"
        assert httpx.post(f"{controls}/faults", json={"kind": "error", "count": 1, "status": 502}).status_code == 201
        assert httpx.get(f"{base_url}/people/v2/people", auth=auth).status_code == 502
        assert httpx.post(f"{controls}/rate_limit", json={"rate_limit": "1/20s"}).json()["limit"] == 1
        httpx.get(f"{base_url}/people/v2/people", auth=auth)
        assert httpx.get(f"{base_url}/people/v2/people", auth=auth).status_code == 429
        counters = httpx.get(f"{controls}/counters").json()
        assert counters["rate_limited"] == 1 and counters["by_route"]["GET /people/v2/people"] == 3
        log = httpx.get(f"{controls}/requests", params={"limit": 1}).json()
        assert log[0]["status"] == 429 and log[0]["credential"] == f"pat:{sandbox.app_id}"
        merged = httpx.post(f"{controls}/merge", json={"keep": "101", "remove": person_id})
        assert merged.status_code == 201 and merged.json()["type"] == "PersonMerger"
        assert httpx.delete(f"{controls}/people/{person_id}").status_code == 404
        assert httpx.post(f"{controls}/merge", json={"keep": "101"}).status_code == 400
        assert httpx.post(f"{controls}/webhooks/wait", json={"timeout": 1}).json() == {"idle": True}

"""A well-known third-party PCO client (pypco) works against the sandbox over real HTTP."""

from __future__ import annotations

import time

import pytest

from pco_sandbox.server import run_sandbox_server
from pco_pipeline_tests.sandbox.conftest import make_sandbox, many_people

pypco = pytest.importorskip("pypco", reason="pypco is a test extra")


@pytest.fixture
def served():
    with make_sandbox() as sandbox:
        sandbox.load({"people/people": many_people(45)})
        with run_sandbox_server(sandbox) as base_url:
            yield sandbox, pypco.PCO(sandbox.app_id, sandbox.secret, api_base=base_url)


def test_iterate_with_includes_folds_them_into_each_record(served):
    _, pco = served
    records = list(pco.iterate("/people/v2/people", per_page=20, include="emails,households"))
    assert len(records) == 50
    assert [r["data"]["id"] for r in records] == sorted((r["data"]["id"] for r in records), key=int)
    william = next(r for r in records if r["data"]["id"] == "102")
    assert {(i["type"], i["id"]) for i in william["included"]} == {("Email", "2002"), ("Email", "2003"),
                                                                   ("Household", "5001")}


def test_post_creates_a_person(served):
    sandbox, pco = served
    created = pco.post("/people/v2/people", pco.template("Person", {"first_name": "Via", "last_name": "Pypco"}))
    assert created["data"]["attributes"]["name"] == "Via Pypco"
    assert pco.get(f"/people/v2/people/{created['data']['id']}")["data"]["attributes"]["last_name"] == "Pypco"
    assert pco.patch(f"/people/v2/people/{created['data']['id']}",
                     {"data": {"attributes": {"nickname": "V"}}})["data"]["attributes"]["nickname"] == "V"


def test_survives_429_by_sleeping_retry_after(served):
    sandbox, pco = served
    sandbox.controls.set_rate_limit("2/1s")
    started = time.perf_counter()
    names = [pco.get("/people/v2/people/101")["data"]["attributes"]["first_name"] for _ in range(5)]
    assert names == ["Ada"] * 5
    assert sandbox.controls.counters()["rate_limited"] >= 1
    assert time.perf_counter() - started >= 1.0  # it waited out Retry-After instead of failing

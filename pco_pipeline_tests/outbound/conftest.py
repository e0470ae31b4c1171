"""Outbound fixtures: an empty sandbox organization over real HTTP and the Dagster resources on it
(shared, from pco_pipeline_tests.sandbox_fixtures), a client on it, and helpers writing a small
church straight into the test database (people, contacts, families)."""

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.config import BasicCredentials, PCOConfig, RetryPolicy
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox
from pco_pipeline_tests.sandbox_fixtures import (  # noqa: F401 (fixtures register by being imported)
    instance,
    pco,
    resources,
    run_job,
    sandbox,
    sandbox_url,
)


@pytest.fixture
def client(sandbox_url: str) -> Iterator[PCOClient]:
    """A client on the sandbox that gives up quickly (one retry) so fault tests stay fast."""
    config = PCOConfig(base_url=sandbox_url, basic=BasicCredentials(DEMO_APP_ID, DEMO_SECRET),
                       retry=RetryPolicy(max_retries=1, backoff_base=0.01))
    with PCOClient(config) as pco_client:
        yield pco_client


def mark_people_read(engine: sa.Engine) -> None:
    """Record a finished complete listing of PCO people, as the inbound people sync leaves one."""
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO pco_listing (resource, started_at, finished_at, seen_count, removed_count)"
                             " VALUES ('people/people', now(), now(), 0, 0)"))


def add_person(conn: sa.Connection, first: str, last: str, *, birthdate: date | None = None, email: str | None = None,
               phone: str | None = None, e164: str | None = None, grade: int | None = None, child: bool = False,
               gender: str | None = None, pco_id: str | None = None) -> int:
    person_id = conn.execute(sa.text(
        "INSERT INTO people (first_name, last_name, birthdate, grade, child, gender, pco_id)"
        " VALUES (:f, :l, :b, :g, :c, :gender, :pco) RETURNING id"),
        {"f": first, "l": last, "b": birthdate, "g": grade, "c": child, "gender": gender, "pco": pco_id}).scalar_one()
    if email:
        conn.execute(sa.text("INSERT INTO person_emails (person_id, address, address_normalized, location, is_primary)"
                             " VALUES (:p, :a, lower(btrim(:a)), 'Home', true)"), {"p": person_id, "a": email})
    if phone:
        conn.execute(sa.text("INSERT INTO person_phones (person_id, number, e164, location, is_primary)"
                             " VALUES (:p, :n, :e, 'Mobile', true)"), {"p": person_id, "n": phone, "e": e164})
    return person_id


def add_family(conn: sa.Connection, name: str, members: list[int], *, primary: int | None = None,
               street: str | None = None, city: str | None = None, state: str | None = None,
               zip_code: str | None = None) -> int:
    family_id = conn.execute(sa.text(
        "INSERT INTO families (name, street_line_1, city, state, zip, country_code)"
        " VALUES (:n, :s, :c, :st, :z, :cc) RETURNING id"),
        {"n": name, "s": street, "c": city, "st": state, "z": zip_code, "cc": "US" if street else None}).scalar_one()
    for index, person_id in enumerate(members):
        conn.execute(sa.text("INSERT INTO family_members (family_id, person_id, role, is_primary_contact)"
                             " VALUES (:f, :p, :r, :pc)"),
                     {"f": family_id, "p": person_id, "r": "head" if index == 0 else "other",
                      "pc": person_id == (primary if primary is not None else members[0])})
    return family_id


def pco_people_by_remote_id(sandbox: Sandbox) -> dict[int, list]:
    out: dict[int, list] = {}
    for record in sandbox.store.all("people/people"):
        if record.attributes.get("remote_id") is not None:
            out.setdefault(int(record.attributes["remote_id"]), []).append(record)
    return out


def writes(sandbox: Sandbox) -> list[dict]:
    """Requests that change something (everything but GET/HEAD) in the sandbox's log."""
    return [r for r in sandbox.controls.request_log() if r["method"] not in ("GET", "HEAD")]


def pco_children(sandbox: Sandbox, key: str, person_id: str) -> list:
    """A PCO person's emails / phone_numbers / addresses (key "people/emails", …) in the sandbox store."""
    return [r for r in sandbox.store.all(key) if r.rel_ids("person") == [person_id]]


def open_quarantine(engine: sa.Engine, entity: str) -> dict[str, tuple[str, str]]:
    """record_key → (reason_code, reason) of the open outbound quarantine rows of `entity`."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT record_key, reason_code, reason FROM sync_quarantine"
            " WHERE entity = :e AND resolved_at IS NULL AND direction = 'outbound'"), {"e": entity}).all()
    return {row.record_key: (row.reason_code, row.reason) for row in rows}

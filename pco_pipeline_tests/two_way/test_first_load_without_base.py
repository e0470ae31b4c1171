"""The first two-way load of a church upgrading from the one-way version: people (with an email
each) already linked by pco_id, PCO's records landed, and no base yet (`three_way_load`'s module
docstring states the rule for a record with no base).

The property: whatever the two sides hold, after the first full people load every field both
sides hold alike has that value as its base; a field that differs takes PCO's value (and its
base) when the church row is older than PCO's record, and is otherwise a conflict, recorded and
decided by the field's policy; a second load changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.merge import Policy
from pco_pipeline.sync.policies import SyncPolicies, load_policies

# One field per policy (the shipped policies give PCO every person field).
CHOSEN_FIELDS = {"first_name": Policy.MANUAL, "last_name": Policy.PCO, "nickname": Policy.CHURCH,
                 "middle_name": Policy.NEWEST}
PCO_AT, CHURCH_OLDER, CHURCH_NEWER = "2024-06-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-12-01T00:00:00Z"
_RESET = ("TRUNCATE people, person_emails, person_phones, pco_landing, sync_base, sync_conflicts, church_deletions,"
          " church_outbox, load_watermarks, pco_listing, sync_quarantine RESTART IDENTITY CASCADE")

# First and last names are never blank (the landing normalizes a missing one to ''; the columns are NOT NULL).
names, optional = st.sampled_from(["Ann", "Lee"]), st.sampled_from(["Ann", "Lee", None])
field_sides = st.fixed_dictionaries({
    name: st.tuples(values, values) for name, values in (
        ("first_name", names), ("last_name", names), ("nickname", optional), ("middle_name", optional))})
linked_person = st.fixed_dictionaries({
    "fields": field_sides, "email": st.tuples(st.sampled_from(["a@x.org", "b@x.org"]),
                                              st.sampled_from(["a@x.org", "b@x.org"])),
    "church_newer": st.booleans()})


def _policies(tmp_path_factory: pytest.TempPathFactory) -> SyncPolicies:
    own = tmp_path_factory.mktemp("policies") / "policies.toml"
    own.write_text("[people]\n" + "".join(f'{f} = "{p}"\n' for f, p in CHOSEN_FIELDS.items()), encoding="utf-8")
    return load_policies(environ={"PCO_SYNC_POLICIES": str(own)})


def _upgraded_church(engine: sa.Engine, people: list[dict]) -> None:
    """Each person landed from PCO and in the church, linked, with an email each; no base."""
    with engine.begin() as conn:
        conn.execute(sa.text(_RESET))
        for number, spec in enumerate(people, start=1):
            pco_id, church_at = str(number), CHURCH_NEWER if spec["church_newer"] else CHURCH_OLDER
            pco = {name: sides[1] for name, sides in spec["fields"].items()}
            conn.execute(sa.text("""
                INSERT INTO pco_landing (resource, pco_id, parent_pco_id, attributes, normalized, pco_updated_at)
                VALUES ('people/people', :p, NULL, '{}', CAST(:person AS jsonb), :at),
                       ('people/emails', 'e' || :p, :p, '{}', CAST(:email AS jsonb), :at)"""),
                {"p": pco_id, "at": PCO_AT, "person": json.dumps({**pco, "status": "active", "child": False}),
                 "email": json.dumps({"address": spec["email"][1], "address_normalized": spec["email"][1],
                                      "location": "Home", "is_primary": True})})
            church = {name: sides[0] for name, sides in spec["fields"].items()}
            conn.execute(sa.text("""
                INSERT INTO people (pco_id, first_name, last_name, nickname, middle_name, status, child, updated_at)
                VALUES (:p, :first_name, :last_name, :nickname, :middle_name, 'active', false, :at)"""),
                {"p": pco_id, "at": church_at, **church})
            conn.execute(sa.text("""
                INSERT INTO person_emails (person_id, pco_id, address, address_normalized, location, is_primary,
                                           updated_at)
                SELECT id, 'e' || :p, :a, :a, 'Home', true, :at FROM people WHERE pco_id = :p"""),
                {"p": pco_id, "a": spec["email"][0], "at": church_at})


def _state(engine: sa.Engine) -> tuple[Sequence[sa.Row], ...]:
    with engine.connect() as conn:
        return (conn.execute(sa.text("SELECT pco_id, first_name, last_name, nickname, middle_name FROM people"
                                     " ORDER BY pco_id")).all(),
                conn.execute(sa.text("SELECT pco_id, address FROM person_emails ORDER BY pco_id")).all(),
                conn.execute(sa.text("SELECT entity, pco_id, agreed_values FROM sync_base ORDER BY 1, 2")).all(),
                conn.execute(sa.text("SELECT entity, pco_id, field, outcome, applied_at IS NOT NULL FROM sync_conflicts"
                                     " ORDER BY 1, 2, 3")).all())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(linked_person, min_size=1, max_size=4))
def test_the_first_load_gives_agreed_fields_a_base_and_decides_the_others_by_the_rule(engine, tmp_path_factory,
                                                                                      people):
    chosen = _policies(tmp_path_factory)
    _upgraded_church(engine, people)
    load_people(engine, policies=chosen)
    rows, emails, bases, conflicts = _state(engine)
    base = {(entity, pco_id): agreed for entity, pco_id, agreed in bases}
    recorded = {(entity, pco_id, field): (outcome, applied) for entity, pco_id, field, outcome, applied in conflicts}
    expected_conflicts = {}
    for number, (spec, row) in enumerate(zip(people, rows, strict=True), start=1):
        pco_id, person_base = str(number), base[("people", str(number))]
        for name, (church, pco) in spec["fields"].items():
            held = getattr(row, name)
            if church == pco or not spec["church_newer"]:
                # Alike, or the church row is older than PCO's record: PCO's value, agreed.
                assert (held, person_base.get(name, "no base")) == (pco, pco), (pco_id, name, spec)
                continue
            policy = CHOSEN_FIELDS[name]
            pco_wins = policy is Policy.PCO
            expected_conflicts[("people", pco_id, name)] = (
                ("pco_wins", True) if pco_wins else ("held", False) if policy is Policy.MANUAL
                else ("church_wins", False))
            assert held == (pco if pco_wins else church), (pco_id, name, spec)
            assert person_base.get(name, "no base") == (pco if pco_wins else "no base"), (pco_id, name, spec)
        # Fields the two sides hold alike from the start (both statuses active, neither a child).
        assert (person_base["status"], person_base["child"]) == ("active", False)
        church_email, pco_email = spec["email"]
        assert emails[number - 1].address == pco_email   # the shipped policy gives PCO an email's address
        assert base[("person_emails", f"e{pco_id}")]["address"] == pco_email
        if church_email != pco_email and spec["church_newer"]:
            expected_conflicts[("person_emails", f"e{pco_id}", "address")] = ("pco_wins", True)
    assert recorded == expected_conflicts
    before = _state(engine)
    load_people(engine, policies=chosen)
    assert _state(engine) == before

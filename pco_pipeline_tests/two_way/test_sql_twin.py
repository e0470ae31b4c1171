"""The SQL twin (`merge.three_way_sql`) gives `merge.decide`'s answer for every field of every
record, on random bases, sides (deletions included), policies and change times, against the real
PostgreSQL; the base written by `base.advance_base` reads back as the value it was given."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pco_pipeline.sync.base import advance_base
from pco_pipeline.sync.merge import (DELETED, NO_BASE, EntityFields, FieldSpec, Outcome, Policy, decide,
                                     field_states, three_way_sql)

FIELDS = (FieldSpec("name", "text"), FieldSpec("born", "date"), FieldSpec("child", "boolean"),
          FieldSpec("grade", "smallint"), FieldSpec("seen", "timestamptz"), FieldSpec("members", "jsonb"))
TOY = EntityFields(
    "toy", FIELDS,
    church_relation_sql="SELECT pco_id, local_id, changed_at, name, born, child, grade, seen, members FROM toy_church",
    pco_relation_sql="SELECT pco_id, changed_at, name, born, child, grade, seen, members FROM toy_pco",
    church_deletions_sql="SELECT pco_id, deleted_at FROM toy_church_deletions",
    pco_deletions_sql="SELECT pco_id, deleted_at FROM toy_pco_deletions")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
# Few distinct values, so bases and sides often coincide; text without NUL (PostgreSQL refuses it)
# or lone surrogates (not encodable).
plain_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)
FIELD_VALUES = {
    "name": st.one_of(st.none(), st.sampled_from(["Ann", "ann", "Ann ", "", "Zoë"]), plain_text),
    "born": st.one_of(st.none(), st.sampled_from([date(2010, 5, 1), date(1980, 1, 31)])),
    "child": st.one_of(st.none(), st.booleans()),
    "grade": st.one_of(st.none(), st.integers(-1, 2)),
    # The same instant in two time zones is one value.
    "seen": st.one_of(st.none(), st.sampled_from([T0, T0.astimezone(timezone(timedelta(hours=-5))),
                                                  T0 + timedelta(microseconds=1)])),
    "members": st.one_of(st.none(), st.sampled_from([["1", "2"], ["1"], []])),
}
times = st.one_of(st.none(), st.integers(0, 2).map(lambda n: T0 + timedelta(seconds=n)))


@st.composite
def records(draw):
    """(base, church, pco, church_at, pco_at): per side a {field: value} dict or DELETED; the base
    a dict whose missing fields have no base, or None (no base row); a side's change time (for a
    deleted side its deletion time, None when not recorded)."""
    def side():
        return DELETED if draw(st.integers(0, 6)) == 0 else {name: draw(strategy)
                                                              for name, strategy in FIELD_VALUES.items()}
    church, pco = side(), side()
    if draw(st.booleans()):  # make the other sides coincide with the base often
        base = {name: draw(st.sampled_from([church, pco]))[name] if draw(st.integers(0, 2)) else draw(strategy)
                for name, strategy in FIELD_VALUES.items()
                if church is not DELETED and pco is not DELETED and draw(st.integers(0, 5))}
    else:
        base = {name: draw(strategy) for name, strategy in FIELD_VALUES.items() if draw(st.integers(0, 5))}
    if church is not DELETED and draw(st.integers(0, 4)) == 0:
        base = None  # linked, never agreed on anything
    return base, church, pco, draw(times), draw(times)


def _insert_side(conn, table: str, pco_id: str, local_id: int, values: dict, changed_at) -> None:
    local = "local_id, " if table == "toy_church" else ""
    conn.execute(sa.text(f"""
        INSERT INTO {table} (pco_id, {local}changed_at, name, born, child, grade, seen, members)
        VALUES (:pco_id, {':local_id, ' if local else ''}:changed_at, :name, :born, :child, :grade, :seen,
                CAST(:members AS jsonb))"""),
        {"pco_id": pco_id, "local_id": local_id, "changed_at": changed_at, **values,
         "members": None if values["members"] is None else json.dumps(values["members"])})


@pytest.fixture
def toy_conn(engine):
    with engine.connect() as conn:
        yield conn


BATCHES = st.lists(records(), min_size=1, max_size=12)
POLICIES = st.fixed_dictionaries({spec.name: st.sampled_from(list(Policy)) for spec in FIELDS})
DATABASE_FIXTURE = [HealthCheck.function_scoped_fixture]  # one database; every example rolls back


@settings(max_examples=150, deadline=None, suppress_health_check=DATABASE_FIXTURE)
@given(BATCHES, POLICIES)
def test_sql_twin_agrees_with_the_rule(toy_conn, batch, policies):
    """150 batches of up to 12 records (about 6 fields each): ~5,000 field tuples per run."""
    _check_twin(toy_conn, batch, policies)


@pytest.mark.slow
@settings(max_examples=2_000, deadline=None, suppress_health_check=DATABASE_FIXTURE)
@given(BATCHES, POLICIES)
def test_sql_twin_agrees_with_the_rule_at_length(toy_conn, batch, policies):
    _check_twin(toy_conn, batch, policies)


def _check_twin(conn, batch, policies) -> None:
    with conn.begin() as transaction:
        conn.execute(sa.text("""
            CREATE TEMP TABLE toy_church (pco_id text, local_id bigint, changed_at timestamptz, name text, born date,
                                          child boolean, grade smallint, seen timestamptz, members jsonb);
            CREATE TEMP TABLE toy_pco (pco_id text, changed_at timestamptz, name text, born date, child boolean,
                                       grade smallint, seen timestamptz, members jsonb);
            CREATE TEMP TABLE toy_church_deletions (pco_id text, deleted_at timestamptz);
            CREATE TEMP TABLE toy_pco_deletions (pco_id text, deleted_at timestamptz)"""))
        for number, (base, church, pco, church_at, pco_at) in enumerate(batch):
            pco_id = f"p{number}"
            if base is not None:
                advance_base(conn, "toy", pco_id, number, base)
                if not base:  # an empty base row: linked, with no agreed field
                    conn.execute(sa.text("INSERT INTO sync_base (entity, pco_id, local_id, agreed_values) "
                                         "VALUES ('toy', :p, :n, '{}') ON CONFLICT DO NOTHING"),
                                 {"p": pco_id, "n": number})
            for table, side, changed_at in (("toy_church", church, church_at), ("toy_pco", pco, pco_at)):
                if side is not DELETED:
                    _insert_side(conn, table, pco_id, number, side, changed_at)
                elif changed_at is not None:
                    conn.execute(sa.text(f"INSERT INTO {table}_deletions VALUES (:p, :at)"),
                                 {"p": pco_id, "at": changed_at})
        rows = {row.pco_id: row for row in conn.execute(three_way_sql(TOY, policies), {"entity": "toy"})}
        changed = {row.pco_id for row in conn.execute(three_way_sql(TOY, policies, changed_only=True),
                                                      {"entity": "toy"})}
        transaction.rollback()

    for number, (base, church, pco, church_at, pco_at) in enumerate(batch):
        pco_id = f"p{number}"
        if base is None and church is DELETED:
            assert pco_id not in rows  # neither linked nor remembered: not a linked record
            continue
        row = rows.pop(pco_id)
        assert (row.local_id, row.church_changed_at, row.pco_changed_at) == (number, church_at, pco_at)
        expected_outcomes = []
        for state in field_states(row, FIELDS):
            expected_base = base.get(state.field, NO_BASE) if base is not None else NO_BASE
            church_value = DELETED if church is DELETED else church[state.field]
            pco_value = DELETED if pco is DELETED else pco[state.field]
            expected = decide(expected_base, church_value, pco_value, policies[state.field], church_at, pco_at)
            assert state.outcome is expected, (state, expected_base, church_value, pco_value)
            assert state.base == expected_base
            assert state.church == church_value and state.pco == pco_value
            expected_outcomes.append(expected)
        assert (pco_id in changed) == any(outcome is not Outcome.IN_SYNC for outcome in expected_outcomes)
    assert not rows  # nothing classified that was not a linked record

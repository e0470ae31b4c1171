"""The SQL the loads run: the `pco_state_*` views (sql/0009) and the named statement files
(sync/sql/), read by `sync.statements`."""

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from pco_pipeline.sync import pco_state
from pco_pipeline.sync.loading import stage
from pco_pipeline.sync.statements import STATEMENTS_DIR, statement
from pco_pipeline_tests.sync.pco_docs import (
    checkin_event, email, group, group_type, land, person, rows)

PACKAGE = Path(__file__).resolve().parents[2] / "pco_pipeline"


def _statement_files() -> set[str]:
    return {p.relative_to(STATEMENTS_DIR).with_suffix("").as_posix() for p in STATEMENTS_DIR.rglob("*.sql")}


def _source() -> str:
    return "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))


def test_every_statement_named_in_code_has_its_file():
    named = set(re.findall(r"""(?:statement\(\s*|(?:update|create|retire)=)["']([^"']+)["']""", _source()))
    assert named, "no statement(...) calls found"
    assert named - _statement_files() == set()


def test_every_statement_file_is_named_in_code():
    """A statement file nothing names is dead code."""
    source = _source()
    assert {name for name in _statement_files() if f'"{name}"' not in source} == set()


def test_every_statement_file_reads_as_one_statement_with_bound_parameters_only():
    for name in _statement_files():
        code = re.sub(r"'[^']*'", "", re.sub(r"--[^\n]*", "", statement(name).text))  # no comments, no strings
        assert ";" not in code, f"{name}: one statement per file"
        assert "{" not in code, f"{name}: no templating, values are bound"


@pytest.mark.parametrize("name", ["people/no_such_statement", "../sql/0009_pco_state_views", "People/match_email",
                                  "match_email"])
def test_an_unknown_or_malformed_name_is_refused_naming_the_file(name):
    with pytest.raises(LookupError, match=re.escape(str(STATEMENTS_DIR))):
        statement(name)


def test_the_views_name_rows_with_the_prefixes_the_code_uses(engine):
    land(engine, "groups/group_types", [group_type("t1", "Kids")], listing=True)
    land(engine, "groups/groups", [group("g1", "Sunday School", "t1"), group("g2", "Loose", None)], listing=True)
    land(engine, "check-ins/events", [checkin_event("e1", "Sunday Kids")], listing=True)
    areas = {r.pco_id: r.name for r in rows(engine, pco_state.GROUP_AREAS)}
    assert areas == {pco_state.GROUP_TYPE_PREFIX + "t1": "Kids",
                     pco_state.UNTYPED_GROUPS_AREA: pco_state.UNTYPED_GROUPS_AREA_NAME}
    assert {r.pco_id: r.area_pco_id for r in rows(engine, pco_state.GROUPS)} == {
        "g1": pco_state.GROUP_TYPE_PREFIX + "t1", "g2": pco_state.UNTYPED_GROUPS_AREA}
    assert [r.pco_id for r in rows(engine, pco_state.CHECKIN_EVENTS)] == [pco_state.CHECKIN_EVENT_PREFIX + "e1"]


@pytest.mark.parametrize("state_sql, scope_column, landed_column", [
    (pco_state.PEOPLE, "pco_id", "pco_id"),
    (pco_state.PERSON_EMAILS, "person_pco_id", "parent_pco_id"),
])
def test_a_scoped_stage_filters_the_landing_table_itself(engine, state_sql, scope_column, landed_column):
    """A load restricted to some people (webhooks) must not compute PCO's whole state first: the
    scope reaches the scan of pco_landing through the view."""
    land(engine, "people/people", [person(str(n), "A", f"P{n}", emails=[email(f"p{n}@example.org")])
                                   for n in range(1, 4)], listing=True)
    with engine.begin() as conn:
        staged = stage(conn, "stage_scoped", state_sql, scope=["2"], scope_column=scope_column)
        assert staged == 1
        view = state_sql.removeprefix("SELECT * FROM ")
        plan = "\n".join(conn.execute(sa.text(
            f"EXPLAIN SELECT s.* FROM {view} s WHERE s.{scope_column} = ANY(CAST(:scope AS text[]))"),
            {"scope": ["2"]}).scalars())
    assert re.search(rf"\b{landed_column} = ANY\b", plan), plan
    assert f"{scope_column} = ANY" not in plan.replace(f"{landed_column} = ANY", ""), plan

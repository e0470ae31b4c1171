"""The conflicts review through the console, on the real database: base, church and PCO values side by
side; keep church, take PCO, enter a value, or decide a field across records; stale or repeated
decisions refused with nothing recorded; values holding HTML shown as text."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from pco_pipeline.sync.base import seed_base
from pco_pipeline.sync.conflicts import record_conflicts
from pco_pipeline.sync.merge import Policy
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.two_way_entities import ENTITIES
from pco_pipeline_tests.console.conftest import form_token
from pco_pipeline_tests.sync.pco_docs import rows, scalar
from pco_pipeline_tests.two_way.people_fixtures import church_person, edit_church, land_person

MANUAL_LAST_NAME = {"last_name": Policy.MANUAL}


def _held(engine: sa.Engine, people: dict[str, tuple[str, str]]) -> dict[str, int]:
    """For each PCO id: Ann Lee linked on both sides, then her last name changed differently on each
    side (church, PCO); a manual policy holds the conflict. Returns PCO id → church person id."""
    policies = {**load_policies(environ={}).for_entity("people"), **MANUAL_LAST_NAME}
    local = {}
    with engine.begin() as conn:
        for pco_id in people:
            land_person(conn, pco_id)
            local[pco_id] = church_person(conn, pco_id)
        seed_base(conn, ENTITIES["people"])
        for pco_id, (church, pco) in people.items():
            edit_church(conn, local[pco_id], last_name=church)
            land_person(conn, pco_id, last_name=pco)
        record_conflicts(conn, ENTITIES["people"], policies)
    return local


def _decision(engine: sa.Engine) -> list:
    return rows(engine, "SELECT pco_id, decided_by, resolution_side, resolution_value FROM sync_conflicts"
                        " WHERE decided_at IS NOT NULL ORDER BY pco_id")


def _row_forms(html: str, conflict_pco: str) -> str:
    """The decision cell of the conflict row for PCO person `conflict_pco`."""
    match = re.search(rf'<tr data-conflict="\d+">(?:(?!</tr>).)*PCO {conflict_pco}</small>(?:(?!</tr>).)*</tr>',
                      html, re.S)
    assert match, f"no conflict row for PCO {conflict_pco}"
    return match.group(0)


def _submit(admin, form_html: str, page: str, **extra: str):
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form_html))
    return admin.post("/conflicts/decision", data={**fields, "csrf_token": form_token(page), **extra})


def _forms(cell: str) -> list[str]:
    return re.findall(r"<form .*?</form>", cell, re.S)


def test_the_values_show_side_by_side_and_taking_pco_is_recorded_for_the_next_push(engine, admin):
    _held(engine, {"7": ("Lee-Smith", "Smith")})
    page = admin.get("/conflicts").text
    cell = _row_forms(page, "7")
    assert all(f"<code>&#34;{v}&#34;</code>" in cell or f'<code>"{v}"</code>' in cell
               for v in ("Lee", "Lee-Smith", "Smith"))
    assert 'data-testid="conflicts-open">1<' in admin.get("/").text

    keep_church, take_pco, _ = _forms(cell)
    decided = _submit(admin, take_pco, page)

    assert decided.status_code == 303
    assert _decision(engine) == [("7", "alice", "pco", "Smith")]
    after = admin.get("/conflicts").text
    assert "1 decided" in admin.get(decided.headers["location"]).text
    assert "by alice" in after and "applied by the next push or load" in after
    repeated = _submit(admin, keep_church, page)   # the same page, submitted again
    assert repeated.status_code == 409 and "was decided by alice" in repeated.text
    assert _decision(engine) == [("7", "alice", "pco", "Smith")]


def test_enter_a_value_gives_both_sides_that_value(engine, admin):
    _held(engine, {"7": ("Lee-Smith", "Smith")})
    page = admin.get("/conflicts").text
    *_, enter = _forms(_row_forms(page, "7"))
    assert _submit(admin, enter, page, value="Lee Smith").status_code == 303
    assert _decision(engine) == [("7", "alice", "value", "Lee Smith")]


def test_a_field_decided_across_records_covers_exactly_the_conflicts_shown(engine, admin):
    local = _held(engine, {"7": ("Lee-Smith", "Smith"), "8": ("Ray-Ng", "Ng")})
    page = admin.get("/conflicts").text
    group = re.search(r"<form [^>]*>(?:(?!</form>).)*Keep church for all 2(?:(?!</form>).)*</form>", page, re.S)
    assert group, "no decision across records for people.last_name"
    keep_all = group.group(0)
    with engine.begin() as conn:   # a third conflict appears after the page was shown
        land_person(conn, "9")
        nine = church_person(conn, "9")
        seed_base(conn, ENTITIES["people"])
        edit_church(conn, nine, last_name="Lee-Ortiz")
        land_person(conn, "9", last_name="Ortiz")
        record_conflicts(conn, ENTITIES["people"], {**load_policies(environ={}).for_entity("people"),
                                                    **MANUAL_LAST_NAME})

    decided = _submit(admin, keep_all, page)

    assert decided.status_code == 303 and set(local) == {"7", "8"}
    assert _decision(engine) == [("7", "alice", "church", "Lee-Smith"), ("8", "alice", "church", "Ray-Ng")]
    assert scalar(engine, "SELECT count(*) FROM sync_conflicts WHERE decided_at IS NULL") == 1   # 9 waits


def test_a_conflict_whose_values_changed_since_the_page_is_refused(engine, admin):
    local = _held(engine, {"7": ("Lee-Smith", "Smith")})
    page = admin.get("/conflicts").text
    with engine.begin() as conn:   # PCO changes again; the next diff updates the conflict
        land_person(conn, "7", last_name="Smythe")
        record_conflicts(conn, ENTITIES["people"], {**load_policies(environ={}).for_entity("people"),
                                                    **MANUAL_LAST_NAME})
    _, take_pco, _ = _forms(_row_forms(page, "7"))

    refused = _submit(admin, take_pco, page)

    assert refused.status_code == 409 and "changed since the page was shown" in refused.text
    assert _decision(engine) == [] and local


@pytest.mark.parametrize("data,status", [({"ids": "1;2", "take": "pco", "version": "x"}, 400),
                                         ({"ids": "1", "take": "both", "version": "x"}, 400),
                                         ({"ids": "424242", "take": "pco", "version": "x"}, 409)])
def test_a_malformed_decision_is_refused_with_why(engine, admin, data, status):
    page = admin.get("/conflicts").text
    assert admin.post("/conflicts/decision", data={**data, "csrf_token": form_token(page)}).status_code == status


def test_values_holding_html_are_text_and_a_viewer_sees_no_decision_forms(engine, viewer):
    _held(engine, {"7": ("<script>alert(1)</script>", "Smith")})
    page = viewer.get("/conflicts").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert 'action="/conflicts/decision"' not in page
    assert "church person" in viewer.get(f"/people/{scalar(engine, 'SELECT id FROM people')}").text

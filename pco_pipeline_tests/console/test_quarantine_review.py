"""The quarantine review through the console, on the real database, with the next people load and the
people push (against the sandbox) that apply what staff decided.

The church entered the same person twice (Ann Lee, born 1990-04-01, no email); PCO has her once. The
load cannot choose, so it quarantines PCO person 501 with both local candidates.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.people_push import run_people_push
from pco_pipeline_tests.console.conftest import form_token
from pco_pipeline_tests.outbound.conftest import (  # noqa: F401 (fixtures register by being imported)
    client,
    mark_people_read,
    pco_people_by_remote_id,
    sandbox,
    sandbox_url,
)
from pco_pipeline_tests.sync.pco_docs import land, local_person, person, rows, scalar

PCO_ANN = "501"


@pytest.fixture
def twins(engine: sa.Engine) -> tuple[int, int]:
    """Two local Ann Lees and one PCO Ann Lee, loaded once: quarantined, candidates (first, second)."""
    first = local_person(engine, "Ann", "Lee", birthdate="1990-04-01")
    second = local_person(engine, "Ann", "Lee", birthdate="1990-04-01")
    land(engine, "people/people", [person(PCO_ANN, "Ann", "Lee", birthdate="1990-04-01")])
    assert load_people(engine).counts["people"].quarantined == 1
    return first, second


def _quarantine_id(engine: sa.Engine) -> int:
    return scalar(engine, "SELECT id FROM sync_quarantine WHERE entity = 'people' AND record_key = :k", k=PCO_ANN)


def _decide(http, quarantine_id: int, decision: str, person_id: int | None = None, *, page: str | None = None):
    """Submit a decision form of the review page as a browser does (its CSRF token and version)."""
    html = page if page is not None else http.get(f"/quarantine/{quarantine_id}").text
    version = re.search(r'name="version" value="([0-9a-f]+)"', html)
    assert version, "the review page has no decision form"
    data = {"csrf_token": form_token(html), "decision": decision, "version": version.group(1)}
    if person_id is not None:
        data["person_id"] = str(person_id)
    return http.post(f"/quarantine/{quarantine_id}/decision", data=data)


def _pco_id(engine: sa.Engine, person_id: int) -> str | None:
    return scalar(engine, "SELECT pco_id FROM people WHERE id = :i", i=person_id)


def _pushed(sandbox, person_id: int) -> bool:
    return person_id in pco_people_by_remote_id(sandbox)


def test_once_a_pco_person_is_linked_by_hand_the_other_candidate_is_not_pushed_as_a_duplicate(
        engine, twins, client, sandbox):
    """Issue 16 item 7, as staff do it today without the console: `UPDATE people SET pco_id`."""
    first, second = twins
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET pco_id = :k WHERE id = :i"), {"k": PCO_ANN, "i": first})
    assert load_people(engine).counts["people"].quarantined == 0   # linked, the quarantine resolved
    mark_people_read(engine)

    report = run_people_push(engine, client)

    assert not _pushed(sandbox, second), "the second Ann Lee was created in PCO: a duplicate of PCO person 501"
    assert report.counts.totals()["created"] == 0
    [(code, reason)] = rows(engine, "SELECT reason_code, reason FROM sync_quarantine"
                                    " WHERE entity = 'push_people' AND record_key = :k AND resolved_at IS NULL",
                            k=str(second))
    assert code == "possible_duplicate"
    assert f"linked to church person {first}" in reason and "different people" in reason


def test_staff_link_in_the_console_the_next_load_applies_it_and_the_other_candidate_waits_until_declared_distinct(
        engine, twins, admin, client, sandbox):
    first, second = twins
    quarantine_id = _quarantine_id(engine)
    page = admin.get(f"/quarantine/{quarantine_id}")
    assert page.status_code == 200
    assert page.text.count("Link to this person") == 2   # one button per candidate

    decided = _decide(admin, quarantine_id, "link", first, page=page.text)

    assert decided.status_code == 303
    assert rows(engine, "SELECT decision, person_id, decided_by FROM match_decisions") == [("link", first, "alice")]
    assert _pco_id(engine, first) is None                  # recorded, not applied yet
    result = load_people(engine)
    assert result.matches.by_staff == 1 and result.counts["people"].quarantined == 0
    assert (_pco_id(engine, first), _pco_id(engine, second)) == (PCO_ANN, None)
    assert load_people(engine).counts["people"].writes == 0   # applied once; later loads match by pco_id

    mark_people_read(engine)
    run_people_push(engine, client)
    assert not _pushed(sandbox, second)
    held = admin.get("/quarantine")
    assert f'action="/people/{second}/distinct"' in held.text

    declared = admin.post(f"/people/{second}/distinct", data={
        "csrf_token": form_token(held.text), "pco_person_id": PCO_ANN, "next": "/quarantine"})
    assert declared.status_code == 303
    report = run_people_push(engine, client)
    assert report.counts.totals()["created"] == 1 and _pushed(sandbox, second)
    assert _pco_id(engine, second) not in (None, PCO_ANN)


def test_create_as_a_new_person_creates_it_and_lets_both_candidates_go_to_pco(engine, twins, admin, client, sandbox):
    first, second = twins
    assert _decide(admin, _quarantine_id(engine), "create").status_code == 303

    assert load_people(engine).counts["people"].created == 1
    assert scalar(engine, "SELECT count(*) FROM people WHERE pco_id = :k", k=PCO_ANN) == 1
    mark_people_read(engine)
    run_people_push(engine, client)
    assert _pushed(sandbox, first) and _pushed(sandbox, second)


def test_keep_held_stays_quarantined_with_the_decision_in_the_reason(engine, twins, admin, client, sandbox):
    quarantine_id = _quarantine_id(engine)
    assert _decide(admin, quarantine_id, "hold").status_code == 303

    assert load_people(engine).counts["people"].quarantined == 1
    reason = scalar(engine, "SELECT reason FROM sync_quarantine WHERE entity = 'people' AND resolved_at IS NULL")
    assert "held by staff" in reason
    mark_people_read(engine)
    run_people_push(engine, client)
    assert pco_people_by_remote_id(sandbox) == {}   # neither candidate goes while it is held
    assert "In force: <strong>hold</strong>" in admin.get(f"/quarantine/{quarantine_id}").text


def test_a_decision_on_a_page_that_has_gone_stale_is_refused_and_nothing_is_recorded(engine, twins, admin):
    quarantine_id = _quarantine_id(engine)
    page = admin.get(f"/quarantine/{quarantine_id}").text
    local_person(engine, "Ann", "Lee", birthdate="1990-04-01")           # a third Ann Lee arrives
    load_people(engine)                                                 # the quarantine now names three

    refused = _decide(admin, quarantine_id, "link", twins[0], page=page)

    assert refused.status_code == 409
    assert "changed since the page was shown" in refused.text
    assert scalar(engine, "SELECT count(*) FROM match_decisions") == 0


def test_a_candidate_linked_meanwhile_cannot_be_chosen(engine, twins, admin):
    first, _ = twins
    quarantine_id = _quarantine_id(engine)
    page = admin.get(f"/quarantine/{quarantine_id}").text
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET pco_id = '999' WHERE id = :i"), {"i": first})

    refused = _decide(admin, quarantine_id, "link", first, page=page)

    assert refused.status_code == 409 and "already linked to PCO person 999" in refused.text
    assert scalar(engine, "SELECT count(*) FROM match_decisions") == 0


def test_a_form_that_names_no_candidate_or_a_bad_id_is_refused_with_why(engine, twins, admin):
    quarantine_id = _quarantine_id(engine)
    assert "not one of this record" in _decide(admin, quarantine_id, "link", 424242).text
    bad = _decide(admin, quarantine_id, "link", None)
    assert bad.status_code == 409 and "choose the person" in bad.text
    page = admin.get(f"/quarantine/{quarantine_id}").text
    wrong_id = admin.post(f"/quarantine/{quarantine_id}/decision",
                          data={"csrf_token": form_token(page), "decision": "link", "person_id": "1; DROP",
                                "version": "x"})
    assert wrong_id.status_code == 400
    assert scalar(engine, "SELECT count(*) FROM match_decisions") == 0


def test_a_viewer_sees_the_evidence_but_no_decision_buttons_and_cannot_decide(engine, twins, viewer):
    quarantine_id = _quarantine_id(engine)
    page = viewer.get(f"/quarantine/{quarantine_id}")
    assert page.status_code == 200 and "1990-04-01" in page.text and "Link to this person" not in page.text
    version = scalar(engine, "SELECT md5(reason_code || reason || details::text || coalesce(record::text, ''))"
                             " FROM sync_quarantine WHERE id = :i", i=quarantine_id)
    refused = viewer.post(f"/quarantine/{quarantine_id}/decision", data={
        "csrf_token": form_token(page.text), "decision": "create", "version": version})
    assert refused.status_code == 403 and "needs admin" in refused.text
    assert scalar(engine, "SELECT count(*) FROM match_decisions") == 0

"""A church change PCO's API cannot take, on the console's conflicts page: listed with what to do in
PCO (PCO's text shown as text), one "Done in PCO" button, recorded as the staff member's decision."""

from __future__ import annotations

import re

from pco_pipeline.sync.conflicts import NeedsAction, record_needs_action
from pco_pipeline_tests.console.conftest import form_token
from pco_pipeline_tests.sync.pco_docs import rows


def test_a_change_needing_action_in_pco_is_listed_and_marked_done(engine, admin):
    with engine.begin() as conn:
        record_needs_action(conn, "families", "household", [NeedsAction(
            12, "h9", None, "<b>Lee</b> Household", "family 12 was deleted in the church; PCO household h9 "
            "(<b>Lee</b> Household) remains: delete it in PCO if it is gone for good", church_deleted=True)])
    page = admin.get("/conflicts").text
    row = re.search(r'<tr data-conflict="\d+">(?:(?!</tr>).)*PCO h9</small>(?:(?!</tr>).)*</tr>', page, re.S)
    assert row, "the needs-action row is not listed"
    cell = row.group(0)
    assert "to do in PCO: family 12 was deleted in the church; PCO household h9 (&lt;b&gt;Lee&lt;/b&gt; Household)" in cell
    forms = re.findall(r"<form .*?</form>", cell, re.S)
    assert len(forms) == 1 and "Done in PCO" in forms[0]

    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', forms[0]))
    assert admin.post("/conflicts/decision", data={**fields, "csrf_token": form_token(page)}).status_code == 303
    assert [tuple(r) for r in rows(engine, "SELECT decided_by, resolution_side, applied_at IS NULL"
                                           " FROM sync_conflicts")] == [("alice", "church", True)]

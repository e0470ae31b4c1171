"""What PCO's API cannot take is recorded in sync_conflicts as "needs action in PCO" (issue 16
item 5): a family deleted in the church whose PCO household remains is one open row, recorded
once, listed by `conflicts list`, marked done by staff with `resolve --take church`, closed once
PCO matches the church; the next pull does not bring the family back. Against the sandbox over
HTTP and the real database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pco_pipeline.cli import main
from pco_pipeline.pco.client import resource_body
from pco_pipeline.sync.conflicts import ConflictError, resolve_conflict
from pco_pipeline.sync.families_push import run_families_push
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline_tests.outbound.conftest import writes
from pco_pipeline_tests.outbound.test_push_updates import edit, pco_person


@pytest.fixture
def deleted_family(engine, client, sandbox, database_url, monkeypatch) -> str:
    """The Byron household made in PCO and synced in, then its family deleted in the church; the household's id."""
    monkeypatch.setenv("DATABASE_URL", database_url)   # for the conflicts command
    ada = pco_person(client, "Ada", "Byron")
    household = client.post("/people/v2/households", resource_body(
        "Household", {"name": "Byron Household"},
        relationships={"people": [("Person", ada)], "primary_contact": ("Person", ada)})).id
    sync_webhook_resources(client, engine)
    edit(engine, "DELETE FROM families WHERE pco_id = :h", h=household)
    sandbox.controls.reset_request_log()
    return household


def _rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT entity, pco_id, field, church_value, pco_value, policy, outcome, decided_at IS NOT NULL,"
            " applied_at IS NOT NULL FROM sync_conflicts ORDER BY id"))]


def test_a_family_deleted_in_the_church_is_recorded_once_and_staff_mark_it_done(engine, client, sandbox,
                                                                               deleted_family, capsys):
    run_families_push(engine, client, dry_run=True)
    assert _rows(engine) == []   # a dry run records nothing

    run_families_push(engine, client)
    run_families_push(engine, client)   # seen again: the same row
    assert _rows(engine) == [("families", deleted_family, "household", None, "Byron Household", "church",
                              "needs_action_in_pco", False, False)]
    assert writes(sandbox) == []

    assert main(["conflicts", "list", "--open"]) == 0
    listing = capsys.readouterr().out
    assert f"families {deleted_family}" in listing and "needs_action_in_pco" in listing
    assert "to do in PCO: family" in listing and f"PCO household {deleted_family} (Byron Household) remains" in listing
    conflict_id = int(listing.splitlines()[1].split()[0])

    with engine.begin() as conn, pytest.raises(ConflictError, match="PCO's API cannot take"):
        resolve_conflict(conn, conflict_id, decided_by="staff", take="pco")
    assert main(["conflicts", "resolve", str(conflict_id), "--take", "church"]) == 0
    assert "marked done in PCO" in capsys.readouterr().out
    assert main(["conflicts", "list", "--open"]) == 0
    assert capsys.readouterr().out.strip() == "no open conflicts"

    sync_webhook_resources(client, engine)   # the next pull: the household is still in PCO
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM families WHERE pco_id = :h"),
                            {"h": deleted_family}).scalar_one() == 0
    run_families_push(engine, client)
    assert len(_rows(engine)) == 1   # resolved, not recorded again while PCO still has the household


def test_the_row_closes_once_pco_no_longer_has_the_household(engine, client, sandbox, deleted_family, capsys):
    run_families_push(engine, client)
    client.delete(f"/people/v2/households/{deleted_family}")   # staff deleted it in PCO, without the tool
    sync_webhook_resources(client, engine)
    run_families_push(engine, client)

    assert _rows(engine) == [("families", deleted_family, "household", None, "Byron Household", "church",
                              "needs_action_in_pco", True, True)]
    conflict_id = int(_conflict_ids(engine)[0])
    assert main(["conflicts", "show", str(conflict_id)]) == 0
    assert "PCO now matches the church" in capsys.readouterr().out


def _conflict_ids(engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT id FROM sync_conflicts ORDER BY id")).scalars())

"""`pco-pipeline conflicts list|show|resolve` as staff use it, on a real database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pco_pipeline.cli import main
from pco_pipeline_tests.two_way.people_fixtures import held_last_name_conflict


@pytest.fixture
def held_conflict(engine, database_url, monkeypatch) -> int:
    """An open conflict on person 7's last name (church: Lee-Smith, PCO: Smith); its id."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    with engine.begin() as conn:
        return held_last_name_conflict(conn, "7")


def test_list_show_and_resolve(held_conflict, engine, capsys):
    assert main(["conflicts", "list", "--open"]) == 0
    listing = capsys.readouterr().out
    assert f"{held_conflict}  people 7" in listing and "last_name" in listing and "held" in listing

    assert main(["conflicts", "show", str(held_conflict)]) == 0
    shown = capsys.readouterr().out
    assert 'base    "Lee"' in shown and 'church  "Lee-Smith"' in shown and 'PCO     "Smith"' in shown
    assert "manual → held" in shown and "open: decide with" in shown

    assert main(["conflicts", "resolve", str(held_conflict), "--take", "pco"]) == 0
    assert 'both sides get "Smith"' in capsys.readouterr().out
    with engine.connect() as conn:
        decided_by, side, value = conn.execute(sa.text(
            "SELECT decided_by, resolution_side, resolution_value FROM sync_conflicts")).one()
    assert decided_by.endswith("(pco-pipeline conflicts resolve)") and (side, value) == ("pco", "Smith")

    assert main(["conflicts", "list", "--open"]) == 0
    assert capsys.readouterr().out.strip() == "no open conflicts"
    assert main(["conflicts", "show", str(held_conflict)]) == 0
    assert "not applied yet" in capsys.readouterr().out


def test_refusals_are_one_line_errors(held_conflict, capsys):
    assert main(["conflicts", "resolve", str(held_conflict), "--value", "Lee Smith"]) == 0
    assert 'both sides get "Lee Smith"' in capsys.readouterr().out
    assert main(["conflicts", "resolve", str(held_conflict), "--take", "church"]) == 1
    assert capsys.readouterr().err.startswith(f"error: conflict {held_conflict} was already decided by")
    assert main(["conflicts", "show", "999"]) == 1
    assert capsys.readouterr().err.strip() == "error: no conflict 999"
    with pytest.raises(SystemExit):  # argparse: exactly one of --take / --value
        main(["conflicts", "resolve", str(held_conflict)])

"""A wrong conflict-policy setting stops the CLI and the code location before anything runs, with
one line naming the file, entity and field (or the setting); the asset check on waiting conflicts
fails while a conflict held for a person waits longer than PCO_CONFLICT_MAX_WAIT_HOURS."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from pco_pipeline.cli import main
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.two_way import checks
from pco_pipeline.sync.policies import PolicyError
from pco_pipeline.sync.registry import DEFAULT
from pco_pipeline_tests.two_way.people_fixtures import held_last_name_conflict


@pytest.fixture
def wrong_policy_file(tmp_path, monkeypatch):
    own = tmp_path / "ours.toml"
    own.write_text('[people]\nlast_name = "church"\nshoe_size = "pco"\n', encoding="utf-8")
    monkeypatch.setenv("PCO_SYNC_POLICIES", str(own))
    return own


def test_the_cli_refuses_a_wrong_policy_file_in_one_line_and_exits_2(wrong_policy_file, capsys):
    assert main(["conflicts", "list"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"error: PCO_SYNC_POLICIES={wrong_policy_file}: people.shoe_size is not a synced field")


@pytest.mark.parametrize("hours", ["soon", "0", "-5"])
def test_the_cli_refuses_a_wait_that_is_not_a_positive_number_of_hours(monkeypatch, capsys, hours):
    monkeypatch.setenv("PCO_CONFLICT_MAX_WAIT_HOURS", hours)
    assert main(["conflicts", "list"]) == 2
    assert capsys.readouterr().err == (f"error: PCO_CONFLICT_MAX_WAIT_HOURS={hours!r} is not a positive number "
                                       "of hours (unset: 72)\n")


def test_the_code_location_does_not_load_with_a_wrong_policy_file(wrong_policy_file):
    with pytest.raises(PolicyError, match="people.shoe_size is not a synced field"):
        checks.defs()


def _run_people_check(church_db: PostgresResource) -> dg.AssetCheckResult:
    (people_check,) = [check for check in checks.conflict_checks(DEFAULT)
                       if any(spec.name == "people_conflicts_waiting" for spec in check.check_specs)]
    result = people_check(church_db=church_db)
    assert isinstance(result, dg.AssetCheckResult)
    return result


def test_the_waiting_check_fails_only_once_a_held_conflict_waited_longer_than_the_setting(
        engine, database_url, monkeypatch):
    church_db = PostgresResource(database_url=database_url)
    with engine.begin() as conn:
        held_last_name_conflict(conn)
    assert _run_people_check(church_db).passed

    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sync_conflicts SET detected_at = now() - interval '73 hours'"))
    waited = _run_people_check(church_db)
    assert not waited.passed and waited.metadata["waiting_longer"].value == 1

    monkeypatch.setenv("PCO_CONFLICT_MAX_WAIT_HOURS", "100")
    assert _run_people_check(church_db).passed


def test_the_waiting_checks_cover_every_two_way_entity_on_the_asset_showing_it():
    names = {spec.name for check in checks.conflict_checks(DEFAULT) for spec in check.check_specs}
    assert names == {"people_conflicts_waiting", "families_conflicts_waiting", "group_memberships_conflicts_waiting"}

"""The check-ins job against the seeded sandbox church: how each extract was read, said in its
metadata, and the service times and headcounts the church mirror gets."""

import sqlalchemy as sa

from pco_pipeline_tests.inbound.conftest import materialized


def test_an_incremental_run_says_which_extracts_were_complete_listings_and_why(run_job, church):
    assert run_job("sync_checkins").success
    second = materialized(run_job("sync_checkins"))
    locations = second["pco/checkin_locations"]
    assert (locations["requested"], locations["mode"]) == ("incremental", "complete")
    assert locations["read_as"].startswith(
        "listing: complete listing on every run, incremental runs included: PCO can neither order nor filter it "
        "by updated_at (https://developer.planning.center/docs/#/apps/check-ins/2025-05-28/vertices/location)")
    assert second["pco/checkin_event_times"]["read_as"].startswith("listing: complete listing")
    checkins = second["pco/checkins"]
    assert (checkins["requested"], checkins["mode"]) == ("incremental", "incremental")
    assert checkins["read_as"].startswith("keyset: incremental: PCO can both order and filter it by updated_at")
    assert checkins["records_fetched"] < 100  # nothing changed: only the overlap window is re-read


def test_every_mirrored_checkin_has_its_service_time_and_worship_headcounts_arrive(run_job, engine, sandbox, church):
    assert run_job("full_sync").success  # check-ins need their people loaded
    with engine.connect() as conn:
        without_time = conn.execute(sa.text(
            "SELECT count(*) FROM checkins WHERE source = 'pco' AND event_time_id IS NULL")).scalar()
        mirrored = conn.execute(sa.text("SELECT count(*) FROM checkins WHERE source = 'pco'")).scalar()
        times = conn.execute(sa.text("SELECT count(*) FROM event_times")).scalar()
        counted = conn.execute(sa.text("SELECT sum(total) FROM headcounts")).scalar()
        worship = conn.execute(sa.text(
            "SELECT sum(counted) FROM service_attendance WHERE event = 'Sunday Worship'")).scalar()
    assert mirrored == sandbox.store.count("check-ins/check_ins") and without_time == 0
    assert times == sandbox.store.count("check-ins/event_times")
    expected = sum(h.attributes["total"] for h in sandbox.store.all("check-ins/headcounts"))
    assert counted == worship == expected > 0

"""Church rows linked to PCO records PCO does not have — deleted before the pipeline ever landed
them — are deactivated by a complete listing that finishes, and by nothing else; the guard that
refuses an implausibly large removal counts them too."""

import pytest
import sqlalchemy as sa

from pco_pipeline.defs.inbound.jobs import full_refresh_run_config
from pco_pipeline.sync.extract import extract_resource
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.reconcile import reconcile

PEOPLE_FULL_REFRESH = full_refresh_run_config(["people"])
# Ids PCO never had (its ids are 7-9 digits in the seeded church): a link to one is stale from the start.
NEVER_IN_PCO = ("990000001", "990000002")


def _one(conn: sa.Connection, sql: str) -> sa.Row:
    return conn.execute(sa.text(sql)).one()


def _inactive_people(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.text("SELECT id FROM people WHERE NOT is_active")).scalars())


def _is_active(engine: sa.Engine, person_id: int) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT is_active FROM people WHERE id = :i"), {"i": person_id}).scalar_one()


def test_links_to_records_pco_deleted_before_the_first_sync_are_deactivated(run_job, engine, sandbox, church):
    store = sandbox.store
    with engine.begin() as conn:
        # A person with PCO-linked emails and phones: once the person is inactive, they are not compared.
        person = _one(conn, "SELECT p.id, p.pco_id FROM people p WHERE p.pco_id IS NOT NULL AND p.is_active"
                            " AND EXISTS (SELECT 1 FROM person_emails e WHERE e.person_id = p.id"
                            "             AND e.pco_id IS NOT NULL)"
                            " AND EXISTS (SELECT 1 FROM person_phones f WHERE f.person_id = p.id"
                            "             AND f.pco_id IS NOT NULL)"
                            " ORDER BY p.id LIMIT 1")
        family = _one(conn, "SELECT id, pco_id FROM families WHERE pco_id IS NOT NULL ORDER BY id LIMIT 1")
        group = _one(conn, "SELECT id, pco_id FROM church_group WHERE level = 3 AND pco_id IS NOT NULL"
                           " ORDER BY id LIMIT 1")
        # Staff linked a check-in room and a calendar event to PCO records PCO no longer has.
        location = conn.execute(sa.text("INSERT INTO locations (pco_id, name) VALUES (:p, 'Old nursery') RETURNING id"),
                                {"p": NEVER_IN_PCO[0]}).scalar_one()
        event = conn.execute(sa.text(
            "INSERT INTO events (pco_id, name, starts_at, source) VALUES (:p, 'Retired service', now(), 'calendar')"
            " RETURNING id"), {"p": NEVER_IN_PCO[1]}).scalar_one()
    assert store.get("people/people", person.pco_id) and store.get("people/households", family.pco_id) \
        and store.get("groups/groups", group.pco_id)
    # PCO deletes them before the pipeline has ever read PCO.
    sandbox.controls.delete_person(person.pco_id)
    sandbox.controls.delete("people/households", family.pco_id)
    sandbox.controls.delete("groups/groups", group.pco_id)

    result = run_job("full_sync", full_refresh_run_config())
    assert result.success

    assert not _is_active(engine, person.id)     # and nobody else: the reconciliation below would miss them
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pco_removed_at IS NOT NULL FROM families WHERE id = :i"),
                            {"i": family.id}).scalar_one()
        assert tuple(conn.execute(sa.text("SELECT is_active, pco_removed_at IS NOT NULL FROM church_group"
                                          " WHERE id = :i"), {"i": group.id}).one()) == (False, True)
        assert conn.execute(sa.text("SELECT pco_removed_at IS NOT NULL FROM locations WHERE id = :i"),
                            {"i": location}).scalar_one()
        assert conn.execute(sa.text("SELECT pco_removed_at IS NOT NULL FROM events WHERE id = :i"),
                            {"i": event}).scalar_one()
    report = reconcile(engine)
    assert report.in_sync, report.table()


def test_only_a_finished_complete_listing_deactivates_a_link_pco_never_listed(run_job, engine, sandbox, church, pco):
    assert run_job("sync_people").success      # the first read is complete, and leaves a cursor
    sandbox.controls.advance_clock(60)
    created = sandbox.controls.create_person(first_name="Newly", last_name="Linked")
    with engine.begin() as conn:
        # Staff link a church-only person to the new PCO person by hand ...
        person = conn.execute(sa.text("SELECT id FROM people WHERE pco_id IS NULL AND is_active"
                                      " AND merged_into_id IS NULL ORDER BY id LIMIT 1")).scalar_one()
        conn.execute(sa.text("UPDATE people SET pco_id = :p WHERE id = :i"), {"p": created.id, "i": person})
    sandbox.controls.delete_person(created.id)   # ... and PCO deletes it before any sync lands it.
    sandbox.controls.advance_clock(60)

    # An incremental read cannot know PCO lacks it: nothing is deactivated.
    incremental = run_job("sync_people")
    assert incremental.success
    assert _is_active(engine, person)

    # Nor can a complete read that does not finish.
    def fail_after_the_first_page(report):
        if report.pages == 1:
            sandbox.controls.inject_fault("error", status=500, path_prefix="/people/v2/people")

    with pytest.raises(Exception, match="500|server"):
        extract_resource(pco.get_client(), engine, "people/people", full_refresh=True,
                         progress=fail_after_the_first_page)
    sandbox.controls.clear_faults()
    load_people(engine)
    assert _is_active(engine, person)

    # A full refresh that finishes does.
    assert run_job("sync_people", PEOPLE_FULL_REFRESH).success
    assert not _is_active(engine, person)
    people = reconcile(engine).entities["people"]
    assert people.in_sync, (people.extra_examples, people.missing_examples)


def test_a_listing_that_would_deactivate_most_links_is_refused(run_job, engine, sandbox, church):
    with engine.connect() as conn:
        linked = conn.execute(sa.text(
            "SELECT pco_id FROM people WHERE pco_id IS NOT NULL AND is_active")).scalars().all()
    # PCO lost almost every person the church links to, before the pipeline ever read them.
    gone = [pco_id for pco_id in linked if sandbox.store.get("people/people", pco_id) is not None]
    for pco_id in gone:
        sandbox.controls.delete_person(pco_id)
    assert len(gone) > sandbox.store.count("people/people")
    inactive_before = _inactive_people(engine)

    result = run_job("sync_people", PEOPLE_FULL_REFRESH)

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    error, messages = failure.event_specific_data.error, []
    while error is not None:            # the step's error, then its causes
        messages.append(error.message)
        error = error.cause
    message = "\n".join(messages)
    assert "refusing" in message and f"{len(linked)} church link(s)" in message, message
    assert _inactive_people(engine) == inactive_before
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pco_landing WHERE removed_at IS NOT NULL")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM pco_listing WHERE resource = 'people/people'"
                                    " AND finished_at IS NOT NULL")).scalar() == 0

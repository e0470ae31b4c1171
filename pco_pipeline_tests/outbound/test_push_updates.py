"""The people push's updates and deletes of records PCO already has (issue 16 item 5), against the
sandbox over HTTP and the real database: a church made in PCO, synced in, edited locally, pushed."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from pco_pipeline.pco.client import resource_body
from pco_pipeline.sync import push_ledger
from pco_pipeline.sync.people_push import run_people_push
from pco_pipeline.sync.people_updates import DELETE_PEOPLE_SETTING, delete_people_setting
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline_tests.outbound.conftest import add_family, open_quarantine, pco_children, writes


def pco_person(client, first: str, last: str, *, email: str | None = None, phone: str | None = None,
               **attributes) -> str:
    """A person made in PCO (through the API), with an email and a phone."""
    person = client.post("/people/v2/people", resource_body("Person", {"first_name": first, "last_name": last,
                                                                       **attributes}))
    if email:
        client.post(f"/people/v2/people/{person.id}/emails", resource_body("Email", {"address": email,
                                                                                    "location": "Home"}))
    if phone:
        client.post(f"/people/v2/people/{person.id}/phone_numbers",
                    resource_body("PhoneNumber", {"number": phone, "location": "Mobile"}))
    return person.id


@pytest.fixture
def church(engine, client, sandbox):
    """Two people made in PCO, synced into the church database: pco id → local id."""
    ada = pco_person(client, "Ada", "Byron", email="ada@example.org", phone="(217) 555-0101",
                     birthdate="1985-12-10", gender="Female", membership="Member")
    bob = pco_person(client, "Bob", "Adams", email="bob@example.org", phone="(217) 555-0102")
    sync_webhook_resources(client, engine)
    with engine.connect() as conn:
        linked = dict(conn.execute(sa.text("SELECT pco_id, id FROM people WHERE pco_id IS NOT NULL")).all())
    assert set(linked) == {ada, bob}
    sandbox.controls.reset_request_log()
    return linked


def pco_attributes(sandbox, key: str, pco_id: str) -> dict:
    return dict(sandbox.store.require(key, pco_id).attributes)


def in_pco(sandbox, key: str, pco_id: str) -> bool:
    return sandbox.store.get(key, pco_id) is not None


def named(sandbox, church: dict, first_name: str) -> str:
    """The PCO id of the church's person with that first name."""
    return next(pco for pco in church if pco_attributes(sandbox, "people/people", pco)["first_name"] == first_name)


def ledger_rows(engine, action: str) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT resource_type, pco_id, sent, state, detail FROM pco_push_ledger WHERE action = :a ORDER BY id"),
            {"a": action}).all()


def edit(engine, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


# --- "What is wrong today" (issue 16), each now a test ------------------------------------------------

def test_a_linked_persons_last_name_corrected_locally_reaches_pco(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    edit(engine, "UPDATE people SET last_name = 'Lovelace', updated_at = now() WHERE pco_id = :p", p=ada)

    report = run_people_push(engine, client, run_id="push-1")

    assert pco_attributes(sandbox, "people/people", ada)["last_name"] == "Lovelace"
    assert [(w["method"], w["path"]) for w in writes(sandbox)] == [("PATCH", f"/people/v2/people/{ada}")]
    [update] = ledger_rows(engine, "update")
    assert (update.resource_type, update.pco_id, update.sent, update.state) == \
        ("Person", ada, {"last_name": "Lovelace"}, "confirmed")   # only the changed field
    assert report.counts.totals()["updated"] == 1
    # Pushed again before PCO is read again: the change is known to be in PCO already.
    sandbox.controls.reset_request_log()
    assert run_people_push(engine, client, run_id="push-2").counts.totals()["updated"] == 0
    assert writes(sandbox) == []


def test_a_phone_added_to_a_person_who_came_from_pco_is_sent(engine, client, sandbox, church):
    bob = named(sandbox, church, "Bob")
    edit(engine, "INSERT INTO person_phones (person_id, number, location, is_primary)"
                 " VALUES (:p, '(217) 555-0199', 'Work', false)", p=church[bob])

    run_people_push(engine, client)

    numbers = sorted(r.attributes["e164"] for r in pco_children(sandbox, "people/phone_numbers", bob))
    assert numbers == ["+12175550102", "+12175550199"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM person_phones WHERE pco_id IS NULL")).scalar_one() == 0


def test_an_email_deleted_locally_is_deleted_in_pco_not_recreated(engine, client, sandbox, church):
    bob = named(sandbox, church, "Bob")
    [email] = pco_children(sandbox, "people/emails", bob)
    edit(engine, "DELETE FROM person_emails WHERE pco_id = :e", e=email.id)

    report = run_people_push(engine, client)

    assert pco_children(sandbox, "people/emails", bob) == []
    assert report.counts.totals()["deleted"] == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pushed_as FROM church_deletions WHERE pco_id = :e"),
                            {"e": email.id}).scalar_one() == "deleted"
        assert push_ledger.is_own_echo(conn, "Email", email.id, None)   # its email.destroyed is our echo
        # and so is the person.updated PCO fires for it (only updated_at moved)
        assert push_ledger.was_our_write(conn, "Person", bob, client.get_resource(f"/people/v2/people/{bob}").attributes)
    sandbox.controls.reset_request_log()
    run_people_push(engine, client)
    assert writes(sandbox) == []


def test_local_deactivation_makes_the_person_inactive_in_pco(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    edit(engine, "UPDATE people SET is_active = false, updated_at = now() WHERE pco_id = :p", p=ada)

    run_people_push(engine, client)

    attributes = pco_attributes(sandbox, "people/people", ada)
    assert attributes["status"] == "inactive" and attributes["inactivated_at"] is not None


def test_a_linked_person_deleted_locally_is_made_inactive_in_pco_and_pushes_go_on(engine, client, sandbox, church):
    bob = named(sandbox, church, "Bob")
    edit(engine, "DELETE FROM people WHERE pco_id = :p", p=bob)

    report = run_people_push(engine, client)   # no "PCO people were read but not loaded" abort

    assert pco_attributes(sandbox, "people/people", bob)["status"] == "inactive"   # kept, with its history
    assert report.counts.by_resource()["Person"]["updated"] == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pushed_as FROM church_deletions WHERE local_table = 'people'"
                                    " AND pco_id = :p"), {"p": bob}).scalar_one() == "inactivated"
    sandbox.controls.reset_request_log()
    run_people_push(engine, client)
    assert writes(sandbox) == []


def test_a_real_pco_delete_only_when_the_setting_says_so(engine, client, sandbox, church, monkeypatch):
    bob = named(sandbox, church, "Bob")
    edit(engine, "DELETE FROM people WHERE pco_id = :p", p=bob)
    monkeypatch.setenv(DELETE_PEOPLE_SETTING, "maybe")
    with pytest.raises(ValueError, match=DELETE_PEOPLE_SETTING):
        run_people_push(engine, client)
    monkeypatch.setenv(DELETE_PEOPLE_SETTING, "true")
    assert delete_people_setting() is True

    report = run_people_push(engine, client)

    assert not in_pco(sandbox, "people/people", bob)
    assert report.counts.by_resource()["Person"]["deleted"] == 1


# --- the engine's rules ----------------------------------------------------------------------------

def test_a_422_quarantines_that_field_with_pcos_words_and_the_other_fields_still_go(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    local = church[ada]
    edit(engine, "UPDATE people SET gender = 'Nonbinary', last_name = 'King', updated_at = now() WHERE id = :i",
         i=local)

    report = run_people_push(engine, client)

    attributes = pco_attributes(sandbox, "people/people", ada)
    assert (attributes["last_name"], attributes["gender"]) == ("King", "Female")
    quarantined = open_quarantine(engine, "push_people")
    code, reason = quarantined[f"{local}#gender"]
    assert code == "refused_by_pco" and "gender is not included in the list" in reason   # PCO's own words
    assert f"{local}" not in quarantined
    assert report.counts.by_resource()["Person"] == {"created": 0, "updated": 1, "deleted": 0, "adopted": 0,
                                                     "skipped": 0, "failed": 1}
    assert [w["method"] for w in writes(sandbox)] == ["PATCH", "PATCH"]   # refused whole, then without gender
    # Unchanged since PCO refused it: not sent again.
    sandbox.controls.reset_request_log()
    run_people_push(engine, client)
    assert writes(sandbox) == []
    # Corrected by the church: sent, and its quarantine row resolved.
    edit(engine, "UPDATE people SET gender = 'M', updated_at = now() + interval '1 second' WHERE id = :i", i=local)
    run_people_push(engine, client)
    assert f"{local}#gender" not in open_quarantine(engine, "push_people")
    assert pco_attributes(sandbox, "people/people", ada)["gender"] == "Male"


def test_a_refused_field_put_back_to_pcos_value_leaves_the_quarantine(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    local = church[ada]
    edit(engine, "UPDATE people SET gender = 'Nonbinary', updated_at = now() WHERE id = :i", i=local)
    run_people_push(engine, client)
    assert f"{local}#gender" in open_quarantine(engine, "push_people")
    edit(engine, "UPDATE people SET gender = 'Female', updated_at = now() + interval '1 second' WHERE id = :i",
         i=local)
    sandbox.controls.reset_request_log()

    run_people_push(engine, client)

    assert writes(sandbox) == []                     # nothing to send: church and PCO agree
    assert f"{local}#gender" not in open_quarantine(engine, "push_people")


def test_a_value_pco_would_blank_is_quarantined_locally_and_the_rest_is_sent(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    local = church[ada]
    edit(engine, "UPDATE people SET birthdate = :b, membership = 'Visitor' WHERE id = :i",
         b=date(2999, 1, 1), i=local)

    run_people_push(engine, client)

    attributes = pco_attributes(sandbox, "people/people", ada)
    assert (attributes["birthdate"], attributes["membership"]) == ("1985-12-10", "Visitor")
    assert open_quarantine(engine, "push_people")[f"{local}#birthdate"][0] == "invalid_data"


def test_a_crash_between_intent_and_outcome_is_resumed_without_a_second_patch(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    edit(engine, "UPDATE people SET middle_name = 'Augusta' WHERE pco_id = :p", p=ada)
    # PCO applies the PATCH but the answer never arrives (twice: the client's one retry too).
    sandbox.faults.add("reset", method="PATCH", path_prefix="/people/v2/people/", count=2)
    with pytest.raises(Exception, match="push_people stopped"):
        run_people_push(engine, client)
    [intent] = ledger_rows(engine, "update")
    assert intent.state == "sent"                                # the outcome was never recorded
    assert pco_attributes(sandbox, "people/people", ada)["middle_name"] == "Augusta"

    sandbox.controls.reset_request_log()
    report = run_people_push(engine, client)

    assert writes(sandbox) == []                                 # read back, not sent again
    assert [(r["method"], r["path"]) for r in sandbox.controls.request_log()] == [("GET", f"/people/v2/people/{ada}")]
    [resumed] = ledger_rows(engine, "update")
    assert resumed.state == "confirmed" and "resumed" in resumed.detail
    assert report.counts.totals()["updated"] == 1


def test_an_intent_whose_patch_never_arrived_is_sent_once(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    local = church[ada]
    edit(engine, "UPDATE people SET nickname = 'Addie' WHERE id = :i", i=local)
    with engine.begin() as conn:   # a run died after committing its intent, before sending
        push_ledger.record_intent(conn, run_id="crashed", resource_type="Person", local_table="people",
                                  local_key=str(local), sent={"nickname": "Addie"}, action="update", pco_id=ada)

    run_people_push(engine, client)

    assert [(w["method"], w["path"]) for w in writes(sandbox)] == [("PATCH", f"/people/v2/people/{ada}")]
    assert pco_attributes(sandbox, "people/people", ada)["nickname"] == "Addie"
    assert [row.state for row in ledger_rows(engine, "update")] == ["confirmed"]


def test_delete_is_idempotent_a_record_already_gone_is_done(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    [phone] = pco_children(sandbox, "people/phone_numbers", ada)
    edit(engine, "DELETE FROM person_phones WHERE pco_id = :p", p=phone.id)
    client.delete(f"/people/v2/phone_numbers/{phone.id}")      # someone removed it in PCO meanwhile
    sandbox.controls.reset_request_log()

    report = run_people_push(engine, client)

    assert [(w["method"], w["status"]) for w in writes(sandbox)] == [("DELETE", 404)]
    assert report.counts.totals()["deleted"] == 1 and report.counts.totals()["failed"] == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pushed_as FROM church_deletions WHERE pco_id = :p"),
                            {"p": phone.id}).scalar_one() == "already_gone"


def test_dry_run_writes_nothing_and_shows_each_field(engine, sandbox, church):
    ada = named(sandbox, church, "Ada")
    edit(engine, "UPDATE people SET last_name = 'Lovelace' WHERE pco_id = :p", p=ada)
    edit(engine, "DELETE FROM person_emails WHERE person_id = :i", i=church[ada])

    report = run_people_push(engine, None, dry_run=True)

    assert sandbox.controls.request_log() == []
    assert report.plan.counts() == {"delete Email": 1, "update Person": 1}
    assert "| last_name | 'Byron' → 'Lovelace' |" in report.plan.markdown()
    assert ledger_rows(engine, "update") == [] and ledger_rows(engine, "delete") == []


def test_own_writes_are_recognised_as_echoes_and_later_pco_edits_are_not(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    edit(engine, "UPDATE people SET last_name = 'Lovelace' WHERE pco_id = :p", p=ada)
    run_people_push(engine, client)
    ours = client.get_resource(f"/people/v2/people/{ada}").attributes   # as a webhook or a load brings it
    with engine.connect() as conn:
        assert push_ledger.is_own_echo(conn, "Person", ada, {"last_name": "Lovelace"})
        assert push_ledger.is_own_echo(conn, "Person", ada, ours, updated_at=ours["updated_at"])
        assert not push_ledger.is_own_echo(conn, "Person", ada, {"last_name": "Byron"})
    sandbox.clock.advance(60)
    client.patch(f"/people/v2/people/{ada}", resource_body("Person", {"nickname": "Countess"}, id=ada))
    theirs = client.get_resource(f"/people/v2/people/{ada}").attributes
    with engine.connect() as conn:
        assert not push_ledger.is_own_echo(conn, "Person", ada, theirs, updated_at=theirs["updated_at"])
        assert not push_ledger.is_own_echo(conn, "Person", ada, None)   # we deleted nothing


def test_a_422_naming_no_field_splits_the_patch_per_field_to_find_the_refused_one(engine, client, sandbox, church):
    ada = named(sandbox, church, "Ada")
    edit(engine, "UPDATE people SET last_name = 'King', gender = 'Unknown' WHERE pco_id = :p", p=ada)
    # PCO refuses the whole record without saying which field (an error without a source pointer).
    sandbox.faults.add("error", status=422, method="PATCH", path_prefix=f"/people/v2/people/{ada}", count=1)

    run_people_push(engine, client)

    assert [w["status"] for w in writes(sandbox)] == [422, 200, 422]   # whole, then one PATCH per field
    assert pco_attributes(sandbox, "people/people", ada)["last_name"] == "King"
    assert f"{church[ada]}#gender" in open_quarantine(engine, "push_people")
    assert f"{church[ada]}#last_name" not in open_quarantine(engine, "push_people")


def test_updating_a_person_from_pco_never_sends_their_family_address(engine, client, sandbox, church):
    """In PCO an address belongs to the person: a family address goes only with people the push creates."""
    ada = named(sandbox, church, "Ada")
    with engine.begin() as conn:
        add_family(conn, "Byron", [church[ada]], street="1 Main St", city="Springfield", state="IL", zip_code="62701")
    edit(engine, "UPDATE people SET last_name = 'Lovelace' WHERE pco_id = :p", p=ada)

    run_people_push(engine, client)
    run_people_push(engine, client)

    assert [w["method"] for w in writes(sandbox)] == ["PATCH"]
    assert pco_children(sandbox, "people/addresses", ada) == []

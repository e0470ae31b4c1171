"""push_people against the sandbox over HTTP, on a real database: what is sent, what is stored back,
what is held back, and what a second run does."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from pco_pipeline.sync import push_ledger
from pco_pipeline.sync.push import PushAborted
from pco_pipeline.sync.people_push import run_people_push
from pco_pipeline_tests.outbound.conftest import (add_family, add_person, mark_people_read, open_quarantine,
                                                  pco_children, pco_people_by_remote_id, writes)


def test_people_are_created_with_contacts_and_ids_stored_back(engine, client, sandbox):
    with engine.begin() as conn:
        ann = add_person(conn, "Ann", "Lee", birthdate=date(1980, 1, 2), email="Ann.Lee@Example.org",
                         phone="(217) 555-0101", gender="Female")
        cid = add_person(conn, "Cid", "Lee", birthdate=date(2016, 5, 6), child=True, grade=3)
        family = add_family(conn, "Lee", [ann, cid], street="1 Main St", city="Springfield", state="IL",
                            zip_code="62701")
    mark_people_read(engine)

    report = run_people_push(engine, client, run_id="run-1")

    assert report.counts.totals() == {"created": 6, "updated": 0, "deleted": 0, "adopted": 0, "skipped": 0, "failed": 0}
    by_remote = pco_people_by_remote_id(sandbox)
    assert sorted(by_remote) == [ann, cid] and all(len(v) == 1 for v in by_remote.values())
    ann_pco, cid_pco = by_remote[ann][0], by_remote[cid][0]
    assert (ann_pco.attributes["first_name"], ann_pco.attributes["birthdate"], ann_pco.attributes["gender"]) == \
        ("Ann", "1980-01-02", "Female")
    assert (cid_pco.attributes["child"], cid_pco.attributes["grade"]) == (True, 3)
    [email] = pco_children(sandbox, "people/emails", ann_pco.id)
    [phone] = pco_children(sandbox, "people/phone_numbers", ann_pco.id)
    assert (email.attributes["address"], email.attributes["primary"]) == ("Ann.Lee@Example.org", True)
    assert phone.attributes["e164"] == "+12175550101"
    for person in (ann_pco, cid_pco):   # the family address goes to every member
        [address] = pco_children(sandbox, "people/addresses", person.id)
        assert (address.attributes["street_line_1"], address.attributes["city"], address.attributes["zip"]) == \
            ("1 Main St", "Springfield", "62701")
    with engine.connect() as conn:
        people = dict(conn.execute(sa.text("SELECT id, pco_id FROM people")).all())
        contacts = conn.execute(sa.text(
            "SELECT (SELECT pco_id FROM person_emails), (SELECT pco_id FROM person_phones),"
            " (SELECT e164 FROM person_phones)")).one()
        addresses = conn.execute(sa.text(
            "SELECT local_key, pco_id FROM pco_push_ledger WHERE resource_type = 'Address' ORDER BY local_key")).all()
    assert people == {ann: ann_pco.id, cid: cid_pco.id}
    assert tuple(contacts) == (email.id, phone.id, "+12175550101")
    assert [a.local_key for a in addresses] == [f"{family}:{ann}", f"{family}:{cid}"]

    sandbox.controls.reset_request_log()
    again = run_people_push(engine, client, run_id="run-2")
    assert sandbox.controls.request_log() == []   # nothing left to send, and nothing to look up
    assert again.counts.totals()["created"] == 0


def test_one_person_with_an_email_and_a_phone_costs_three_requests(engine, client, sandbox):
    with engine.begin() as conn:
        for n in range(12):
            add_person(conn, f"P{n}", "Count", email=f"p{n}@example.org", phone=f"(217) 555-{1000 + n}")
    mark_people_read(engine)
    run_people_push(engine, client, workers=3)
    log = sandbox.controls.request_log()
    assert len(log) == 3 * 12
    assert {r["method"] for r in log} == {"POST"}


def test_dry_run_sends_nothing_and_changes_nothing_but_shows_the_plan(engine, sandbox):
    with engine.begin() as conn:
        ann = add_person(conn, "Ann", "Lee", birthdate=date(1980, 1, 2), email="ann@example.org",
                         phone="(217) 555-0101")
        add_person(conn, "Bad", "Mail", email="not-an-email")
    mark_people_read(engine)

    report = run_people_push(engine, None, dry_run=True)

    assert sandbox.controls.request_log() == []
    assert report.plan.counts() == {"create Email": 1, "create Person": 2, "create PhoneNumber": 1,
                                    "skip person_emails (invalid_data)": 1}
    table = report.plan.markdown()
    assert f"| 1 | create | Person | person {ann} (Ann Lee) | first_name | Ann |" in table
    assert "| | | | | birthdate | 1980-01-02 |" in table
    assert "not-an-email" in table
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM people WHERE pco_id IS NOT NULL")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM pco_push_ledger")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM sync_quarantine")).scalar() == 0


def test_invalid_local_data_is_quarantined_not_sent(engine, client, sandbox):
    tomorrow = date.today() + timedelta(days=1)
    with engine.begin() as conn:
        future = add_person(conn, "Future", "Born", birthdate=tomorrow, email="future@example.org")
        nameless = add_person(conn, "", " ")
        good = add_person(conn, "Good", "Person", email="good @example.org", phone="555-12",
                          e164=None)
        mismatch = add_person(conn, "Mis", "Match", phone="(217) 555-0199", e164="+12175550100")
    mark_people_read(engine)

    report = run_people_push(engine, client)

    people = open_quarantine(engine, "push_people")
    assert set(people) == {str(future), str(nameless)}
    assert "in the future" in people[str(future)][1] and people[str(future)][0] == "invalid_data"
    assert "neither a first nor a last name" in people[str(nameless)][1]
    emails, phones = open_quarantine(engine, "push_person_emails"), open_quarantine(engine, "push_person_phones")
    assert [reason for _, reason in emails.values()] == [
        f"person {good} (Good Person): email address 'good @example.org' is not of the form name@domain.tld"]
    assert sorted(reason.split(": ", 1)[1] for _, reason in phones.values()) == [
        "phone number '(217) 555-0199' is +12175550199 in E.164, but the church stored +12175550100 for it",
        "phone number '555-12' has no E.164 form (too short)"]
    assert sorted(pco_people_by_remote_id(sandbox)) == [good, mismatch]   # sent without the bad contacts
    sent_paths = {r["path"] for r in writes(sandbox)}
    assert sent_paths == {"/people/v2/people"}
    assert report.counts.totals()["skipped"] == 5


def test_a_record_pco_refuses_is_quarantined_with_pcos_words_and_the_run_goes_on(engine, client, sandbox):
    with engine.begin() as conn:
        odd = add_person(conn, "Odd", "Gender", gender="Other")
        fine = add_person(conn, "Fine", "Person")
    mark_people_read(engine)

    report = run_people_push(engine, client)

    assert report.counts.totals()["failed"] == 1 and report.counts.totals()["created"] == 1
    assert list(pco_people_by_remote_id(sandbox)) == [fine]
    [(code, reason)] = open_quarantine(engine, "push_people").values()
    assert code == "refused_by_pco" and "gender" in reason and "is not included in the list" in reason
    with engine.connect() as conn:
        states = conn.execute(sa.text("SELECT state, detail FROM pco_push_ledger WHERE local_key = :k"),
                              {"k": str(odd)}).all()
    assert [s.state for s in states] == ["refused"]

    # Unchanged: not sent again. Fixed by the church: sent, and the quarantine row resolved.
    sandbox.controls.reset_request_log()
    assert run_people_push(engine, client).counts.totals()["skipped"] == 1
    assert writes(sandbox) == []
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET gender = 'Female', updated_at = clock_timestamp() WHERE id = :i"),
                     {"i": odd})
    assert run_people_push(engine, client).counts.totals()["created"] == 1
    assert sorted(pco_people_by_remote_id(sandbox)) == [odd, fine]
    assert open_quarantine(engine, "push_people") == {}


def test_people_pco_may_already_have_are_not_pushed(engine, client, sandbox):
    with engine.begin() as conn:
        twin_a = add_person(conn, "James", "Patel", birthdate=date(1970, 3, 3))
        twin_b = add_person(conn, "James", "Patel", birthdate=date(1970, 3, 3))
        merged = add_person(conn, "Old", "Record")
        kept = add_person(conn, "Kept", "Record", pco_id="999")
        conn.execute(sa.text("UPDATE people SET merged_into_id = :k WHERE id = :m"), {"k": kept, "m": merged})
        conn.execute(sa.text(
            "INSERT INTO sync_quarantine (entity, record_key, reason_code, reason, details)"
            " VALUES ('people', '100000002', 'ambiguous_match', 'ambiguous', CAST(:d AS jsonb))"),
            {"d": f'{{"rule": "ambiguous_name_birthdate", "candidates": [{twin_a}, {twin_b}]}}'})
    mark_people_read(engine)

    report = run_people_push(engine, client)

    assert writes(sandbox) == []
    held = open_quarantine(engine, "push_people")
    assert set(held) == {str(twin_a), str(twin_b)}
    assert all(code == "possible_duplicate" and "100000002" in reason for code, reason in held.values())
    assert report.counts.totals()["skipped"] == 2


def test_push_waits_for_the_inbound_people_sync(engine, client, sandbox):
    with engine.begin() as conn:
        add_person(conn, "Ann", "Lee")
    with pytest.raises(PushAborted, match="sync people"):
        run_people_push(engine, client)
    mark_people_read(engine)
    with engine.begin() as conn:   # landed by the extract, not loaded yet
        conn.execute(sa.text("INSERT INTO pco_landing (resource, pco_id, attributes)"
                             " VALUES ('people/people', '5', '{}')"))
    with pytest.raises(PushAborted, match="not loaded"):
        run_people_push(engine, client)
    assert sandbox.controls.request_log() == []


def test_our_own_writes_are_recognised_as_echoes_and_a_later_edit_is_not(engine, client, sandbox):
    with engine.begin() as conn:
        ann = add_person(conn, "Ann", "Lee", email="ann@example.org")
    mark_people_read(engine)
    run_people_push(engine, client)
    [pco_person] = pco_people_by_remote_id(sandbox)[ann]
    [email] = pco_children(sandbox, "people/emails", pco_person.id)

    # What a webhook delivers is the resource as the API renders it (pco_api.md §4).
    person = client.get_resource(f"/people/v2/people/{pco_person.id}")
    mail = client.get_resource(f"/people/v2/emails/{email.id}")
    with engine.connect() as conn:
        # The email POST moved the person's updated_at: still an echo of our writes.
        assert push_ledger.was_our_write(conn, "Person", person.id, person.attributes)
        assert push_ledger.was_our_write(conn, "Email", mail.id, mail.attributes)
        assert not push_ledger.was_our_write(conn, "Person", person.id, person.attributes, within=timedelta(0))
        assert not push_ledger.was_our_write(conn, "Email", person.id, person.attributes)

    sandbox.controls.advance_clock(5)
    sandbox.controls.update_record("people/people", pco_person.id, {"last_name": "Lee-Park"})
    edited = client.get_resource(f"/people/v2/people/{pco_person.id}")
    with engine.connect() as conn:
        assert not push_ledger.was_our_write(conn, "Person", edited.id, edited.attributes)


def test_a_connection_problem_stops_the_push_instead_of_failing_every_person(engine, client, sandbox):
    with engine.begin() as conn:
        for n in range(20):
            add_person(conn, f"P{n}", "Stop")
    mark_people_read(engine)
    sandbox.controls.inject_fault("error", status=403, method="POST")

    with pytest.raises(PushAborted, match="push_people stopped: PCO refused access"):
        run_people_push(engine, client, workers=4)

    assert len(sandbox.controls.request_log()) <= 4   # the people already in flight, no more
    with engine.connect() as conn:
        states = conn.execute(sa.text("SELECT DISTINCT state FROM pco_push_ledger")).scalars().all()
        quarantined = conn.execute(sa.text("SELECT count(*) FROM sync_quarantine")).scalar()
    assert states == ["abandoned"] and quarantined == 0
    sandbox.controls.clear_faults()
    sandbox.controls.reset_request_log()
    run_people_push(engine, client)
    assert len(writes(sandbox)) == 20 and len(sandbox.controls.request_log()) == 20   # no lookups needed

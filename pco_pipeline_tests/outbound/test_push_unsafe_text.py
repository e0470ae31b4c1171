"""The push_people job never sends PCO text it should not get (10,000 characters, a bell, a line
break, a right-to-left override), in a name, an email, a phone number or an address: each such
record is quarantined with a reason staff can act on, the rest goes, and the run says `partial`."""

import sqlalchemy as sa

from pco_pipeline.sync.push_validate import is_invisible
from pco_pipeline_tests.outbound.conftest import add_family, add_person, mark_people_read, open_quarantine, writes

LONG = "x" * 10_000
BEL, NEWLINE, RLO = "\x07", "\n", "\u202e"
UNSAFE = ((LONG, "is 10,000 characters long; at most 255 can be sent to PCO"),
          (BEL, "contains an invisible control character (U+0007)"),
          (NEWLINE, "contains a line break (U+000A)"),
          (RLO, "contains an invisible right-to-left override character (U+202E)"))


def _contact(conn: sa.Connection, table: str, person_id: int, value: str) -> int:
    column, location = ("address", "Home") if table == "person_emails" else ("number", "Mobile")
    return conn.execute(sa.text(
        f"INSERT INTO {table} (person_id, {column}, location, is_primary) VALUES (:p, :v, :l, false) RETURNING id"),
        {"p": person_id, "v": value, "l": location}).scalar_one()


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_push_people_quarantines_unsafe_text_and_sends_none_of_it(run_job, engine, sandbox):
    expected: dict[str, dict[str, str]] = {"push_people": {}, "push_person_emails": {}, "push_person_phones": {},
                                           "push_families": {}}
    with engine.begin() as conn:
        # One person per unsafe value in a name ...
        for number, (text, problem) in enumerate(UNSAFE):
            if text == LONG:
                person = add_person(conn, "Ann", LONG)
                expected["push_people"][str(person)] = f"last name {problem}"
            else:
                person = add_person(conn, f"Bea{text}trice", f"Test{number}")
                expected["push_people"][str(person)] = f"first name {problem}"
        # ... and good people with one unsafe email, phone number and family address each.
        good = [add_person(conn, "Eve", f"Good{n}", email=f"eve{n}@example.org") for n in range(len(UNSAFE))]
        for person, (text, problem) in zip(good, UNSAFE):
            local_part = LONG if text == LONG else f"eve{text}x"
            email = _contact(conn, "person_emails", person, f"{local_part}@example.org")
            expected["push_person_emails"][str(email)] = (
                "email address has 10,000 characters before the @; at most 64 are allowed" if text == LONG
                else f"email address {problem}")
            phone = _contact(conn, "person_phones", person, "2" * 10_000 if text == LONG else f"(217) 555{text}-0101")
            expected["push_person_phones"][str(phone)] = f"phone number {problem}"
            city = LONG if text == LONG else f"Spring{text}field"
            family = add_family(conn, f"Good{person}", [person], street="1 Main St", city=city, state="IL",
                                zip_code="62701")
            expected["push_families"][f"{family}:{person}"] = f"city {problem}"
    mark_people_read(engine)

    result = run_job("push_people")
    assert result.success

    # Every unsafe record is quarantined, with a reason that names the field and the problem, and
    # that is itself safe to show (short, nothing invisible in it).
    for entity, reasons in expected.items():
        quarantined = open_quarantine(engine, entity)
        assert set(quarantined) == set(reasons), entity
        for key, problem in reasons.items():
            code, reason = quarantined[key]
            assert code == "invalid_data" and problem in reason, (entity, key, reason)
            assert len(reason) < 200 and not any(is_invisible(c) for c in reason), reason

    # PCO got the good people and their good emails, and none of the unsafe text.
    people = sandbox.store.all("people/people")
    assert sorted(p.attributes["last_name"] for p in people) == [f"Good{n}" for n in range(len(UNSAFE))]
    assert sorted(e.attributes["address"] for e in sandbox.store.all("people/emails")) == [
        f"eve{n}@example.org" for n in range(len(UNSAFE))]
    assert sandbox.store.all("people/phone_numbers") == [] and sandbox.store.all("people/addresses") == []
    for key in ("people/people", "people/emails", "people/phone_numbers", "people/addresses", "people/households"):
        for record in sandbox.store.all(key):
            for text in _strings(record.attributes):
                assert len(text) <= 255 and not any(is_invisible(c) for c in text), (key, record.id)
    posted = [r["path"] for r in writes(sandbox)]
    assert posted.count("/people/v2/people") == len(UNSAFE)
    assert len(posted) == 2 * len(UNSAFE)      # the good people and their good emails, nothing else

    quarantined = sum(len(reasons) for reasons in expected.values())
    with engine.connect() as conn:
        log = conn.execute(sa.text("SELECT status, created_count, failed_count FROM pco_sync_log WHERE run_id = :r"),
                           {"r": result.run_id}).one()
    assert tuple(log) == ("partial", 2 * len(UNSAFE), quarantined)

"""What a push checks before sending a record to PCO: pure functions, no I/O.

PCO does not reject every bad value: a birthdate or grade it cannot parse comes back 200 with
the field emptied (pco_api.md §3 writes, §6), so a record is checked here first and a record
PCO would damage is not sent at all (the push quarantines it with these reasons). Each function
returns the list of problems, empty when the record can go; the messages say what to fix.

The rules:
- person: a first or last name; birthdate a real date, not in the future, not before 1850;
  grade a whole number -1 (pre-K) … 12; child true/false; the local id fits PCO's integer
  `remote_id`;
- email: one address of the shape name@domain.tld (no spaces, one @, a dot in the domain);
- phone: a number that has an E.164 form (`normalize.normalize_phone`), equal to the E.164 the
  church stored for it when it stored one;
- address: something to send (a street or a city), and a two-letter country code if any.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from pco_pipeline.sync.normalize import (INT32_MAX, InvalidValue, clean_text, normalize_phone, parse_bool,
                                         parse_date, parse_grade)

EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
EARLIEST_BIRTHDATE = date(1850, 1, 1)
COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")


def _date_text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def person_problems(person: Mapping[str, Any], *, today: date) -> list[str]:
    """Problems of a local `people` row (id, first_name, last_name, birthdate, grade, child, …)."""
    problems = []
    if not (clean_text(person.get("first_name")) or clean_text(person.get("last_name"))):
        problems.append("has neither a first nor a last name (PCO requires one)")
    try:
        birthdate = parse_date(_date_text(person.get("birthdate")), "birthdate")
    except InvalidValue as exc:
        problems.append(str(exc))
    else:
        if birthdate is not None and birthdate > today:
            problems.append(f"birthdate {birthdate.isoformat()} is in the future")
        elif birthdate is not None and birthdate < EARLIEST_BIRTHDATE:
            problems.append(f"birthdate {birthdate.isoformat()} is before {EARLIEST_BIRTHDATE.year}")
    for check, value in ((parse_grade, person.get("grade")), (lambda v: parse_bool(v, "child"), person.get("child"))):
        try:
            check(value)
        except InvalidValue as exc:
            problems.append(str(exc))
    local_id = person.get("id")
    if not isinstance(local_id, int) or not 0 < local_id <= INT32_MAX:
        problems.append(f"local id {local_id!r} does not fit PCO's remote_id (a positive 32-bit integer)")
    return problems


def email_problems(address: Any) -> list[str]:
    text = clean_text(address)
    if text is None:
        return ["email address is blank"]
    if not EMAIL_SHAPE.match(text):
        return [f"email address {text!r} is not of the form name@domain.tld"]
    return []


def phone_problems(number: Any, stored_e164: Any = None) -> list[str]:
    text = clean_text(number)
    if text is None:
        return ["phone number is blank"]
    normalized = normalize_phone(text)
    if normalized.e164 is None:
        return [f"phone number {text!r} has no E.164 form ({normalized.reason})"]
    stored = clean_text(stored_e164)
    if stored is not None and stored != normalized.e164:
        return [f"phone number {text!r} is {normalized.e164} in E.164, but the church stored {stored} for it"]
    return []


ADDRESS_FIELDS = ("street_line_1", "street_line_2", "city", "state", "zip", "country_code")


def address_attributes(family: Mapping[str, Any]) -> dict[str, str] | None:
    """The PCO Address attributes of a family's address (trimmed, blanks left out); None when it has none."""
    values = {field: clean_text(family.get(field)) for field in ADDRESS_FIELDS}
    return {field: value for field, value in values.items() if value is not None} or None


def address_problems(attributes: Mapping[str, Any]) -> list[str]:
    problems = []
    if not attributes.get("street_line_1") and not attributes.get("city"):
        problems.append("address has neither a street nor a city")
    country = attributes.get("country_code")
    if country is not None and not COUNTRY_CODE.match(str(country)):
        problems.append(f"country code {country!r} is not a two-letter ISO code")
    return problems

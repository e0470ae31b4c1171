"""What a push checks before sending a record to PCO: pure functions, no I/O.

PCO does not reject every bad value: a birthdate or grade it cannot parse comes back 200 with
the field emptied (pco_api.md §3 writes, §6), and text it is sent is stored as it came (a
10,000-character name, a bell, a line break or an invisible right-to-left override would reach
every PCO screen, email and export that shows it). So a record is checked here first and a record
PCO would damage is not sent at all (the push quarantines it with these reasons). Each function
returns the list of problems, empty when the record can go; the messages say what to fix.

The rules, each stated once, here:
- every text value sent (a person's names, gender, status and membership; an email address and
  its location; a phone number and its location; the address lines, city, state, ZIP code,
  country code and location; a household's name) is at most `TEXT_MAX` characters long and
  holds no control character (bell, tab, line break, …) and no invisible formatting character
  (`text_problems`);
- person: a first or last name; birthdate a real date, not in the future, not before 1850;
  grade a whole number -1 (pre-K) … 12; child true/false; the local id fits PCO's integer
  `remote_id`;
- email: one address of the shape name@domain.tld (no spaces, one @, a dot in the domain), at
  most `EMAIL_LOCAL_PART_MAX` characters before the @ and `EMAIL_MAX` in all;
- phone: a number that has an E.164 form (`normalize.normalize_phone`), equal to the E.164 the
  church stored for it when it stored one;
- address: something to send (a street or a city), and a two-letter country code if any;
- household: a name.

Length limits. PCO documents none: its People reference types every attribute of Person, Email,
PhoneNumber, Address and Household as a plain `string` (People API 2025-03-20, e.g.
developer.planning.center → People → Person), and PCO staff said limits are not documented and
change over time (github.com/planningcenter/developers/issues/578). So the push chooses its own:
255 characters for any text, far above any real name, street or city and the column size most
web applications give such fields; for email addresses the limits of the email standard itself,
RFC 5321 §4.5.3.1.1 (64 before the @) and §4.5.3.1.3 (a path of 256 octets: 254 for the address).

Invisible characters. Control characters (Unicode category Cc: bell, tab, line breaks, …), line
and paragraph separators (Zl, Zp) and formatting characters (Cf: the bidirectional embeddings,
overrides, isolates and marks U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C, the
zero-width space U+200B, the byte order mark U+FEFF, the soft hyphen, the word joiner, tag
characters, …) are refused: they are invisible or reorder what is shown around them, so a name
holding one looks like another name, or garbles the line it is printed in. Except the zero-width
non-joiner and joiner (U+200C, U+200D), which Persian and Indic names need to be spelled right.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from pco_pipeline.sync.normalize import (INT32_MAX, InvalidValue, clean_text, normalize_phone, parse_bool,
                                         parse_date, parse_grade)

EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
EARLIEST_BIRTHDATE = date(1850, 1, 1)
COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")

TEXT_MAX = 255                 # PCO documents no limit: the push's own (see the module docstring)
EMAIL_MAX = 254                # RFC 5321 §4.5.3.1.3
EMAIL_LOCAL_PART_MAX = 64      # RFC 5321 §4.5.3.1.1

# The person's text attributes a push sends, and what staff call them.
PERSON_TEXT_FIELDS = {"first_name": "first name", "last_name": "last name", "middle_name": "middle name",
                      "nickname": "nickname", "gender": "gender", "status": "status", "membership": "membership"}
ADDRESS_FIELDS = ("street_line_1", "street_line_2", "city", "state", "zip", "country_code")
ADDRESS_LABELS = {"street_line_1": "street", "street_line_2": "second street line", "city": "city",
                  "state": "state", "zip": "ZIP code", "country_code": "country code", "location": "address location"}

# Formatting characters that belong to the correct spelling of names (Persian, Indic scripts).
ALLOWED_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})
_LINE_BREAKS = frozenset({"\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"})
_SPOKEN_CONTROLS = {"\t": "a tab"}
_SHOWN_PER_PROBLEM = 3


def is_invisible(character: str) -> bool:
    """A character a push refuses to send: a control, line separator or formatting character
    (see the module docstring), except the joiners names need."""
    category = unicodedata.category(character)
    return category in ("Cc", "Zl", "Zp") or (category == "Cf" and character not in ALLOWED_FORMAT_CHARACTERS)


def _describe(character: str) -> str:
    code = f"U+{ord(character):04X}"
    if character in _LINE_BREAKS:
        return f"a line break ({code})"
    if character in _SPOKEN_CONTROLS:
        return f"{_SPOKEN_CONTROLS[character]} ({code})"
    if unicodedata.category(character) == "Cc":
        return f"an invisible control character ({code})"
    return f"an invisible {unicodedata.name(character, 'formatting').lower()} character ({code})"


def printable(value: Any, max_length: int = 40) -> str:
    """`value` safe to show in a reason, a label or a log line: invisible characters as their code
    (`<U+202E>`) and at most `max_length` characters, then "…"."""
    text = "" if value is None else str(value)
    shown = "".join(f"<U+{ord(c):04X}>" if is_invisible(c) else c for c in text[:max_length])
    return shown + "…" if len(text) > max_length else shown


def text_problems(label: str, value: Any, *, max_length: int = TEXT_MAX) -> list[str]:
    """Problems of one text value as it would be sent: longer than `max_length`, or holding
    invisible characters (`is_invisible`). `label` is what staff call the field ("last name")."""
    if value is None:
        return []
    text = str(value)
    problems = []
    if len(text) > max_length:
        problems.append(f"{label} is {len(text):,} characters long; at most {max_length} can be sent to PCO")
    found = list(dict.fromkeys(c for c in text if is_invisible(c)))
    if found:
        described = [_describe(c) for c in found[:_SHOWN_PER_PROBLEM]]
        more = len(found) - len(described)
        problems.append(f"{label} contains {', '.join(described)}" + (f" and {more} more" if more else ""))
    return problems


def _date_text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def person_field_problems(person: Mapping[str, Any], *, today: date) -> dict[str, list[str]]:
    """Problems of a local `people` row's fields, by field (an update sends the others)."""
    problems: dict[str, list[str]] = {}

    def add(field: str, messages: list[str]) -> None:
        if messages:
            problems.setdefault(field, []).extend(messages)

    if not (clean_text(person.get("first_name")) or clean_text(person.get("last_name"))):
        add("first_name", ["has neither a first nor a last name (PCO requires one)"])
    for field, label in PERSON_TEXT_FIELDS.items():
        add(field, text_problems(label, person.get(field)))
    try:
        birthdate = parse_date(_date_text(person.get("birthdate")), "birthdate")
    except InvalidValue as exc:
        add("birthdate", [str(exc)])
    else:
        if birthdate is not None and birthdate > today:
            add("birthdate", [f"birthdate {birthdate.isoformat()} is in the future"])
        elif birthdate is not None and birthdate < EARLIEST_BIRTHDATE:
            add("birthdate", [f"birthdate {birthdate.isoformat()} is before {EARLIEST_BIRTHDATE.year}"])
    for field, check in (("grade", parse_grade), ("child", lambda v: parse_bool(v, "child"))):
        try:
            check(person.get(field))
        except InvalidValue as exc:
            add(field, [str(exc)])
    return problems


def person_problems(person: Mapping[str, Any], *, today: date) -> list[str]:
    """Problems of a local `people` row (id, first_name, last_name, birthdate, grade, child, …) to create."""
    problems = [message for messages in person_field_problems(person, today=today).values() for message in messages]
    local_id = person.get("id")
    if not isinstance(local_id, int) or not 0 < local_id <= INT32_MAX:
        problems.append(f"local id {local_id!r} does not fit PCO's remote_id (a positive 32-bit integer)")
    return problems


def _address_problems(text: str) -> list[str]:
    local_part = text.rpartition("@")[0]
    if len(local_part) > EMAIL_LOCAL_PART_MAX:
        return [f"email address has {len(local_part):,} characters before the @; "
                f"at most {EMAIL_LOCAL_PART_MAX} are allowed"]
    problems = text_problems("email address", text, max_length=EMAIL_MAX)
    if problems:
        return problems
    if not EMAIL_SHAPE.match(text):
        return [f"email address '{printable(text)}' is not of the form name@domain.tld"]
    return []


def email_problems(address: Any, location: Any = None) -> list[str]:
    """Problems of an email as sent: its address (trimmed) and its location."""
    text = clean_text(address)
    problems = ["email address is blank"] if text is None else _address_problems(text)
    return problems + text_problems("email location", location)


def phone_problems(number: Any, stored_e164: Any = None, location: Any = None) -> list[str]:
    """Problems of a phone number as sent (the number as the church typed it) and its location."""
    location_problems = text_problems("phone location", location)
    text = clean_text(number)
    if text is None:
        return ["phone number is blank", *location_problems]
    typed = text_problems("phone number", number)
    if typed:
        return typed + location_problems
    normalized = normalize_phone(text)
    if normalized.e164 is None:
        return [f"phone number '{printable(text)}' has no E.164 form ({normalized.reason})", *location_problems]
    stored = clean_text(stored_e164)
    if stored is not None and stored != normalized.e164:
        return [f"phone number '{printable(text)}' is {normalized.e164} in E.164, but the church stored "
                f"{printable(stored)} for it", *location_problems]
    return location_problems


def address_attributes(family: Mapping[str, Any]) -> dict[str, str] | None:
    """The PCO Address attributes of a family's address (trimmed, blanks left out); None when it has none."""
    values = {field: clean_text(family.get(field)) for field in ADDRESS_FIELDS}
    return {field: value for field, value in values.items() if value is not None} or None


def address_problems(attributes: Mapping[str, Any]) -> list[str]:
    """Problems of PCO Address attributes as sent (`address_attributes`, plus a location)."""
    problems = []
    if not attributes.get("street_line_1") and not attributes.get("city"):
        problems.append("address has neither a street nor a city")
    for field, label in ADDRESS_LABELS.items():
        problems += text_problems(label, attributes.get(field))
    country = attributes.get("country_code")
    if country is not None and not COUNTRY_CODE.match(str(country)):
        problems.append(f"country code '{printable(country)}' is not a two-letter ISO code")
    return problems


def household_problems(name: Any) -> list[str]:
    """Problems of a household's name as sent."""
    if clean_text(name) is None:
        return ["has no name"]
    return text_problems("household name", name)

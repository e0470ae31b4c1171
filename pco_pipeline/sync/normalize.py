"""Cleaning PCO values into what the church database stores: pure functions, no I/O.

Two layers:
- value functions (`normalize_email`, `normalize_phone`, `parse_date`, …) clean one value and
  raise `InvalidValue` with a reason a person can act on when it cannot be stored;
- record functions (`normalize_person`, `normalize_email_record`, …) turn the attributes of one
  PCO record into the typed values the load writes, plus `problems`: the reasons the record
  cannot be loaded as it is (it is then quarantined, never half-written).

Records are normalized once, when they are landed (see `sync/landing.py`), so the set-based SQL
of the load reads ready values from the landing table's `normalized` column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import phonenumbers

DEFAULT_PHONE_REGION = "US"

# The church schema's own constraints; a value outside them would abort a whole load.
GRADE_RANGE = (-1, 12)
E164_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")
INT32_MAX = 2**31 - 1
SMALLINT_RANGE = (-(2**15), 2**15 - 1)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class InvalidValue(ValueError):
    """A value that cannot be stored; the message says which and why."""


@dataclass(frozen=True, slots=True)
class PhoneNormalization:
    """E.164 form of a phone number, or None with the reason it has none."""

    e164: str | None
    reason: str | None = None


# --- values -------------------------------------------------------------------------------

def clean_text(value: Any) -> str | None:
    """Trimmed text; None for missing or blank values."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def normalize_email(address: Any) -> str | None:
    """The matching key of an email address: trimmed and case-folded; None when blank.

    Writers of local `person_emails.address_normalized` must use this same function, so
    that PCO and local addresses compare equal.
    """
    text = clean_text(address)
    return text.casefold() if text else None


def normalize_phone(number: Any, region: str | None = DEFAULT_PHONE_REGION) -> PhoneNormalization:
    """`number` in E.164 (`+15558411105`), using `region` for numbers without a country code.

    A number of plausible length for its country is accepted even when its area code is not
    assigned (PCO itself stores such numbers, e.g. 555 numbers); a local-only number (no area
    code), a too short or too long one, or text that is not a number gets None with the reason.
    """
    text = clean_text(number)
    if text is None:
        return PhoneNormalization(None, "no number")
    try:
        parsed = phonenumbers.parse(text, (region or DEFAULT_PHONE_REGION).upper())
    except phonenumbers.NumberParseException as exc:
        return PhoneNormalization(None, f"not a phone number ({exc._msg})")
    possibility = phonenumbers.is_possible_number_with_reason(parsed)
    if possibility != phonenumbers.ValidationResult.IS_POSSIBLE and not phonenumbers.is_valid_number(parsed):
        reasons = {
            phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local number without area code",
            phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
            phonenumbers.ValidationResult.TOO_SHORT: "too short",
            phonenumbers.ValidationResult.TOO_LONG: "too long",
            phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length for its country",
        }
        return PhoneNormalization(None, reasons.get(possibility, "not a possible number"))
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not E164_PATTERN.match(e164):
        return PhoneNormalization(None, f"{e164} is not a storable E.164 number")
    return PhoneNormalization(e164)


def parse_date(value: Any, field: str = "date") -> date | None:
    """A `YYYY-MM-DD` date (None when missing). Raises InvalidValue naming `field`."""
    text = clean_text(value)
    if text is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise InvalidValue(f"{field} {text!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"{field} {text!r} is not a date (YYYY-MM-DD)") from None


def parse_timestamp(value: Any, field: str = "timestamp") -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (None when missing)."""
    text = clean_text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise InvalidValue(f"{field} {text!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # PCO always returns UTC
    return parsed.astimezone(timezone.utc)


def parse_int(value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """An integer from an int or a numeric string (None when missing), within bounds."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidValue(f"{field} {value!r} is not a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidValue(f"{field} {value!r} is not a whole number")
        number = int(value)
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise InvalidValue(f"{field} {value!r} is not a whole number") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InvalidValue(f"{field} {number} is outside {minimum}..{maximum}")
    return number


def parse_grade(value: Any) -> int | None:
    """A school grade, -1 (pre-K) … 12."""
    return parse_int(value, "grade", minimum=GRADE_RANGE[0], maximum=GRADE_RANGE[1])


def parse_bool(value: Any, field: str, default: bool = False) -> bool:
    """A JSON boolean (or None → `default`); strings like "true" are accepted, anything else is invalid."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidValue(f"{field} {value!r} is not true or false")


def meeting_day(schedule: Any) -> str | None:
    """The weekday a schedule text names ("Tuesdays at 7pm" → "tuesday"); None unless exactly one."""
    text = (clean_text(schedule) or "").lower()
    days = {day for day in WEEKDAYS if re.search(rf"\b{day[:3]}(?:{day[3:]})?s?\b", text)}
    return days.pop() if len(days) == 1 else None


# --- records --------------------------------------------------------------------------------

class _Collector:
    """Runs value functions and gathers their InvalidValue reasons instead of raising."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def __call__(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except InvalidValue as exc:
            self.problems.append(str(exc))
            return None

    def result(self, values: dict[str, Any]) -> dict[str, Any]:
        values["problems"] = self.problems
        return values

    def required_name(self, attributes: Mapping[str, Any], what: str) -> str | None:
        """The record's cleaned `name`; a record without one has the problem "<what> has no name"."""
        name = clean_text(attributes.get("name"))
        if name is None:
            self.problems.append(f"{what} has no name")
        return name


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def normalize_person(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """PCO-owned person fields as stored locally, plus `problems`."""
    check = _Collector()
    status = clean_text(attributes.get("status")) or "active"
    if status.lower() not in ("active", "inactive"):
        check.problems.append(f"status {status!r} is neither active nor inactive")
    return check.result({
        "first_name": clean_text(attributes.get("first_name")) or "",
        "last_name": clean_text(attributes.get("last_name")) or "",
        "nickname": clean_text(attributes.get("nickname")),
        "middle_name": clean_text(attributes.get("middle_name")),
        "gender": clean_text(attributes.get("gender")),
        "birthdate": _iso(check(parse_date, attributes.get("birthdate"), "birthdate")),
        "child": bool(check(parse_bool, attributes.get("child"), "child")),
        "grade": check(parse_grade, attributes.get("grade")),
        "status": status.lower(),
        "membership": clean_text(attributes.get("membership")),
    })


def normalize_email_record(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """An Email: the address as entered (trimmed), its matching key, location, primary."""
    check = _Collector()
    address = clean_text(attributes.get("address"))
    if address is None:
        check.problems.append("email address is blank")
    return check.result({
        "address": address,
        "address_normalized": normalize_email(address),
        "location": clean_text(attributes.get("location")),
        "is_primary": bool(check(parse_bool, attributes.get("primary"), "primary")),
    })


def normalize_phone_record(attributes: Mapping[str, Any], default_region: str = DEFAULT_PHONE_REGION) -> dict[str, Any]:
    """A PhoneNumber: the number as entered, its E.164 form (or None + `e164_problem`).

    The record's own `country_code` (PCO stores one per number) decides the region; the
    organization's default region is the fallback. A number without E.164 still loads.
    """
    check = _Collector()
    number = clean_text(attributes.get("number"))
    if number is None:
        check.problems.append("phone number is blank")
    region = clean_text(attributes.get("country_code")) or default_region
    normalized = normalize_phone(number, region)
    return check.result({
        "number": number,
        "e164": normalized.e164,
        "e164_problem": normalized.reason,
        "location": clean_text(attributes.get("location")),
        "is_primary": bool(check(parse_bool, attributes.get("primary"), "primary")),
    })


def normalize_address_record(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """An Address (either API shape: `street` before 2023, `street_line_1/2` after)."""
    check = _Collector()
    return check.result({
        "street_line_1": clean_text(attributes.get("street_line_1")) or clean_text(attributes.get("street")),
        "street_line_2": clean_text(attributes.get("street_line_2")),
        "city": clean_text(attributes.get("city")),
        "state": clean_text(attributes.get("state")),
        "zip": clean_text(attributes.get("zip")),
        "country_code": clean_text(attributes.get("country_code")),
        "is_primary": bool(check(parse_bool, attributes.get("primary"), "primary")),
    })


def normalize_household(attributes: Mapping[str, Any]) -> dict[str, Any]:
    check = _Collector()
    name = check.required_name(attributes, "household")
    return check.result({"name": name})


def normalize_group_type(attributes: Mapping[str, Any]) -> dict[str, Any]:
    check = _Collector()
    name = check.required_name(attributes, "group type")
    return check.result({"name": name, "description": clean_text(attributes.get("description"))})


def normalize_group(attributes: Mapping[str, Any]) -> dict[str, Any]:
    check = _Collector()
    name = check.required_name(attributes, "group")
    archived_at = check(parse_timestamp, attributes.get("archived_at"), "archived_at")
    return check.result({
        "name": name,
        "description": clean_text(attributes.get("description_as_plain_text"))
        or clean_text(attributes.get("description")),
        "meeting_day": meeting_day(attributes.get("schedule")),
        "archived": archived_at is not None,
    })


LEADER_TYPES = {"leader": "leader", "member": "member"}


def normalize_membership(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A group Membership: PCO role leader → 'leader', member → 'member'."""
    check = _Collector()
    role = (clean_text(attributes.get("role")) or "member").lower()
    if role not in LEADER_TYPES:
        check.problems.append(f"membership role {role!r} is neither leader nor member")
    return check.result({
        "leader_type": LEADER_TYPES.get(role),
        "joined_at": _iso(check(parse_timestamp, attributes.get("joined_at"), "joined_at")),
    })


def normalize_calendar_event(attributes: Mapping[str, Any]) -> dict[str, Any]:
    check = _Collector()
    name = check.required_name(attributes, "calendar event")
    return check.result({
        "name": name,
        "description": clean_text(attributes.get("summary")) or clean_text(attributes.get("description")),
    })


def normalize_event_instance(attributes: Mapping[str, Any]) -> dict[str, Any]:
    check = _Collector()
    starts_at = check(parse_timestamp, attributes.get("starts_at"), "starts_at")
    ends_at = check(parse_timestamp, attributes.get("ends_at"), "ends_at")
    if starts_at and ends_at and ends_at < starts_at:
        check.problems.append(f"ends_at {_iso(ends_at)} is before starts_at {_iso(starts_at)}")
    return check.result({
        "starts_at": _iso(starts_at),
        "ends_at": _iso(ends_at),
        "all_day": bool(check(parse_bool, attributes.get("all_day_event"), "all_day_event")),
        "location": clean_text(attributes.get("location")),
    })


def normalize_checkin_event(attributes: Mapping[str, Any]) -> dict[str, Any]:
    check = _Collector()
    name = check.required_name(attributes, "check-in event")
    return check.result({"name": name})


def normalize_location(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A check-in Location; kind "Folder" is a container ('folder'), anything else a 'room'."""
    check = _Collector()
    name = check.required_name(attributes, "location")
    kind = (clean_text(attributes.get("kind")) or "").lower()
    return check.result({
        "name": name,
        "kind": "folder" if kind == "folder" else "room",
        "age_min_months": check(parse_int, attributes.get("age_min_in_months"), "age_min_in_months",
                                minimum=0, maximum=INT32_MAX),
        "age_max_months": check(parse_int, attributes.get("age_max_in_months"), "age_max_in_months",
                                minimum=0, maximum=INT32_MAX),
        "grade_min": check(parse_int, attributes.get("grade_min"), "grade_min",
                           minimum=SMALLINT_RANGE[0], maximum=SMALLINT_RANGE[1]),
        "grade_max": check(parse_int, attributes.get("grade_max"), "grade_max",
                           minimum=SMALLINT_RANGE[0], maximum=SMALLINT_RANGE[1]),
        "capacity": check(parse_int, attributes.get("max_occupancy"), "max_occupancy",
                          minimum=0, maximum=INT32_MAX),
    })


def normalize_checkin(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A CheckIn; it happened when it was created, so `created_at` is the check-in time."""
    check = _Collector()
    checked_in_at = check(parse_timestamp, attributes.get("created_at"), "created_at")
    if checked_in_at is None and not check.problems:
        check.problems.append("check-in has no created_at (the check-in time)")
    return check.result({
        "first_name": clean_text(attributes.get("first_name")),
        "last_name": clean_text(attributes.get("last_name")),
        "kind": clean_text(attributes.get("kind")),
        "security_code": clean_text(attributes.get("security_code")),
        "checked_in_at": _iso(checked_in_at),
        "checked_out_at": _iso(check(parse_timestamp, attributes.get("checked_out_at"), "checked_out_at")),
    })


def normalize_event_time(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A Check-Ins EventTime: one service time of a check-in event, with PCO's check-in counts."""
    check = _Collector()
    starts_at = check(parse_timestamp, attributes.get("starts_at"), "starts_at")
    if starts_at is None and not check.problems:
        check.problems.append("event time has no starts_at")
    return check.result({
        "name": clean_text(attributes.get("name")),
        "starts_at": _iso(starts_at),
        **{count: check(parse_int, attributes.get(count), count, minimum=0, maximum=INT32_MAX)
           for count in ("regular_count", "guest_count", "volunteer_count")},
    })


def normalize_headcount(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A Check-Ins Headcount: people counted at a service time without checking in."""
    check = _Collector()
    total = check(parse_int, attributes.get("total"), "total", minimum=0, maximum=INT32_MAX)
    if total is None and not check.problems:
        check.problems.append("headcount has no total")
    return check.result({"total": total})


def normalize_attendance_type(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """What a headcount counts (e.g. "Adults")."""
    return {"name": clean_text(attributes.get("name")), "problems": []}


def normalize_person_merger(attributes: Mapping[str, Any]) -> dict[str, Any]:
    check = _Collector()
    keep = clean_text(attributes.get("person_to_keep_id"))
    remove = clean_text(attributes.get("person_to_remove_id"))
    if keep is None or remove is None:
        check.problems.append("merger does not name both the person kept and the person removed")
    return check.result({"person_to_keep_id": keep, "person_to_remove_id": remove})

"""Small building blocks shared by the synthetic church generator (`seed.py` and `seed_*.py`).

Randomness comes from named streams (`stream(seed, "people")`): each part of the generator
draws from its own stream, so changing how one part is generated does not reshuffle the others,
and the same (seed, name) always yields the same numbers in every process (string seeds are
hashed with SHA-512 by `random.Random`, not with Python's per-process string hash).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import phonenumbers

UTC = timezone.utc
_SECOND = timedelta(seconds=1)


def stream(seed: int, name: str) -> random.Random:
    """The deterministic random stream `name` of generator seed `seed`."""
    return random.Random(f"pco-sandbox-seed/{seed}/{name}")


def iso(moment: datetime) -> str:
    """PCO's timestamp format: UTC, second resolution, `Z` suffix."""
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:19] + "Z"  # isoformat is C-fast; strftime is not


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def date_or_none(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def at_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A uniformly random moment in [start, end], at second resolution (`end` when end <= start,
    so an upper bound such as "before now" always holds)."""
    span = (end - start) // _SECOND
    if span <= 0:
        return at_second(end)
    if start.microsecond:
        start = start.replace(microsecond=0)
    # random() * n instead of randint: this runs hundreds of thousands of times
    return start + timedelta(seconds=int(rng.random() * (span + 1)))


def recent(rng: random.Random, start: datetime, end: datetime, mean_days: float) -> datetime:
    """A moment in [start, end] skewed towards `end` (exponential with mean `mean_days` back)."""
    back = timedelta(days=rng.expovariate(1.0 / mean_days))
    return at_second(min(end, max(start, end - back)))


def ref(resource_type: str, resource_id: str) -> dict[str, str]:
    """A JSON:API resource identifier."""
    return {"type": resource_type, "id": resource_id}


def to_one(resource_type: str, resource_id: str | None) -> dict:
    """A to-one relationship object (`data` null when unset)."""
    return {"data": None if resource_id is None else ref(resource_type, resource_id)}


def to_many(resource_type: str, resource_ids: list[str]) -> dict:
    return {"data": [ref(resource_type, rid) for rid in resource_ids]}


class IdSequence:
    """Numeric string ids ascending from `start`, with occasional unused ids (deleted records)."""

    def __init__(self, start: int, rng: random.Random | None = None, gap_rate: float = 0.0) -> None:
        self._next = start
        self._rng = rng
        self._gap_rate = gap_rate

    def next(self) -> str:
        if self._rng is not None and self._rng.random() < self._gap_rate:
            self._next += self._rng.randint(1, 3)
        value = self._next
        self._next += 1
        return str(value)


def phone_number_attributes(number: str, country_code: str = "US") -> dict[str, str | None]:
    """The server-derived PhoneNumber attributes PCO computes from `number` as entered.

    e164 / national / international are libphonenumber formats of the number parsed in
    `country_code`'s region (an explicit `+<cc>` prefix wins); when the text cannot be parsed or
    is not even a possible number they are null. A possible-but-invalid number (e.g. area code
    555) is still formatted: the recordings show such numbers with an e164 value.
    """
    try:
        parsed = phonenumbers.parse(number, country_code)
    except phonenumbers.NumberParseException:
        return {"e164": None, "national": None, "international": None}
    if not phonenumbers.is_possible_number(parsed):
        return {"e164": None, "national": None, "international": None}
    fmt = phonenumbers.PhoneNumberFormat
    return {
        "e164": phonenumbers.format_number(parsed, fmt.E164),
        "national": phonenumbers.format_number(parsed, fmt.NATIONAL),
        "international": phonenumbers.format_number(parsed, fmt.INTERNATIONAL),
    }


def valid_e164(number: str, country_code: str = "US") -> str | None:
    """E.164 of `number` when libphonenumber says it is a valid number, else None."""
    try:
        parsed = phonenumbers.parse(number, country_code)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

"""The People app of the synthetic church: households, people, emails, phones, addresses,
household memberships, person mergers and campuses.

`generate_people` builds plain Python records first (so later stages — groups, check-ins, the
local dataset — can reason about families and ages) and `PeopleApp.render()` turns them into
JSON:API resource objects shaped like live PCO's (attribute sets and value types as in the
recordings under shared/pco_golden).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from pco_sandbox import seed_vocab as vocab
from pco_sandbox.seed_support import (
    IdSequence, between, date_or_none, iso, iso_or_none, phone_number_attributes, recent, valid_e164,
    stream, to_many, to_one,
)

ORGANIZATION = {
    "id": "907332",
    "name": "Grace Community Church",
    "time_zone": "America/Chicago",
    "country_code": "US",
    "date_format": "US",
}

MEMBERSHIPS = ("Full Member", "Regular Attendee", "Visitor")


def stamped(moment: datetime | None) -> datetime:
    """A timestamp the generator has given by now (None here is a bug in the generator's order)."""
    if moment is None:
        raise ValueError("a person or household was used before it was given its timestamps")
    return moment


@dataclass(eq=False, slots=True)
class Person:
    """One PCO person as the generator sees it (rendered later by `render_person`)."""

    first_name: str
    last_name: str
    gender: str | None
    birthdate: date | None
    role: str                       # church-side family role: head, spouse, child, other
    sex: str                        # "F" / "M": which first-name pool; gender may still be null
    age: int
    id: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    middle_name: str | None = None
    nickname: str | None = None
    given_name: str | None = None
    anniversary: date | None = None
    child: bool = False
    grade: int | None = None
    graduation_year: int | None = None
    status: str = "active"
    inactivated_at: datetime | None = None
    membership: str | None = None
    remote_id: int | None = None
    medical_notes: str | None = None
    campus_id: str | None = None
    people_permissions: str | None = None
    site_administrator: bool = False
    accounting_administrator: bool = False
    passed_background_check: bool | None = None
    households: list["Household"] = field(default_factory=list)
    emails: list[dict] = field(default_factory=list)
    phones: list[dict] = field(default_factory=list)
    addresses: list[dict] = field(default_factory=list)
    duplicate_of: "Person | None" = None      # an unmerged second record of this person

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(eq=False, slots=True)
class Household:
    kind: str                       # single, couple, family, single_parent, multigen, roommates, other_parent
    name: str
    members: list[Person]
    primary_contact: Person
    joined_at: datetime
    address: dict | None = None
    pending: set[int] = field(default_factory=set)   # indexes into members
    id: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    membership_ids: list[str] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class Merger:
    keeper: Person
    removed: Person
    created_at: datetime
    id: str = ""


@dataclass(slots=True)
class PeopleApp:
    people: list[Person]            # the people PCO lists (merged-away ones excluded)
    households: list[Household]
    mergers: list[Merger]
    campuses: list[dict]
    emails: "EmailFactory"
    phones: "PhoneFactory"
    phone_texts: dict[int, "PhoneText"]   # id(PhoneNumber record) -> its text, formats, validity
    now: datetime

    def render(self) -> dict[str, list[dict]]:
        people = sorted(self.people, key=lambda p: int(p.id))
        emails = sorted((e for p in people for e in p.emails), key=lambda r: int(r["id"]))
        phones = sorted((r for p in people for r in p.phones), key=lambda r: int(r["id"]))
        addresses = sorted((r for p in people for r in p.addresses), key=lambda r: int(r["id"]))
        households = sorted(self.households, key=lambda h: int(h.id))
        return {
            "people/people": [render_person(p) for p in people],
            "people/emails": emails,
            "people/phone_numbers": phones,
            "people/addresses": addresses,
            "people/households": [render_household(h) for h in households],
            "people/household_memberships": [m for h in households for m in render_household_memberships(h)],
            "people/person_mergers": [render_merger(m) for m in sorted(self.mergers, key=lambda m: int(m.id))],
            "people/campuses": self.campuses,
        }


@lru_cache(maxsize=4096)
def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters and digits of `text` (José → jose, Łukasz → lukasz, O'Brien → obrien)."""
    special = str.maketrans({"đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae"})
    decomposed = unicodedata.normalize("NFKD", text.translate(special))
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum()).lower()


class EmailFactory:
    """Email addresses unique (after trim + casefold) across the whole church unless shared on purpose.

    The local dataset draws from the same factory, so a local-only address never collides with
    a PCO one by accident.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def claim(self, address: str) -> bool:
        key = address.strip().casefold()
        if key in self._used:
            return False
        self._used.add(key)
        return True

    def taken(self, address: str) -> bool:
        return address.strip().casefold() in self._used

    def for_person(self, first: str, last: str, birth_year: int | None, domain: str | None = None) -> str:
        rng = self._rng
        f, l_ = ascii_fold(first) or "member", ascii_fold(last) or "family"
        yy = f"{(birth_year or rng.randint(1950, 2010)) % 100:02d}"
        local = rng.choice((f"{f}.{l_}", f"{f}{l_}", f"{f[0]}{l_}", f"{f}{l_}{yy}", f"{f}_{l_}",
                            f"{l_}{f[0]}", f"{f}{rng.randint(1, 999)}", f"{f}.{l_}{yy}"))
        return self._unique(local, domain or rng.choice(vocab.EMAIL_DOMAINS))

    def for_family(self, last: str, first_a: str, first_b: str) -> str:
        rng = self._rng
        l_, a, b = ascii_fold(last) or "family", ascii_fold(first_a), ascii_fold(first_b)
        local = rng.choice((f"the{l_}s", f"{l_}family", f"{a}and{b}", f"{l_}.home", f"{a}{b}{l_}"))
        return self._unique(local, rng.choice(vocab.EMAIL_DOMAINS))

    def fresh(self, first: str, last: str) -> str:
        return self.for_person(first, last, None)

    def _unique(self, local: str, domain: str) -> str:
        candidate, n = f"{local}@{domain}", 1
        while not self.claim(candidate):
            n += 1
            candidate = f"{local}{n}@{domain}"
        return candidate


class PhoneFactory:
    """Distinct US numbers in the 555 exchange of real area codes (valid for libphonenumber),
    written the many ways people type them, plus deliberately broken ones."""

    _STYLES = ("({a}) 555-{l}", "({a}) 555-{l}", "{a}-555-{l}", "{a}.555.{l}", "{a}555{l}",
               "+1 {a} 555 {l}", "1-{a}-555-{l}", "+1 ({a}) 555-{l}", "{a} 555 {l}")
    _EXT_STYLES = ("({a}) 555-{l} x{x}", "{a}-555-{l} ext. {x}", "{a}.555.{l} ext {x}")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next_line: dict[str, int] = {}

    def _line(self, area: str) -> str:
        # 555-0100..0199 is the reserved fictional block; beyond it the rest of 555-xxxx
        # (never 555-1212, directory assistance).
        i = self._next_line.get(area, 0)
        self._next_line[area] = i + 1
        line = 100 + i if i < 100 else 2000 + (i - 100)
        return f"{line:04d}"

    def area_code(self) -> str:
        rng = self._rng
        if rng.random() < 0.6:
            return rng.choice(vocab.LOCAL_AREA_CODES)
        return rng.choice(vocab.OTHER_AREA_CODES)

    def new_number(self, area: str | None = None, with_extension: bool = False) -> "PhoneText":
        """A fresh valid US number as someone typed it, with PCO's derived formats.

        The formats are spelled out here rather than asked of libphonenumber (which is 20x
        slower); the tests check they equal `phone_number_attributes` for every number.
        """
        rng = self._rng
        area = area or self.area_code()
        line = self._line(area)
        ext = ""
        if with_extension:
            x = rng.randint(2, 4999)
            text = rng.choice(self._EXT_STYLES).format(a=area, l=line, x=x)
            ext = f" ext. {x}"
        else:
            text = rng.choice(self._STYLES).format(a=area, l=line)
        return PhoneText(text, "US", {"e164": f"+1{area}555{line}", "national": f"({area}) 555-{line}{ext}",
                                      "international": f"+1 {area}-555-{line}{ext}"}, valid=True)

    def broken_number(self) -> "PhoneText":
        rng = self._rng
        line = f"{rng.randint(1000, 9999)}"
        text = rng.choice((f"555-{line}", f"(555) {rng.randint(200, 999)}-{line}", line,
                           "(000) 000-0000", f"{rng.choice(vocab.LOCAL_AREA_CODES)}-555-01",
                           "call mom's cell", "n/a"))
        return PhoneText(text, "US", phone_number_attributes(text, "US"), valid=valid_e164(text, "US") is not None)

    def foreign_number(self) -> "PhoneText":
        # Ofcom's drama range 020 7946 0000-0999: valid, and never a real line.
        text = f"+44 20 7946 0{self._rng.randint(0, 999):03d}"
        return PhoneText(text, "GB", phone_number_attributes(text, "GB"), valid=True)


@dataclass(frozen=True, slots=True)
class PhoneText:
    """A phone number as entered, its country, and the formats PCO derives from it."""

    text: str
    country_code: str
    derived: dict
    valid: bool                     # libphonenumber's is_valid_number

    @property
    def valid_e164(self) -> str | None:
        return self.derived["e164"] if self.valid else None


# ---------------------------------------------------------------------------------------------
# generation


class _Builder:
    def __init__(self, seed: int, now: datetime) -> None:
        self.now = now
        self.today = now.date()
        self.rng = stream(seed, "people")
        self.crng = stream(seed, "contacts")
        self.emails = EmailFactory(stream(seed, "email-addresses"))
        self.phones = PhoneFactory(stream(seed, "phone-numbers"))
        self.school_year_start = date(now.year if now.month >= 8 else now.year - 1, 9, 1)
        # The organization imported its old database one afternoon; people trickled in since.
        self.import_at = datetime(now.year - 6, 3, 14, 19, 5, 0, tzinfo=now.tzinfo)
        self.imported = 0
        self.remote_ids = 0     # ids of the old database, for the people imported from it
        self.persons: list[Person] = []
        self.households: list[Household] = []
        self.phone_texts: dict[int, PhoneText] = {}   # id(PhoneNumber record) -> how it was made

    # -- people ---------------------------------------------------------------------------

    def birthdate_for_age(self, age: int) -> date:
        start = date(self.today.year - age - 1, self.today.month, 1) + timedelta(days=self.today.day)
        return start + timedelta(days=self.rng.randint(0, 363))

    def person(self, sex: str, last: str, age: int, role: str) -> Person:
        rng = self.rng
        first = rng.choice(vocab.FEMALE_FIRST if sex == "F" else vocab.MALE_FIRST)
        gender = None if rng.random() < 0.04 else ("Female" if sex == "F" else "Male")
        is_kid = age < 18
        birthdate = self.birthdate_for_age(age) if rng.random() < (0.97 if is_kid else 0.78) else None
        p = Person(first_name=first, last_name=last, gender=gender, birthdate=birthdate, role=role,
                   sex=sex, age=age)
        if birthdate is not None:
            p.age = self._age_on(birthdate, self.today)
        p.child = p.age < 18
        if p.child and birthdate is not None:
            school_age = self._age_on(birthdate, self.school_year_start)
            if 4 <= school_age <= 17 and rng.random() < 0.95:
                p.grade = school_age - 5
                p.graduation_year = self.school_year_start.year + 1 + (12 - p.grade)
        if rng.random() < 0.14:
            p.middle_name = rng.choice(vocab.MIDDLE_NAMES)
        nicknames = vocab.NICKNAMES.get(first)
        if nicknames and rng.random() < 0.45:
            p.nickname = rng.choice(nicknames)
        elif rng.random() < 0.03:
            p.nickname = rng.choice(vocab.FEMALE_FIRST if sex == "F" else vocab.MALE_FIRST)
        if rng.random() < 0.01:
            p.given_name = f"{first} {rng.choice(vocab.MIDDLE_NAMES)}"
        if p.child and rng.random() < 0.08:
            p.medical_notes = rng.choice(vocab.MEDICAL_NOTES)
        return p

    @staticmethod
    def _age_on(birthdate: date, day: date) -> int:
        return day.year - birthdate.year - ((day.month, day.day) < (birthdate.month, birthdate.day))

    def spouse_last(self, last: str) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.78:
            return last
        if roll < 0.9 and "-" not in last:
            return f"{rng.choice(vocab.LAST_NAMES)}-{last}"
        return rng.choice(vocab.LAST_NAMES)

    def kids(self, last: str, count: int, parent_age: int) -> list[Person]:
        rng = self.rng
        oldest = max(0, min(17, parent_age - 20))
        ages = sorted((rng.randint(0, oldest) for _ in range(count)), reverse=True)
        kids = [self.person(rng.choice("FM"), last, age, "child") for age in ages]
        if count >= 2 and rng.random() < 0.05 and kids[-2].birthdate:
            # twins: same last name and birthdate, different first names
            older, twin = kids[-2], kids[-1]
            twin.birthdate, twin.age, twin.child = older.birthdate, older.age, older.child
            twin.grade, twin.graduation_year = older.grade, older.graduation_year
        return kids

    # -- households -----------------------------------------------------------------------

    def household_name(self, last: str, other_last: str | None = None) -> str:
        rng = self.rng
        roll = rng.random()
        if other_last and other_last != last and "-" not in other_last and rng.random() < 0.5:
            return f"{last}/{other_last}"
        if roll < 0.6:
            return last
        if roll < 0.85:
            return f"{last} Household"
        return f"The {last} Family"

    def new_household(self, budget: int) -> list[Household]:
        rng = self.rng
        kind = rng.choices(("single", "couple", "family", "single_parent", "multigen", "roommates"),
                           weights=(30, 22, 28, 10, 4, 6))[0]
        last = rng.choice(vocab.LAST_NAMES)
        members: list[Person] = []
        if kind == "single":
            members = [self.person(rng.choice("FM"), last, rng.randint(19, 92), "head")]
        elif kind in ("couple", "family", "multigen"):
            head_sex = "M" if rng.random() < 0.93 else "F"
            spouse_sex = ("F" if head_sex == "M" else "M") if rng.random() < 0.97 else head_sex
            head_age = rng.randint(24, 58) if kind != "couple" else rng.randint(22, 88)
            head = self.person(head_sex, last, head_age, "head")
            spouse = self.person(spouse_sex, self.spouse_last(last), max(19, head_age + rng.randint(-6, 4)), "spouse")
            if rng.random() < 0.6:
                wed = self.today - timedelta(days=rng.randint(365, max(366, (min(head.age, spouse.age) - 19) * 365)))
                head.anniversary = spouse.anniversary = wed
            members = [head, spouse]
            if kind != "couple":
                members += self.kids(last, rng.choices((1, 2, 3, 4, 5), weights=(30, 38, 20, 9, 3))[0], head.age)
                if rng.random() < 0.1 and head.age >= 42:
                    members.append(self.person(rng.choice("FM"), last, rng.randint(18, 24), "other"))
            if kind == "multigen":
                members += [self.person(rng.choice("FM"), rng.choice((last, spouse.last_name)),
                                        rng.randint(64, 93), "other") for _ in range(rng.choice((1, 1, 2)))]
        elif kind == "single_parent":
            head = self.person("F" if rng.random() < 0.8 else "M", last, rng.randint(22, 52), "head")
            members = [head] + self.kids(last, rng.choice((1, 1, 2, 2, 3)), head.age)
            if rng.random() < 0.15 and len(members) + 1 <= budget:
                # Shared custody: the children are also in the other parent's household.
                household = self._household(kind, members)
                other = self.person("M" if head.sex == "F" else "F", members[1].last_name,
                                    max(22, head.age + rng.randint(-3, 5)), "head")
                return [household, self._household("other_parent", [other] + members[1:])]
        else:  # roommates
            members = [self.person(rng.choice("FM"), rng.choice(vocab.LAST_NAMES), rng.randint(19, 34), "other")
                       for _ in range(rng.choice((2, 2, 3)))]
            members[0].role = "head"
        return [self._household(kind, members[:max(1, budget)])]

    def _household(self, kind: str, members: list[Person]) -> Household:
        rng = self.rng
        head = members[0]
        other_last = members[1].last_name if kind == "roommates" and len(members) > 1 else None
        household = Household(kind=kind, name=self.household_name(head.last_name, other_last),
                              members=members, primary_contact=head, joined_at=self.join_moment())
        for i, member in enumerate(members):
            member.households.append(household)
            if i and rng.random() < 0.03:
                household.pending.add(i)
        return household

    def join_moment(self) -> datetime:
        """When a family first appeared in PCO: the import afternoon, or any time since."""
        rng = self.rng
        if rng.random() < 0.38:
            self.imported += 1
            # about three records a second: many share a timestamp, as bulk imports do
            return self.import_at + timedelta(seconds=self.imported // 3)
        moment = between(rng, self.import_at + timedelta(days=1), self.now - timedelta(days=2))
        if rng.random() < 0.4:  # entered after a Sunday service
            sunday = moment - timedelta(days=(moment.weekday() + 1) % 7)
            moment = sunday.replace(hour=rng.randint(17, 21), minute=rng.randint(0, 59), second=rng.randint(0, 59))
        return min(moment, self.now - timedelta(hours=1))

    # -- timestamps, status ---------------------------------------------------------------

    def stamp(self, person: Person, joined: datetime) -> None:
        rng = self.rng
        created = joined + timedelta(seconds=rng.randint(0, 90) if joined > self.import_at + timedelta(hours=6) else 0)
        if person.birthdate is not None:
            born = datetime(person.birthdate.year, person.birthdate.month, person.birthdate.day, 18,
                            tzinfo=self.now.tzinfo)
            if born > created:  # a baby added after birth
                created = min(self.now - timedelta(hours=1), born + timedelta(days=rng.randint(14, 60)))
        person.created_at = created
        if rng.random() < 0.45:
            person.updated_at = created + timedelta(seconds=rng.randint(0, 40))
        else:
            person.updated_at = recent(rng, created, self.now - timedelta(minutes=5), mean_days=240)
        person.updated_at = min(person.updated_at, self.now - timedelta(seconds=1))
        if joined <= self.import_at + timedelta(hours=6) and rng.random() < 0.7:
            self.remote_ids += 1
            person.remote_id = 10_000 + self.remote_ids * 3

    def set_membership(self, person: Person, family_membership: str | None) -> None:
        rng = self.rng
        if person.child:
            person.membership = family_membership if rng.random() < 0.5 else None
        else:
            person.membership = rng.choices(MEMBERSHIPS + (None,), weights=(45, 25, 15, 15))[0]


def generate_people(people: int, seed: int, now: datetime) -> PeopleApp:
    """The People app of a church of exactly `people` listed people (merged-away ones excluded)."""
    b = _Builder(seed, now)
    rng = b.rng
    n_dupes = people // 100
    n_unhoused = people * 7 // 100
    n_housed = people - n_dupes - n_unhoused

    seen: set[int] = set()
    while len(seen) < n_housed:
        for household in b.new_household(n_housed - len(seen)):
            b.households.append(household)
            for member in household.members:
                if id(member) not in seen:
                    seen.add(id(member))
                    b.persons.append(member)
    unhoused = []
    for _ in range(n_unhoused):
        age = rng.randint(13, 80) if rng.random() < 0.9 else rng.randint(4, 12)
        p = b.person(rng.choice("FM"), rng.choice(vocab.LAST_NAMES), age, "other")
        unhoused.append(p)
    b.persons.extend(unhoused)

    # timestamps: household members arrive together
    for household in b.households:
        for member in household.members:
            if member.created_at is None:
                b.stamp(member, household.joined_at)
        first_arrival = min(stamped(m.created_at) for m in household.members)
        household.created_at = first_arrival + timedelta(seconds=rng.randint(1, 600))
        household.created_at = min(stamped(household.created_at), now - timedelta(minutes=30))
        household.updated_at = household.created_at if rng.random() < 0.6 else recent(
            rng, household.created_at, now - timedelta(minutes=5), mean_days=300)
    for p in unhoused:
        b.stamp(p, b.join_moment())
        p.membership = "Visitor" if rng.random() < 0.6 else None

    for household in b.households:
        family_membership = None
        for member in household.members:
            if member.membership is None and not member.child:
                b.set_membership(member, None)
                family_membership = family_membership or member.membership
        for member in household.members:
            if member.child and member.membership is None:
                b.set_membership(member, family_membership)

    adults = [p for p in b.persons if not p.child]
    # Duplicates nobody has merged yet: the same person entered twice (a visitor card, a form).
    duplicates = []
    for original in rng.sample(adults, min(n_dupes, len(adults))):
        first = original.first_name if rng.random() < 0.7 else original.first_name.lower()
        dup = Person(first_name=first, last_name=original.last_name, gender=original.gender,
                     birthdate=original.birthdate if rng.random() < 0.6 else None, role="other",
                     sex=original.sex, age=original.age, duplicate_of=original, membership="Visitor")
        dup.child = False
        b.stamp(dup, between(rng, stamped(original.created_at) + timedelta(days=3), now - timedelta(hours=2)))
        duplicates.append(dup)
    b.persons.extend(duplicates)

    # Merges already done in PCO: the removed record's id is gone from /people.
    mergers = []
    for keeper in rng.sample(adults, min(max(1, people // 200), len(adults))) if people >= 20 else []:
        ghost = Person(first_name=keeper.first_name, last_name=keeper.last_name, gender=keeper.gender,
                       birthdate=None, role="other", sex=keeper.sex, age=keeper.age)
        b.stamp(ghost, between(rng, stamped(keeper.created_at), now - timedelta(days=2)))
        both_exist = max(stamped(keeper.created_at), stamped(ghost.created_at))
        merged_at = between(rng, both_exist + timedelta(hours=1), now - timedelta(hours=1))
        keeper.updated_at = max(stamped(keeper.updated_at), merged_at)
        mergers.append(Merger(keeper=keeper, removed=ghost, created_at=merged_at))

    _inactivate(b, rng)
    _staff(b, rng)
    everyone = b.persons + [m.removed for m in mergers]
    _assign_ids(everyone, 100_000_001, stream(seed, "people-ids"))
    for i, m in enumerate(sorted(mergers, key=lambda m: m.created_at)):
        m.id = str(4_200_001 + i * 3)
    _assign_ids(b.households, 10_000_001, stream(seed, "household-ids"))
    membership_ids = IdSequence(150_000_001, stream(seed, "membership-ids"), gap_rate=0.01)
    for household in sorted(b.households, key=lambda h: int(h.id)):
        household.membership_ids = [membership_ids.next() for _ in household.members]

    campuses = _campuses(now)
    main_campus, north_campus = campuses[0]["id"], campuses[1]["id"]
    for household in b.households:
        campus = rng.choices((main_campus, north_campus, None), weights=(80, 14, 6))[0]
        for member in household.members:
            member.campus_id = member.campus_id or campus
    for p in unhoused + duplicates:
        p.campus_id = rng.choices((main_campus, north_campus, None), weights=(50, 10, 40))[0]

    _contacts(b, duplicates)
    _assign_contact_ids(b.persons, seed, people)
    for p in b.persons:  # contact edits bump the person's updated_at, as live
        latest = max((r["attributes"]["updated_at"] for r in p.emails + p.phones + p.addresses), default="")
        if latest > iso(stamped(p.updated_at)):
            p.updated_at = _parse_iso(latest)
    return PeopleApp(people=b.persons, households=b.households, mergers=mergers, campuses=campuses,
                     emails=b.emails, phones=b.phones, phone_texts=b.phone_texts, now=now)


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _inactivate(b: _Builder, rng: random.Random) -> None:
    """A few people and a few whole households (moved away) are inactive."""
    for household in b.households:
        if rng.random() < 0.02:
            moment = between(rng, stamped(household.created_at) + timedelta(days=30), b.now - timedelta(days=1))
            for member in household.members:
                _make_inactive(member, moment)
    for p in b.persons:
        if p.active and rng.random() < 0.025:
            _make_inactive(p, between(rng, stamped(p.created_at) + timedelta(days=30), b.now - timedelta(days=1)))


def _make_inactive(person: Person, moment: datetime) -> None:
    moment = max(moment, stamped(person.created_at))
    person.status = "inactive"
    person.inactivated_at = moment
    person.updated_at = max(stamped(person.updated_at), moment + timedelta(seconds=5))


def _staff(b: _Builder, rng: random.Random) -> None:
    """Church staff have People permissions; children's volunteers passed a background check."""
    adults = [p for p in b.persons if not p.child and p.active and p.duplicate_of is None and p.age < 70]
    staff = rng.sample(adults, min(len(adults), max(1, len(b.persons) // 150)))
    for i, p in enumerate(staff):
        p.people_permissions = "Manager" if i < 2 else rng.choice(("Editor", "Manager", "Editor"))
        p.site_administrator = i == 0
        p.accounting_administrator = i < 2
        p.membership = "Full Member"
    for p in adults:
        if rng.random() < 0.07:
            p.passed_background_check = True


def _assign_ids(records: list, start: int, rng: random.Random) -> None:
    """Ids ascend with created_at, as PCO's do (creation order breaks timestamp ties)."""
    seq = IdSequence(start, rng, gap_rate=0.02)
    for record in sorted(records, key=lambda r: r.created_at):
        record.id = seq.next()


def _campuses(now: datetime) -> list[dict]:
    created = datetime(now.year - 6, 3, 14, 18, 2, 11, tzinfo=now.tzinfo)
    rows = []
    for i, (name, street, city, zip_, lat, lon) in enumerate((
            ("Main Campus", "1200 S MacArthur Blvd", "Springfield", "62704", 39.7817, -89.6701),
            ("North Campus", "3055 N Dirksen Pkwy", "Springfield", "62702", 39.8406, -89.6015))):
        rows.append({
            "type": "Campus", "id": str(81_021 + i * 7),
            "attributes": {
                "latitude": lat, "longitude": lon, "description": None, "street": street, "city": city,
                "state": "IL", "zip": zip_, "country": "US", "phone_number": f"(217) 555-01{10 + i}",
                "website": "https://church.example.org", "twenty_four_hour_time": False, "date_format": 0,
                "church_center_enabled": True, "contact_email_address": f"campus{i + 1}@church.example.org",
                "time_zone": ORGANIZATION["time_zone"], "geolocation_set_manually": False,
                "time_zone_raw": ORGANIZATION["time_zone"], "name": name,
                "created_at": iso(created + timedelta(days=400 * i)),
                "updated_at": iso(created + timedelta(days=400 * i + 30)), "avatar_url": None,
            },
            "relationships": {"organization": to_one("Organization", ORGANIZATION["id"])},
        })
    return rows


# ---------------------------------------------------------------------------------------------
# contacts


def _contacts(b: _Builder, duplicates: list[Person]) -> None:
    rng = b.crng
    done: set[int] = set()
    for household in b.households:
        adults = [m for m in household.members if not m.child]
        shared_email = None
        if household.kind in ("couple", "family", "multigen") and len(adults) >= 2 and rng.random() < 0.12:
            shared_email = b.emails.for_family(household.primary_contact.last_name, adults[0].first_name,
                                               adults[1].first_name)
            for adult in adults[:2]:
                _email(b, adult, shared_email, "Home", primary=True)
        home_phone = None
        if len(adults) >= 2 and rng.random() < 0.22:
            home_phone = b.phones.new_number(area=rng.choice(vocab.LOCAL_AREA_CODES))
        address = street_address(rng) if rng.random() < 0.86 else None
        household.address = address
        for member in household.members:
            if id(member) in done:  # children shared between two households
                continue
            done.add(id(member))
            _personal_contacts(b, member, rng, has_shared_email=shared_email is not None and member in adults[:2])
            if home_phone and not member.child:
                _phone(b, member, home_phone, "Home", primary=not member.phones)
            if address and not member.addresses and (not member.child or rng.random() < 0.6) and rng.random() < 0.93:
                _address(b, member, address, "Home", primary=True)
    for p in b.persons:
        if not p.households and p.duplicate_of is None:
            _personal_contacts(b, p, rng, has_shared_email=False)
            if rng.random() < 0.45:
                _address(b, p, street_address(rng), "Home", primary=True)
    for dup in duplicates:
        original = dup.duplicate_of
        if original is None:
            continue
        if original.emails and rng.random() < 0.5:
            # the same address typed on a connection card: now two PCO people share it
            _email(b, dup, original.emails[0]["attributes"]["address"], "Home", primary=True)
        elif rng.random() < 0.6:
            _email(b, dup, b.emails.for_person(dup.first_name, dup.last_name, None), "Home", primary=True)
        if rng.random() < 0.5:
            if original.phones:
                number = b.phone_texts[id(original.phones[0])]
            else:
                number = b.phones.new_number()
            _phone(b, dup, number, "Mobile", primary=True)


def _personal_contacts(b: _Builder, p: Person, rng: random.Random, has_shared_email: bool) -> None:
    birth_year = p.birthdate.year if p.birthdate else None
    wants_email = (not p.child and rng.random() < 0.82) or (p.child and p.age >= 13 and rng.random() < 0.35)
    if has_shared_email:
        wants_email = rng.random() < 0.4
    if wants_email:
        address = b.emails.for_person(p.first_name, p.last_name, birth_year)
        if rng.random() < 0.06:  # typed with capitals
            local, domain = address.split("@")
            address = f"{local[:1].upper()}{local[1:]}@{domain.capitalize() if rng.random() < 0.5 else domain}"
        _email(b, p, address, rng.choice(("Home", "Home", "Home", "Work", "Other")), primary=not p.emails)
        if not p.child and rng.random() < 0.15:
            _email(b, p, b.emails.for_person(p.first_name, p.last_name, birth_year), "Work", primary=False)
        if rng.random() < 0.005:  # the same address entered twice
            _email(b, p, address, "Other", primary=False)
    wants_mobile = (not p.child and rng.random() < 0.78) or (p.child and p.age >= 13 and rng.random() < 0.4)
    if wants_mobile:
        roll = rng.random()
        number = (b.phones.broken_number() if roll < 0.025 else
                  b.phones.foreign_number() if roll < 0.03 else b.phones.new_number())
        _phone(b, p, number, "Mobile", primary=not p.phones)
    if not p.child and rng.random() < 0.05:
        _phone(b, p, b.phones.new_number(with_extension=True), "Work", primary=not p.phones)


def _email(b: _Builder, p: Person, address: str, location: str, primary: bool) -> None:
    rng = b.crng
    arrived = stamped(p.created_at)
    created = between(rng, arrived, min(b.now - timedelta(minutes=10), arrived + timedelta(days=2))) \
        if rng.random() < 0.8 else between(rng, arrived, b.now - timedelta(minutes=10))
    p.emails.append({
        "type": "Email", "id": "",
        "attributes": {
            "address": address, "blocked": rng.random() < 0.015, "created_at": iso(created),
            "location": location, "primary": primary,
            "updated_at": iso(created if rng.random() < 0.85 else between(rng, created, b.now - timedelta(minutes=5))),
        },
        "relationships": {"person": to_one("Person", None)},
    })


def _phone(b: _Builder, p: Person, number: PhoneText, location: str, primary: bool) -> None:
    rng = b.crng
    arrived = stamped(p.created_at)
    created = between(rng, arrived, min(b.now - timedelta(minutes=10), arrived + timedelta(days=3)))
    derived = number.derived
    record = {
        "type": "PhoneNumber", "id": "",
        "attributes": {
            "carrier": None, "country_code": number.country_code, "created_at": iso(created),
            "e164": derived["e164"], "international": derived["international"], "location": location,
            "national": derived["national"], "number": number.text, "primary": primary,
            "updated_at": iso(created if rng.random() < 0.9 else between(rng, created, b.now - timedelta(minutes=5))),
        },
        "relationships": {"person": to_one("Person", None)},
    }
    p.phones.append(record)
    b.phone_texts[id(record)] = number


def street_address(rng: random.Random) -> dict:
    """A street address near the church (sometimes far away, sometimes only a state), typed as
    people type them."""
    city, state, zips = rng.choice(vocab.TOWNS) if rng.random() < 0.95 else rng.choice(vocab.FAR_TOWNS)
    if rng.random() < 0.07:  # only the state was ever entered
        return {"street_line_1": None, "street_line_2": None, "city": None, "state": state, "zip": None,
                "country_code": "US", "country_name": "United States"}
    street = f"{rng.randint(100, 9899)} {rng.choice(vocab.STREETS)} {rng.choice(vocab.STREET_SUFFIXES)}"
    if rng.random() < 0.04:
        street = street.lower()
    zip_ = rng.choice(zips)
    if rng.random() < 0.12:
        zip_ = f"{zip_}-{rng.randint(1000, 9999)}"
    if rng.random() < 0.04:
        state = vocab.STATE_NAMES.get(state, state)
    return {
        "street_line_1": street,
        "street_line_2": f"{rng.choice(vocab.UNIT_PREFIXES)} {rng.randint(1, 40)}{rng.choice(('', '', 'A', 'B'))}"
        if rng.random() < 0.12 else None,
        "city": city if rng.random() > 0.02 else city.upper(), "state": state, "zip": zip_,
        "country_code": "US", "country_name": "United States",
    }


def _address(b: _Builder, p: Person, address: dict, location: str, primary: bool) -> None:
    rng = b.crng
    arrived = stamped(p.created_at)
    created = between(rng, arrived, min(b.now - timedelta(minutes=10), arrived + timedelta(days=5)))
    attributes = dict(address)
    attributes.update({"created_at": iso(created), "location": location, "primary": primary,
                       "updated_at": iso(created if rng.random() < 0.9 else between(rng, created, b.now - timedelta(minutes=5)))})
    p.addresses.append({"type": "Address", "id": "", "attributes": attributes,
                        "relationships": {"person": to_one("Person", None)}})


def _assign_contact_ids(persons: list[Person], seed: int, people: int) -> None:
    """Contact ids ascend with created_at. Email ids start just under 100,000,000 so the list
    mixes 8- and 9-digit ids (numeric and lexicographic order differ, as on live /emails)."""
    for kind, start in (("emails", 100_000_000 - max(100, people // 3)), ("phones", 100_000_001),
                        ("addresses", 100_000_001)):
        records = [(r["attributes"]["created_at"], i, p, r)
                   for i, p in enumerate(persons) for r in getattr(p, kind)]
        records.sort(key=lambda t: (t[0], t[1]))
        seq = IdSequence(start, stream(seed, f"{kind}-ids"), gap_rate=0.02)
        for _, _, p, record in records:
            record["id"] = seq.next()
            record["relationships"]["person"] = to_one("Person", p.id)


# ---------------------------------------------------------------------------------------------
# rendering


def render_person(p: Person) -> dict:
    staff = p.people_permissions is not None
    return {
        "type": "Person", "id": p.id,
        "attributes": {
            "accounting_administrator": p.accounting_administrator,
            "anniversary": date_or_none(p.anniversary),
            "avatar": None,
            "birthdate": date_or_none(p.birthdate),
            "can_create_forms": staff,
            "can_email_lists": staff,
            "child": p.child,
            "created_at": iso(stamped(p.created_at)),
            "demographic_avatar_url": None,
            "directory_status": None,
            "first_name": p.first_name,
            "gender": p.gender,
            "given_name": p.given_name,
            "grade": p.grade,
            "graduation_year": p.graduation_year,
            "inactivated_at": iso_or_none(p.inactivated_at),
            "last_name": p.last_name,
            "login_identifier": None,
            "medical_notes": p.medical_notes,
            "membership": p.membership,
            "middle_name": p.middle_name,
            "name": p.name,
            "nickname": p.nickname,
            "passed_background_check": p.passed_background_check,
            "people_permissions": p.people_permissions,
            "remote_id": p.remote_id,
            "resource_permission_flags": None,
            "school_type": None,
            "site_administrator": p.site_administrator,
            "status": p.status,
            "updated_at": iso(stamped(p.updated_at)),
        },
        "relationships": {"primary_campus": to_one("Campus", p.campus_id)},
    }


def render_household(h: Household) -> dict:
    return {
        "type": "Household", "id": h.id,
        "attributes": {
            "avatar": None,
            "created_at": iso(stamped(h.created_at)),
            "member_count": len(h.members),
            "name": h.name,
            "primary_contact_id": h.primary_contact.id,
            "primary_contact_name": h.primary_contact.name,
            "updated_at": iso(stamped(h.updated_at)),
        },
        "relationships": {
            "people": to_many("Person", [m.id for m in h.members]),
            "primary_contact": to_one("Person", h.primary_contact.id),
        },
    }


def render_household_memberships(h: Household) -> list[dict]:
    """Live HouseholdMembership shows no `household` relationship (its parent is only in the URL);
    the one given here tells the sandbox which household a membership is under, and the sandbox
    keeps it hidden."""
    return [{
        "type": "HouseholdMembership", "id": mid,
        "attributes": {"household_role": None, "pending": i in h.pending, "person_name": m.name},
        "relationships": {"person": to_one("Person", m.id), "household": to_one("Household", h.id)},
    } for i, (mid, m) in enumerate(zip(h.membership_ids, h.members))]


def render_merger(m: Merger) -> dict:
    return {
        "type": "PersonMerger", "id": m.id,
        "attributes": {"created_at": iso(m.created_at), "person_to_keep_id": m.keeper.id,
                       "person_to_remove_id": m.removed.id},
        "relationships": {"person_to_keep": to_one("Person", m.keeper.id),
                          "person_to_remove": to_one("Person", m.removed.id)},
    }

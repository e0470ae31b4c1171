"""The church's own database, overlapping the synthetic PCO organization the way a real one does,
and what the inbound matcher must conclude for every local person (`ExpectedMatch`).

The matching rules these labels follow are stated in `pco_pipeline.demo_data` (module
docstring); every scenario below is built so that exactly the intended rule decides it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pco_pipeline.sync.normalize import normalize_email
from pco_sandbox.seed import (
    ORGANIZATION, UTC, GroupsApp, Household, Merger, PeopleApp, Person, PhoneText, ascii_fold, between,
    street_address, stream, vocab,
)

MATCH_KINDS = ("pco_id", "email", "name_birthdate", "local_only", "near_miss", "ambiguous")
LOCAL_TABLES = ("people", "person_emails", "person_phones", "families", "family_members", "relationships",
                "authorized_pickups", "church_group", "group_membership", "events", "locations", "checkins")


@dataclass(frozen=True, slots=True)
class ExpectedMatch:
    """What the inbound matcher must conclude for one local person.

    kind: one of MATCH_KINDS. pco_person_id: the PCO person it is linked to (pco_id, email,
    name_birthdate), else None. reason: the scenario, finer than kind (see `pco_pipeline.demo_data`).
    candidates: for "ambiguous", the PCO people that found it ambiguous; for
    "pco_duplicate_earliest_created", both PCO records, the winner first. resembles: for
    "near_miss", the PCO person it looks like but must not be linked to.
    """

    local_person_id: int
    kind: str
    pco_person_id: str | None
    reason: str
    candidates: tuple[str, ...] = ()
    resembles: str | None = None


def _email_key(address: str) -> str:
    """The matching key of an address the seed generated (never blank)."""
    key = normalize_email(address)
    assert key is not None
    return key


def name_key(first: str, last: str, birthdate: date | None) -> tuple[str, str, date] | None:
    """The name + birthdate matching key (None without a birthdate): trimmed, case-folded names;
    accents, inner spaces and punctuation are significant."""
    if birthdate is None:
        return None
    return first.strip().casefold(), last.strip().casefold(), birthdate


class _Ids:
    """Local integer ids with occasional gaps (deleted rows), so sequences must be bumped."""

    def __init__(self, rng: random.Random, start: int = 1) -> None:
        self._rng = rng
        self._next = start

    def next(self) -> int:
        if self._rng.random() < 0.01:
            self._next += self._rng.randint(1, 4)
        value = self._next
        self._next += 1
        return value


@dataclass(slots=True)
class LocalDataset:
    tables: dict[str, list[dict]]
    expected: list[ExpectedMatch]


class _Local:
    def __init__(self, app: PeopleApp, groups: GroupsApp, seed: int, now: datetime) -> None:
        self.app = app
        self.groups = groups
        self.now = now
        self.rng = stream(seed, "local")
        self.last_sync = now - timedelta(days=2)
        self.tables: dict[str, list[dict]] = {name: [] for name in LOCAL_TABLES}
        self.ids = {name: _Ids(stream(seed, f"local-ids-{name}")) for name in LOCAL_TABLES if name != "family_members"}
        self.expected: list[ExpectedMatch] = []
        self.local_of: dict[str, int] = {}           # PCO person id -> local person id, for linked people
        self.claimed: set[str] = set()               # PCO people with a local counterpart or scenario
        self.person_rows: dict[int, dict] = {}
        # PCO-side indexes the scenarios must respect
        self.email_owners: dict[str, set[str]] = defaultdict(set)
        self.key_owners: dict[tuple, set[str]] = defaultdict(set)
        for p in app.people:
            for e in p.emails:
                self.email_owners[_email_key(e["attributes"]["address"])].add(p.id)
            key = name_key(p.first_name, p.last_name, p.birthdate)
            if key:
                self.key_owners[key].add(p.id)
        # local-side: keys and emails held by people without a pco_id
        self.unlinked_keys: dict[tuple, int] = defaultdict(int)
        self.unlinked_emails: dict[str, int] = defaultdict(int)

    # -- helpers --------------------------------------------------------------------------

    def identifying_emails(self, p: Person) -> list[str]:
        """P's addresses that no other PCO person has and no unlinked local person holds yet."""
        seen, out = set(), []
        for e in p.emails:
            address = e["attributes"]["address"]
            key = _email_key(address)
            if key not in seen and self.email_owners[key] == {p.id} and not self.unlinked_emails[key]:
                seen.add(key)
                out.append(address)
        return out

    def unique_key(self, p: Person) -> bool:
        key = name_key(p.first_name, p.last_name, p.birthdate)
        return key is not None and self.key_owners[key] == {p.id} and not self.unlinked_keys[key]

    def free_key(self, first: str, last: str, birthdate: date | None) -> bool:
        """No PCO person and no unlinked local person has this name + birthdate."""
        key = name_key(first, last, birthdate)
        return key is None or (key not in self.key_owners and not self.unlinked_keys[key])

    def stamps(self) -> tuple[datetime, datetime]:
        """created_at / updated_at of a row the church entered some time in the last nine years."""
        rng = self.rng
        created = between(rng, self.now - timedelta(days=9 * 365), self.now - timedelta(days=1))
        updated = created if rng.random() < 0.3 else between(rng, created, self.now - timedelta(hours=1))
        return created, updated

    def row_stamps(self, person_id: int) -> tuple[datetime, datetime]:
        """A person's own rows (contacts, memberships) were entered with the person."""
        row = self.person_rows[person_id]
        return row["created_at"], row["updated_at"]

    def pco_updated_at(self, record: Person | Household) -> datetime:
        """What the last sync saw of PCO's `record`: current if PCO has not changed it since, else
        an older value."""
        assert record.created_at is not None and record.updated_at is not None  # the seed stamps every record
        if record.updated_at <= self.last_sync:
            return record.updated_at
        return between(self.rng, record.created_at, min(record.updated_at, self.last_sync))

    def add_person(self, *, first: str, last: str, birthdate: date | None, pco: Person | None = None,
                   pco_id: str | None = None, nickname: str | None = None, middle: str | None = None,
                   gender: str | None = None, child: bool = False, grade: int | None = None,
                   status: str = "active", membership: str | None = None, medical: str | None = None) -> int:
        rng = self.rng
        person_id = self.ids["people"].next()
        created, updated = self.stamps()
        allergies = None
        if medical or (child and rng.random() < 0.05) or rng.random() < 0.02:
            allergies = rng.choice(vocab.ALLERGIES) if not medical or rng.random() < 0.5 else medical
        row = {
            "id": person_id, "pco_id": pco_id, "first_name": first, "last_name": last, "nickname": nickname,
            "middle_name": middle, "gender": gender, "birthdate": birthdate, "child": child, "grade": grade,
            "status": status, "is_active": status == "active", "membership": membership,
            "allergies": allergies,
            "photo_url": f"https://photos.church.example.org/people/{person_id}.jpg" if rng.random() < 0.25 else None,
            "is_verified": rng.random() < (0.7 if pco_id else 0.25),
            "pco_updated_at": self.pco_updated_at(pco) if pco is not None and pco_id else None,
            "created_at": created, "updated_at": updated,
        }
        self.tables["people"].append(row)
        self.person_rows[person_id] = row
        if pco_id is None:
            key = name_key(first, last, birthdate)
            if key:
                self.unlinked_keys[key] += 1
        return person_id

    def add_email(self, person_id: int, address: str, location: str | None, primary: bool,
                  pco_id: str | None = None) -> None:
        created, updated = self.row_stamps(person_id)
        self.tables["person_emails"].append({
            "id": self.ids["person_emails"].next(), "person_id": person_id, "pco_id": pco_id, "address": address,
            "address_normalized": normalize_email(address), "location": location, "is_primary": primary,
            "created_at": created, "updated_at": updated,
        })
        if self.person_rows[person_id]["pco_id"] is None:
            self.unlinked_emails[_email_key(address)] += 1

    def add_phone(self, person_id: int, number: PhoneText, location: str | None, primary: bool,
                  pco_id: str | None = None) -> None:
        created, updated = self.row_stamps(person_id)
        self.tables["person_phones"].append({
            "id": self.ids["person_phones"].next(), "person_id": person_id, "pco_id": pco_id,
            "number": number.text, "e164": number.valid_e164, "location": location, "is_primary": primary,
            "created_at": created, "updated_at": updated,
        })

    def copy_phones(self, person_id: int, p: Person, linked: bool) -> None:
        for record in p.phones:
            attributes = record["attributes"]
            self.add_phone(person_id, self.app.phone_texts[id(record)], attributes["location"], attributes["primary"],
                           pco_id=record["id"] if linked else None)

    def add_family(self, name: str, address: dict | None, pco_id: str | None = None,
                   household: Household | None = None) -> int:
        family_id = self.ids["families"].next()
        created, updated = self.stamps()
        address = address or {}
        self.tables["families"].append({
            "id": family_id, "pco_id": pco_id, "name": name,
            "street_line_1": address.get("street_line_1"), "street_line_2": address.get("street_line_2"),
            "city": address.get("city"), "state": address.get("state"), "zip": address.get("zip"),
            "country_code": address.get("country_code"),
            "pco_updated_at": self.pco_updated_at(household)
            if household is not None and pco_id else None,
            "created_at": created, "updated_at": updated,
        })
        return family_id

    def add_member(self, family_id: int, person_id: int, role: str, primary_contact: bool) -> None:
        created, updated = self.row_stamps(person_id)
        self.tables["family_members"].append({
            "family_id": family_id, "person_id": person_id, "role": role, "is_primary_contact": primary_contact,
            "created_at": created, "updated_at": updated,
        })

    def expect(self, person_id: int, kind: str, pco_person_id: str | None, reason: str,
               candidates: tuple[str, ...] = (), resembles: str | None = None) -> None:
        self.expected.append(ExpectedMatch(person_id, kind, pco_person_id, reason, candidates, resembles))

    def from_pco(self, p: Person, *, linked: bool, first: str | None = None, last: str | None = None,
                 birthdate: date | None | Literal["same"] = "same", nickname: str | None | str = "same",
                 pco_id: str | None = None, seen: Person | None = None) -> int:
        """A local person copied from PCO person `p`; linked: it carries p's pco_id (or `pco_id`,
        the id of `seen`, the record the last sync saw)."""
        return self.add_person(
            first=first if first is not None else p.first_name, last=last if last is not None else p.last_name,
            birthdate=p.birthdate if birthdate == "same" else birthdate, pco=seen or p,
            pco_id=(pco_id or p.id) if linked else None,
            nickname=p.nickname if nickname == "same" else nickname, middle=p.middle_name, gender=p.gender,
            child=p.child, grade=p.grade, status=p.status, membership=p.membership, medical=p.medical_notes)

    def mangle_case(self, text: str) -> str:
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            return text.upper()
        if choice == 1:
            return text.lower()
        if choice == 2:
            return f" {text}"
        return f"{text} "

    def free_birthdate(self, first: str, last: str, birthdate: date) -> date:
        """`birthdate`, or a later one, such that no PCO or unlinked local person has this name and it."""
        while not self.free_key(first, last, birthdate):
            birthdate += timedelta(days=self.rng.randint(1, 40))
        return birthdate

    def fresh_person_name(self, sex: str, last: str, birthdate: date | None) -> tuple[str, date | None]:
        """A first name (and the birthdate, moved if needed) that no PCO or unlinked local person has."""
        first = self.rng.choice(vocab.FEMALE_FIRST if sex == "F" else vocab.MALE_FIRST)
        return first, None if birthdate is None else self.free_birthdate(first, last, birthdate)

    # -- households -----------------------------------------------------------------------

    def linked_household(self, h: Household) -> None:
        rng = self.rng
        family_id = self.add_family(h.name, h.address, pco_id=h.id, household=h)
        for p in h.members:
            if p.id in self.local_of:   # a child already seen in the other parent's household
                self.add_member(family_id, self.local_of[p.id], _role(p), p is h.primary_contact)
                continue
            if p.id in self.claimed or rng.random() < 0.04:
                continue  # in PCO only (added there since the last sync)
            self.add_member(family_id, self.linked_person(p), _role(p), p is h.primary_contact)
        kids = [m for m in h.members if m.child]
        if kids and rng.random() < 0.04:  # a newborn entered at church, not yet in PCO
            head = h.primary_contact
            born = self.now.date() - timedelta(days=rng.randint(10, 200))
            first, born = self.fresh_person_name(rng.choice("FM"), kids[0].last_name, born)
            baby = self.add_person(first=first, last=kids[0].last_name, birthdate=born, child=True,
                                   membership=head.membership)
            self.expect(baby, "local_only", None, "new_in_linked_family")
            self.add_member(family_id, baby, "child", False)

    def linked_person(self, p: Person) -> int:
        """The local copy of P carrying its pco_id (contacts with theirs; sometimes an older email)."""
        rng = self.rng
        self.claimed.add(p.id)
        local_id = self.from_pco(p, linked=True)
        self.local_of[p.id] = local_id
        self.expect(local_id, "pco_id", p.id, "pco_id")
        stale_email = rng.random() < 0.08
        for e in p.emails:
            a = e["attributes"]
            if stale_email and a["primary"]:  # the church still has an older address
                self.add_email(local_id, self.app.emails.fresh(p.first_name, p.last_name), a["location"], True)
            else:
                self.add_email(local_id, a["address"], a["location"], a["primary"], pco_id=e["id"])
        self.copy_phones(local_id, p, linked=True)
        return local_id

    def unlinked_household(self, h: Household | None, members: list[Person]) -> None:
        """A family the church entered on its own: no pco_ids; members match by email or by
        name + birthdate, or not at all (then PCO's record will be created locally)."""
        rng = self.rng
        family_id = None
        for p in members:
            emails = self.identifying_emails(p)
            by_name = self.unique_key(p)
            if emails and (not by_name or rng.random() < 0.5):
                local_id = self.email_match(p, emails[0])
            elif by_name:
                local_id = self.name_match(p)
            else:
                continue
            if family_id is None:  # the first one found: the family (their own for someone in no PCO household)
                name, address = (p.last_name, _address_of(p)) if h is None else (h.name, h.address)
                family_id = self.add_family(name, address)
            self.add_member(family_id, local_id, _role(p) if h else "head", h is None or p is h.primary_contact)

    def email_match(self, p: Person, address: str) -> int:
        """Linked by email alone: the local name or birthdate differs, so name + birthdate would not match."""
        rng = self.rng
        self.claimed.add(p.id)
        variants = ["no_birthdate"]
        if p.nickname and p.nickname.casefold() != p.first_name.casefold():
            variants.append("nickname_as_first_name")
        if p.birthdate:
            variants.append("birthdate_typo")
        variant = rng.choice(variants)
        first, birthdate = p.first_name, p.birthdate
        if variant == "no_birthdate":
            birthdate = None
        elif variant == "nickname_as_first_name":
            assert p.nickname  # the variant is offered only with a nickname
            first = p.nickname
        else:
            assert p.birthdate  # a birthdate typo is offered only with a birthdate
            birthdate = _shifted(rng, p.birthdate)
        if not self.free_key(first, p.last_name, birthdate):
            birthdate = None  # so no other PCO person could claim it by name + birthdate
        local_id = self.from_pco(p, linked=False, first=first, birthdate=birthdate)
        typed = address if rng.random() < 0.6 else self.mangle_case(address)
        self.add_email(local_id, typed, "Home", True)
        self.copy_phones(local_id, p, linked=False)
        self.expect(local_id, "email", p.id, "email" if typed == address else "email_case_whitespace")
        return local_id

    def name_match(self, p: Person) -> int:
        """Linked by first + last name + birthdate: no local email identifies anyone."""
        rng = self.rng
        self.claimed.add(p.id)
        mangled = rng.random() < 0.3
        first = self.mangle_case(p.first_name) if mangled and rng.random() < 0.5 else p.first_name
        last = self.mangle_case(p.last_name) if mangled and first == p.first_name else p.last_name
        local_id = self.from_pco(p, linked=False, first=first, last=last)
        shared = [e["attributes"]["address"] for e in p.emails
                  if len(self.email_owners[_email_key(e["attributes"]["address"])]) > 1]
        if shared:  # the family address several PCO people share identifies none of them
            self.add_email(local_id, shared[0], "Home", True)
        elif rng.random() < 0.3:
            self.add_email(local_id, self.app.emails.fresh(p.first_name, p.last_name), "Home", True)
        self.copy_phones(local_id, p, linked=False)
        self.expect(local_id, "name_birthdate", p.id,
                    "name_birthdate_case_whitespace" if (first, last) != (p.first_name, p.last_name) else "name_birthdate")
        return local_id

    # -- scenarios that must not match, or cannot be decided -----------------------------

    def near_miss(self, p: Person, reason: str) -> bool:
        rng = self.rng
        first, last, birthdate, email = p.first_name, p.last_name, p.birthdate, None
        if reason == "same_name_different_birthdate":
            if p.birthdate is None:
                return False
            birthdate = _shifted(rng, p.birthdate)
            first = first if rng.random() < 0.7 else self.mangle_case(first)
        elif reason == "same_name_no_birthdate":
            if p.birthdate is None:
                return False
            birthdate = None
        elif reason == "pco_has_no_birthdate":
            if p.birthdate is not None:
                return False
            birthdate = date(self.now.year - max(p.age, 18), rng.randint(1, 12), rng.randint(1, 28))
        elif reason == "nickname_as_first_name":
            if not p.nickname or p.birthdate is None or p.nickname.casefold() == p.first_name.casefold():
                return False
            first = p.nickname
        elif reason == "accents_differ":
            plain_first = _strip_accents(first)
            plain_last = _strip_accents(last)
            if (plain_first, plain_last) == (first, last) or p.birthdate is None:
                return False
            first, last = plain_first, plain_last
        elif reason in ("similar_email_other_domain", "email_subaddress_or_dots"):
            if not p.emails:
                return False
            address = p.emails[0]["attributes"]["address"]
            local_part, domain = address.rsplit("@", 1)
            if reason == "similar_email_other_domain":
                others = [d for d in vocab.EMAIL_DOMAINS if d != domain.casefold()]
                email = f"{local_part}@{rng.choice(others)}"
            elif "." in local_part:
                email = f"{local_part.replace('.', '')}@{domain}"
            else:
                email = f"{local_part}+church@{domain}"
            if not self.app.emails.claim(email):
                return False
            birthdate = None  # so the name cannot decide it either
        if not self.free_key(first, last, birthdate):
            return False
        self.claimed.add(p.id)
        local_id = self.add_person(first=first, last=last, birthdate=birthdate, gender=p.gender, child=p.child,
                                   grade=p.grade, membership=p.membership)
        if email:
            self.add_email(local_id, email, "Home", True)
        self.expect(local_id, "near_miss", None, reason, resembles=p.id)
        return True

    def shared_email_ambiguity(self, p: Person) -> bool:
        """Father and son with the same first and last name share the family address, which in
        PCO only the father has: two local candidates the first name cannot tell apart."""
        rng = self.rng
        emails = self.identifying_emails(p)
        key = name_key(p.first_name, p.last_name, p.birthdate)
        if not emails or p.sex != "M" or p.age < 45 or (key and self.key_owners[key] != {p.id}):
            return False
        junior_born = self.free_birthdate(p.first_name, p.last_name, self.now.date() - timedelta(
            days=365 * (p.age - rng.randint(22, min(40, p.age - 18))) + rng.randint(0, 300)))
        self.claimed.add(p.id)
        family_id = self.add_family(p.last_name, _address_of(p))
        senior = self.from_pco(p, linked=False)
        junior = self.add_person(first=p.first_name, last=p.last_name, birthdate=junior_born, gender=p.gender,
                                 membership=p.membership, nickname="Junior" if rng.random() < 0.3 else None)
        self.add_email(senior, emails[0], "Home", True)
        self.add_email(junior, emails[0] if rng.random() < 0.5 else self.mangle_case(emails[0]), "Home", True)
        self.add_member(family_id, senior, "head", True)
        self.add_member(family_id, junior, "other", False)
        for local_id in (senior, junior):
            self.expect(local_id, "ambiguous", None, "email_shared_same_first_name", candidates=(p.id,))
        return True

    def local_duplicate_ambiguity(self, p: Person) -> bool:
        """The church entered P twice: two local people with P's name and birthdate."""
        if not self.unique_key(p):
            return False
        self.claimed.add(p.id)
        first = self.from_pco(p, linked=False, nickname=None)
        second = self.from_pco(p, linked=False, first=self.mangle_case(p.first_name), nickname=None)
        for local_id in (first, second):
            self.expect(local_id, "ambiguous", None, "local_duplicate_name_birthdate", candidates=(p.id,))
        return True

    def pco_duplicate(self, original: Person, duplicate: Person) -> bool:
        """PCO has the person twice (not merged), the church once: both PCO records claim the
        local person by name + birthdate; the earlier-created one gets it."""
        key = name_key(original.first_name, original.last_name, original.birthdate)
        if key is None or self.key_owners[key] != {original.id, duplicate.id} or self.unlinked_keys[key]:
            return False
        self.claimed.update((original.id, duplicate.id))
        local_id = self.from_pco(original, linked=False)
        both = sorted((original, duplicate), key=lambda p: (p.created_at, int(p.id)))
        self.expect(local_id, "name_birthdate", both[0].id, "pco_duplicate_earliest_created",
                    candidates=tuple(p.id for p in both))
        return True

    def merged_away(self, merger: Merger) -> None:
        """The church linked the record PCO later merged away: the pco_id now leads, through the
        PersonMerger, to person_to_keep."""
        keeper = merger.keeper
        self.claimed.add(keeper.id)
        local_id = self.from_pco(keeper, linked=True, pco_id=merger.removed.id, seen=merger.removed)
        self.expect(local_id, "pco_id", keeper.id, "pco_id_merged")

    def local_only_family(self) -> int:
        """A family PCO has never seen; returns how many people it has."""
        rng = self.rng
        last = rng.choice(vocab.LAST_NAMES)
        size = rng.choices((1, 2, 3, 4, 5), weights=(30, 25, 20, 17, 8))[0]
        address = street_address(rng) if rng.random() < 0.8 else None
        family_id = self.add_family(last if rng.random() < 0.7 else f"{last} Family", address)
        today = self.now.date()
        for i in range(size):
            adult = i < min(2, size) and not (size == 1 and rng.random() < 0.05)
            sex = "M" if i == 0 and rng.random() < 0.8 else ("F" if i == 1 else rng.choice("FM"))
            age = rng.randint(22, 75) if adult else rng.randint(0, 16)
            born = today - timedelta(days=age * 365 + rng.randint(0, 364)) if rng.random() < 0.9 else None
            first, born = self.fresh_person_name(sex, last, born)
            grade = max(-1, min(12, age - 5)) if not adult and age >= 4 else None
            local_id = self.add_person(first=first, last=last, birthdate=born, child=not adult, grade=grade,
                                       gender=None if rng.random() < 0.05 else ("Female" if sex == "F" else "Male"),
                                       membership=rng.choice(("Visitor", "Regular Attendee", None)))
            if adult and rng.random() < 0.75:
                self.add_email(local_id, self.app.emails.fresh(first, last), "Home", True)
            if adult and rng.random() < 0.7:
                self.add_phone(local_id, self.app.phones.new_number(), "Mobile", True)
            role = "head" if i == 0 else ("spouse" if adult else "child")
            self.add_member(family_id, local_id, role, i == 0)
            self.expect(local_id, "local_only", None, "local_only")
        return size


def _address_of(p: Person) -> dict | None:
    return next((a["attributes"] for a in p.addresses if a["attributes"]["primary"]), None)


def _role(p: Person) -> str:
    return p.role if p.role in ("head", "spouse", "child") else "other"


def _shifted(rng: random.Random, day: date) -> date:
    """A plausible typo of a birthdate: off by a day, a year, or day and month swapped."""
    choice = rng.randrange(3)
    if choice == 2 and day.day <= 12 and day.day != day.month:
        return date(day.year, day.day, day.month)
    if choice == 1:
        return day.replace(year=day.year + rng.choice((-1, 1)), day=min(day.day, 28))
    return day + timedelta(days=rng.choice((-1, 1)))


def _strip_accents(text: str) -> str:
    """José → Jose, Nguyễn → Nguyen, O'Brien → O'Brien: accents dropped, case and punctuation kept."""
    out = []
    for ch in text:
        plain = ascii_fold(ch)
        out.append((plain.upper() if ch.isupper() else plain) if plain else ch)
    return "".join(out)


def generate_local(app: PeopleApp, groups: GroupsApp, seed: int, now: datetime) -> LocalDataset:
    b = _Local(app, groups, seed, now)
    rng = b.rng
    n = len(app.people)

    # 0. PCO people reserved for the merger and PCO-duplicate scenarios: their households stay
    #    out of the local database so nothing else claims them
    by_id = lambda p: int(p.id)  # noqa: E731
    mergers = [m for m in sorted(app.mergers, key=lambda m: int(m.id)) if rng.random() < 0.7]
    pairs = [(d.duplicate_of, d) for d in sorted(app.people, key=by_id) if d.duplicate_of is not None]
    duplicates = [(original, d) for original, d in pairs
                  if name_key(d.first_name, d.last_name, d.birthdate) is not None and
                  name_key(d.first_name, d.last_name, d.birthdate) ==
                  name_key(original.first_name, original.last_name, original.birthdate)]
    duplicates = duplicates[:max(1, n // 400)]
    reserved = [m.keeper for m in mergers] + [original for original, _ in duplicates]
    kept_out = {h.id for p in reserved for h in p.households}
    reserved_ids = {p.id for p in reserved}

    # 1. household modes: linked by pco_id, entered independently (unlinked), or absent locally
    absent: list[Person] = []
    unlinked: list[tuple[Household | None, list[Person]]] = []
    for h in sorted(app.households, key=lambda h: int(h.id)):
        mode = rng.choices(("linked", "unlinked", "absent"), weights=(58, 20, 22))[0]
        if h.id in kept_out:
            mode = "absent"
        if mode == "linked":
            b.linked_household(h)
        elif mode == "unlinked":
            unlinked.append((h, [m for m in h.members if m.id not in b.claimed and m.id not in b.local_of]))
        else:
            absent += [m for m in h.members if m.id not in b.claimed and m.id not in b.local_of]
    loners = [p for p in app.people if not p.households and p.duplicate_of is None]
    for p in loners:
        mode = rng.choices(("linked", "unlinked", "absent"), weights=(45, 20, 35))[0]
        if p.id in reserved_ids:
            mode = "absent"
        if mode == "linked":
            b.linked_person(p)
        elif mode == "unlinked":
            unlinked.append((None, [p]))
        else:
            absent.append(p)

    # 2. the scenarios that need a PCO person with no other local counterpart
    for merger in mergers:
        if merger.keeper.id not in b.claimed:
            b.merged_away(merger)
    for original, dup in duplicates:
        if original.id not in b.claimed:
            b.pco_duplicate(original, dup)
    keepers = {m.keeper.id for m in app.mergers}
    duplicated = {p.duplicate_of.id for p in app.people if p.duplicate_of is not None}
    pool = sorted({p.id: p for p in absent}.values(), key=by_id)
    rng.shuffle(pool)
    pool = [p for p in pool if p.id not in b.claimed and p.id not in keepers and p.id not in duplicated]

    near_miss_reasons = ("same_name_different_birthdate", "same_name_no_birthdate", "pco_has_no_birthdate",
                         "nickname_as_first_name", "accents_differ", "similar_email_other_domain",
                         "email_subaddress_or_dots")
    quotas = {reason: max(1, n // 300) for reason in near_miss_reasons}
    quotas["shared_email"] = max(1, n // 250)
    quotas["local_duplicate"] = max(1, n // 250)
    adults_first = [p for p in pool if not p.child] + [p for p in pool if p.child]
    for p in adults_first:
        if p.id in b.claimed:
            continue
        for scenario in rng.sample(list(quotas), len(quotas)):
            if quotas[scenario] <= 0:
                continue
            if scenario == "shared_email":
                done = b.shared_email_ambiguity(p)
            elif scenario == "local_duplicate":
                done = b.local_duplicate_ambiguity(p)
            else:
                done = b.near_miss(p, scenario)
            if done:
                quotas[scenario] -= 1
                break

    # 3. families the church entered itself, after the scenarios took their people
    for h, members in unlinked:
        b.unlinked_household(h, [m for m in members if m.id not in b.claimed])

    # 4. people PCO has never seen
    local_only = sum(1 for e in b.expected if e.kind == "local_only")
    while local_only < n * 12 // 100:
        local_only += b.local_only_family()

    _church_relationships(b)
    _church_groups(b)
    _church_check_ins(b)
    b.expected.sort(key=lambda e: e.local_person_id)
    return LocalDataset(tables=b.tables, expected=b.expected)


# ---------------------------------------------------------------------------------------------
# church-only data


def _church_relationships(b: _Local) -> None:
    """relationships (the related person is the <kind> of the person) and authorized pickups."""
    rng = b.rng
    by_family: dict[int, list[dict]] = defaultdict(list)
    for member in b.tables["family_members"]:
        by_family[member["family_id"]].append(member)
    seen = set()

    def relate(person_id: int, related_id: int, kind: str) -> None:
        if person_id == related_id or (person_id, related_id, kind) in seen:
            return
        seen.add((person_id, related_id, kind))
        created, updated = b.row_stamps(person_id)
        b.tables["relationships"].append({"id": b.ids["relationships"].next(), "person_id": person_id,
                                          "related_person_id": related_id, "kind": kind,
                                          "created_at": created, "updated_at": updated})

    for family_id in sorted(by_family):
        members = by_family[family_id]
        parents = [m["person_id"] for m in members if m["role"] in ("head", "spouse")]
        children = [m["person_id"] for m in members if m["role"] == "child"]
        elders = [m["person_id"] for m in members if m["role"] == "other"
                  and (b.person_rows[m["person_id"]]["birthdate"] or date.max) < date(b.now.year - 60, 1, 1)]
        if len(parents) == 2:
            relate(parents[0], parents[1], "spouse")
            relate(parents[1], parents[0], "spouse")
        for child in children:
            for parent in parents:
                relate(child, parent, "parent")
            for sibling in children:
                relate(child, sibling, "sibling")
            for elder in elders:
                relate(child, elder, "grandparent")
            row = b.person_rows[child]
            young = row["grade"] is None or row["grade"] <= 6
            if not young:
                continue
            for parent in parents:
                _pickup(b, child, parent, None, None, None)
            if rng.random() < 0.3:
                who = rng.choice(("Grandmother", "Grandfather", "Nanny - weekdays only", "Neighbor", "Aunt", "Uncle"))
                sex = "M" if who in ("Grandfather", "Uncle") else "F"
                name = f"{rng.choice(vocab.FEMALE_FIRST if sex == 'F' else vocab.MALE_FIRST)} {rng.choice(vocab.LAST_NAMES)}"
                _pickup(b, child, None, name, b.app.phones.new_number().text, who)


def _pickup(b: _Local, child: int, pickup_person: int | None, name: str | None, phone: str | None,
            notes: str | None) -> None:
    created, updated = b.row_stamps(child)
    b.tables["authorized_pickups"].append({
        "id": b.ids["authorized_pickups"].next(), "child_id": child, "pickup_person_id": pickup_person,
        "pickup_name": name, "pickup_phone": phone, "notes": notes, "created_at": created, "updated_at": updated,
    })


_DEPARTMENTS = (
    ("Adult Ministries", ("Small Groups", "Classes", "Care & Recovery")),
    ("Student Ministries", ("Middle School", "High School")),
    ("Children's Ministries", ("Sunday Mornings", "Midweek")),
    ("Serving", ("Guest Services", "Worship & Production", "Kids Volunteers")),
)
_AREA_FOR_TYPE = {"Small Groups": "Small Groups", "Classes": "Classes", "Support & Recovery": "Care & Recovery",
                  "Unique": "Small Groups", "Serve Teams": "Guest Services", "Students": "High School"}
_LOCAL_ONLY_GROUPS = (
    ("Prayer Chain", "Care & Recovery"), ("Funeral Meals Team", "Guest Services"),
    ("Sunday Pre-K Class", "Sunday Mornings"), ("Quilting Circle", "Small Groups"),
    ("Widows' Fellowship", "Care & Recovery"), ("Building Committee", "Guest Services"),
    ("AWANA Sparks", "Midweek"), ("AWANA T&T", "Midweek"), ("Confirmation Class", "Middle School"),
    ("Sound Booth Trainees", "Worship & Production"), ("Hospital Visitation", "Care & Recovery"),
    ("Nursery Rotation", "Kids Volunteers"), ("Senior Lunch Bunch", "Small Groups"),
)


def _church_groups(b: _Local) -> None:
    rng = b.rng
    start = b.now - timedelta(days=8 * 365)
    areas: dict[str, int] = {}

    def group_row(name: str, level: int, parent: int | None, pco_id: str | None = None, **extra) -> int:
        group_id = b.ids["church_group"].next()
        created = between(rng, start, b.now - timedelta(days=30))
        row = {"id": group_id, "pco_id": pco_id, "parent_id": parent, "level": level, "name": name,
               "description": None, "meeting_day": None, "meeting_frequency": None, "has_childcare": False,
               "is_active": True, "created_at": created, "updated_at": between(rng, created, b.now - timedelta(days=1))}
        row.update(extra)
        b.tables["church_group"].append(row)
        return group_id

    for department, area_names in _DEPARTMENTS:
        department_id = group_row(department, 1, None)
        for area in area_names:
            areas[area] = group_row(area, 2, department_id)

    local_people = [row["id"] for row in b.tables["people"] if row["status"] == "active"]
    linked_ids = set(b.local_of.values())
    linked_people = [row["id"] for row in b.tables["people"] if row["id"] in linked_ids and row["status"] == "active"]
    unlinked_people = [row["id"] for row in b.tables["people"] if not row["pco_id"] and row["status"] == "active"]
    pairs: set[tuple[int, int]] = set()

    def member(group_id: int, person_id: int, leader_type: str, joined: datetime | None, pco_id: str | None = None) -> None:
        if (group_id, person_id) in pairs:
            return
        pairs.add((group_id, person_id))
        created, updated = b.row_stamps(person_id)
        b.tables["group_membership"].append({
            "id": b.ids["group_membership"].next(), "group_id": group_id, "person_id": person_id, "pco_id": pco_id,
            "leader_type": leader_type, "joined_at": joined, "created_at": created, "updated_at": updated})

    for group in sorted(b.groups.groups, key=lambda g: int(g.id)):
        if rng.random() >= (0.6 if group.archived_at is None else 0.3):
            continue  # not (yet) in the church's own hierarchy
        area = _AREA_FOR_TYPE[group.type_name]
        if group.type_name == "Serve Teams" and any(w in group.name for w in ("Nursery", "Preschool", "Elementary", "Kids")):
            area = "Kids Volunteers"
        elif group.type_name == "Serve Teams" and any(w in group.name for w in ("Band", "Choir", "Production", "Photo")):
            area = "Worship & Production"
        elif group.type_name == "Students" and group.name.startswith(("6th", "7th")):
            area = "Middle School"
        group_id = group_row(group.name, 3, areas[area], pco_id=group.id,
                             description=group.attributes["description_as_plain_text"],
                             meeting_day=group.meeting_day, meeting_frequency=group.frequency,
                             has_childcare=group.has_childcare, is_active=group.archived_at is None)
        pco_members = set()
        for membership in group.memberships:
            local_id = b.local_of.get(membership.person.id)
            if local_id is None:
                continue
            pco_members.add(local_id)
            if rng.random() < 0.85:  # the rest arrive with the next inbound sync
                member(group_id, local_id, membership.role, membership.joined_at, pco_id=membership.id)
        if group.archived_at is None and rng.random() < 0.4:
            # joined at church, to be pushed to PCO: linked people, and people PCO lacks yet
            for _ in range(rng.randint(1, 3)):
                pool = linked_people if rng.random() < 0.7 else unlinked_people
                candidates = [pid for pid in rng.sample(pool, min(5, len(pool))) if pid not in pco_members]
                if candidates:
                    member(group_id, candidates[0], "member", between(rng, b.now - timedelta(days=60), b.now - timedelta(hours=2)))

    for name, area in _LOCAL_ONLY_GROUPS[:max(5, min(len(_LOCAL_ONLY_GROUPS), len(b.app.people) // 250))]:
        day = rng.choice(vocab.WEEKDAYS)
        group_id = group_row(name, 3, areas[area], description=f"{name} (church records only)", meeting_day=day,
                             meeting_frequency=rng.choice(("weekly", "monthly", "biweekly")),
                             has_childcare=rng.random() < 0.1)
        for i, person_id in enumerate(rng.sample(local_people, min(len(local_people), rng.randint(4, 15)))):
            leader_type = "leader" if i == 0 else rng.choices(("member", "coach", "other"), weights=(85, 8, 7))[0]
            member(group_id, person_id, leader_type, between(rng, start, b.now - timedelta(days=1)))


_LOCAL_EVENTS = (
    # name, days from now, local start hour, hours (None = all day, days), location, rooms
    ("Kids Camp", -75, None, 3, "Camp Wonderland", ("Cabin A", "Cabin B")),
    ("Volunteer Training", -40, 9, 3, "Fellowship Hall", ("Training Room",)),
    ("Midweek Prayer", -27, 19, 1, "Prayer Room", ()),
    ("Midweek Prayer", -20, 19, 1, "Prayer Room", ()),
    ("Midweek Prayer", -13, 19, 1, "Prayer Room", ()),
    ("Grandparents Day Brunch", -50, 10, 2, "Fellowship Hall", ("Fellowship Hall",)),
    ("Parents' Night Out", -16, 17, 4, "Kids Wing", ("Kids Wing - Nursery", "Kids Wing - Gym")),
    ("Trunk or Treat", -3, 17, 3, "Parking Lot", ()),
    ("Advent Choir Rehearsal", 8, 18, 2, "Choir Room", ()),
    ("New Members Lunch", 22, 12, 2, "Fellowship Hall", ()),
)


def _church_check_ins(b: _Local) -> None:
    """Church-only events, rooms and check-ins (source 'local'): a sync never touches them."""
    rng = b.rng
    rooms: dict[str, int] = {}
    folder = b.ids["locations"].next()
    created = b.now - timedelta(days=400)
    b.tables["locations"].append({"id": folder, "pco_id": None, "parent_id": None, "name": "Off-site & Special Events",
                                  "kind": "folder", "age_min_months": None, "age_max_months": None, "grade_min": None,
                                  "grade_max": None, "capacity": None, "created_at": created, "updated_at": created})
    for name, *_rest, room_names in _LOCAL_EVENTS:
        for room in room_names:
            if room in rooms:
                continue
            rooms[room] = b.ids["locations"].next()
            kids_room = room.startswith(("Cabin", "Kids"))
            b.tables["locations"].append({
                "id": rooms[room], "pco_id": None, "parent_id": folder, "name": room, "kind": "room",
                "age_min_months": 72 if room.startswith("Cabin") else (0 if "Nursery" in room else None),
                "age_max_months": 155 if room.startswith("Cabin") else (35 if "Nursery" in room else None),
                "grade_min": 1 if room.startswith("Cabin") else None, "grade_max": 6 if room.startswith("Cabin") else None,
                "capacity": 24 if kids_room else 120, "created_at": created, "updated_at": created})
    zone = ZoneInfo(ORGANIZATION["time_zone"])
    people = b.tables["people"]
    kids = [row for row in people if row["child"] and row["status"] == "active"]
    adults = [row for row in people if not row["child"] and row["status"] == "active"]
    for name, offset, hour, length, location, room_names in _LOCAL_EVENTS:
        day = b.now.astimezone(zone).date() + timedelta(days=offset)
        if hour is None:
            starts = datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)
            ends = datetime.combine(day + timedelta(days=length - 1), time(23, 59), tzinfo=zone).astimezone(UTC)
        else:
            starts = datetime.combine(day, time(hour, 0), tzinfo=zone).astimezone(UTC)
            ends = starts + timedelta(hours=length)
        event_id = b.ids["events"].next()
        event_created = min(b.now - timedelta(hours=1), starts - timedelta(days=rng.randint(10, 60)))
        b.tables["events"].append({
            "id": event_id, "pco_id": None, "name": name, "description": f"{name} (church calendar)",
            "starts_at": starts, "ends_at": ends, "all_day": hour is None, "location": location,
            "created_at": event_created, "updated_at": event_created})
        if not room_names or ends >= b.now:
            continue
        attendees = kids if room_names[0].startswith(("Cabin", "Kids")) else adults
        count = max(3, len(attendees) // 25)
        for i, row in enumerate(rng.sample(attendees, min(count, len(attendees)))):
            checked_in = between(rng, starts - timedelta(minutes=20), starts + timedelta(minutes=30))
            guest = rng.random() < 0.05
            b.tables["checkins"].append({
                "id": b.ids["checkins"].next(), "pco_id": None, "person_id": None if guest else row["id"],
                "event_id": event_id, "location_id": rooms[room_names[i % len(room_names)]],
                "first_name": rng.choice(vocab.FEMALE_FIRST) if guest else row["first_name"].strip(),
                "last_name": rng.choice(vocab.LAST_NAMES) if guest else row["last_name"].strip(),
                "kind": "Guest" if guest else ("Volunteer" if rng.random() < 0.08 else "Regular"),
                "security_code": "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(3)),
                "checked_in_at": checked_in,
                "checked_out_at": min(ends, checked_in + timedelta(hours=length if hour else 2)) if rng.random() < 0.8 else None,
                "source": "local", "created_at": checked_in, "updated_at": checked_in})

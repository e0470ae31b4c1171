"""POST / PATCH / DELETE per PCO's write matrix, with PCO's validation quirks and updated_at rules.

Writable here, as live (`WRITE_METHODS`): Person; Email, PhoneNumber, Address (created under a
person); Household (created with `people` + `primary_contact` relationships); HouseholdMembership
(under a household, `pending`); groups Membership (under a group, role leader|member); a Group can
be updated only (name, schedule, group type, tags). Everything else refuses writes (405).

Validation as measured live (pcomirror docs/mutation-testing.md, pypco apitour):
* an attribute that is not assignable → 422 "Forbidden Attribute" / "<name> cannot be assigned";
* `birthdate: "not-a-date"` or `grade: "not-a-number"` → 200 with the field nulled (silent loss);
  an out-of-range grade → 422 "grade must be between -1 and 12".
updated_at, as live: a person's own edits bump it unless only medical_notes /
passed_background_check changed (ISS#604, ISS#1030); email / phone / address edits bump the person
too (ISS#313); household membership changes bump neither person nor household (ISS#1253); demoting
the previous primary email does not bump that email. A PATCH that changes nothing bumps nothing.

Each write returns the `Change`s it made, from which the sandbox emits webhooks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import phonenumbers

from pco_sandbox import errors
from pco_sandbox.clock import Clock, format_timestamp
from pco_sandbox.schema import Kind
from pco_sandbox.store import Record, Store, person_display_name

_JSON_TYPES = ("application/json", "application/vnd.api+json")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY_NAMES = {"US": "United States", "CA": "Canada", "GB": "United Kingdom", "MX": "Mexico",
                  "AU": "Australia", "NZ": "New Zealand", "DE": "Germany", "FR": "France", "KR": "South Korea",
                  "CN": "China", "TW": "Taiwan", "PH": "Philippines", "IN": "India", "BR": "Brazil",
                  "ZA": "South Africa", "NG": "Nigeria", "KE": "Kenya"}

_ALL_WRITES = frozenset({"POST", "PATCH", "DELETE"})
# The methods each writable resource takes (anything else is a 405), per PCO's reference: People
# 2025-03-20 (person, email, phone_number, address, household, household_membership) and Groups
# 2023-07-10, where a Group can only be updated (name, group_type_id, schedule, tag_ids: no POST, no
# DELETE) and a Membership created, updated (joined_at, role) and deleted
# (https://developer.planning.center/docs/#/apps/groups/2023-07-10/vertices/group and …/membership).
WRITE_METHODS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("people/people", "people/emails", "people/phone_numbers", "people/addresses",
                     "people/households", "people/household_memberships", "groups/memberships"), _ALL_WRITES),
    "groups/groups": frozenset({"PATCH"}),
}
# Where a child is created: its kind → (the parent kind, the child's relationship to it).
CREATED_UNDER = {"people/emails": ("people/people", "person"), "people/phone_numbers": ("people/people", "person"),
                 "people/addresses": ("people/people", "person"),
                 "people/household_memberships": ("people/households", "household"),
                 "groups/memberships": ("groups/groups", "group")}
CONTACT_KINDS = frozenset({"people/emails", "people/phone_numbers", "people/addresses"})

_PERSON_STRINGS = ("first_name", "last_name", "given_name", "middle_name", "nickname", "membership",
                   "medical_notes", "school_type", "avatar", "people_permissions", "directory_status")
_PERSON_BOOLEANS = ("child", "accounting_administrator", "site_administrator", "passed_background_check")
_PERSON_ASSIGNABLE = frozenset(_PERSON_STRINGS + _PERSON_BOOLEANS + (
    "birthdate", "anniversary", "gender", "grade", "graduation_year", "status", "remote_id", "gender_id",
    "primary_campus_id", "marital_status_id", "inactive_reason_id", "name_prefix_id", "name_suffix_id"))
# Edits to these live in other tables at PCO and do not move Person.updated_at.
_PERSON_SILENT = frozenset({"medical_notes", "passed_background_check"})
_TO_ONE_IDS = {"primary_campus_id": ("primary_campus", "Campus"), "marital_status_id": ("marital_status", "MaritalStatus"),
               "inactive_reason_id": ("inactive_reason", "InactiveReason"),
               "name_prefix_id": ("name_prefix", "NamePrefix"), "name_suffix_id": ("name_suffix", "NameSuffix")}


@dataclass
class Change:
    """One resource created, updated or destroyed (the record as it is now, or was for destroyed)."""

    kind: Kind
    record: Record
    action: str


def parse_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The `data` object of a write request, or the 400 PCO answers.

    A body that is not sent as JSON is not parsed at all, so (as on Rails) it has no `data` key.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type and media_type not in _JSON_TYPES:
        raise errors.missing_data_key()
    if not raw.strip():
        raise errors.missing_data_key()
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"There was a problem in the JSON you submitted: {exc}", code="invalid_json") from None
    if not isinstance(payload, Mapping) or "data" not in payload:
        raise errors.missing_data_key()
    data = payload["data"]
    if not isinstance(data, Mapping):
        raise errors.bad_request("The payload's 'data' must be a single resource object.",
                                 code="invalid_resource_payload")
    attributes = data.get("attributes", {})
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, Mapping):
        raise errors.bad_request("The payload's 'data.attributes' must be an object.",
                                 code="invalid_resource_payload")
    relationships = data.get("relationships") or {}
    if not isinstance(relationships, Mapping):
        raise errors.bad_request("The payload's 'data.relationships' must be an object.",
                                 code="invalid_resource_payload")
    return {"type": data.get("type"), "id": data.get("id"), "attributes": dict(attributes),
            "relationships": dict(relationships)}


class Writer:
    def __init__(self, store: Store, clock: Clock, country_code: str = "US") -> None:
        self.store = store
        self.clock = clock
        self.country_code = country_code

    # --- entry points -----------------------------------------------------------------------------

    def create(self, kind: Kind, data: dict[str, Any], parent: Record | None = None) -> tuple[Record, list[Change]]:
        """POST: validate `data` (from parse_body), store the new record, return it and the changes."""
        self._check_type(kind, data)
        with self.store.lock:
            if kind.key == "people/people":
                return self._create_person(kind, data)
            if kind.key in CONTACT_KINDS:
                return self._create_contact(kind, data, _require(parent))
            if kind.key == "people/households":
                return self._create_household(kind, data)
            if kind.key == "people/household_memberships":
                return self._create_household_membership(kind, data, _require(parent))
            if kind.key == "groups/memberships":
                return self._create_group_membership(kind, data, _require(parent))
        raise errors.method_not_allowed("POST", kind.collection)

    def update(self, kind: Kind, record: Record, data: dict[str, Any]) -> tuple[Record, list[Change]]:
        """PATCH: apply the assignable attributes; bumps and changes follow PCO's rules."""
        self._check_type(kind, data)
        if data.get("id") is not None and str(data["id"]) != record.id:
            raise errors.unprocessable([errors.error_object(422, f"data.id {data['id']} does not match the "
                                                                 f"{kind.type} in the URL ({record.id})")])
        with self.store.lock:
            if kind.key == "people/people":
                return self._update_person(kind, record, data)
            if kind.key in CONTACT_KINDS:
                return self._update_contact(kind, record, data)
            if kind.key == "people/households":
                return self._update_household(kind, record, data)
            if kind.key == "people/household_memberships":
                values = self._assign(kind, data, {"pending": _boolean, "household_role": _string})
                return self._save(kind, record, values, touch=False), []
            if kind.key == "groups/memberships":
                values = self._assign(kind, data, {"role": _role, "joined_at": self._timestamp})
                return self._save_if_changed(kind, record, values)
            if kind.key == "groups/groups":
                return self._update_group(kind, record, data)
        raise errors.method_not_allowed("PATCH", kind.collection)

    def delete(self, kind: Kind, record: Record) -> list[Change]:
        with self.store.lock:
            self.store.delete(kind.key, record.id)
            changes = [Change(kind, record, "destroyed")]
            if kind.key == "people/people":
                self._delete_person_dependents(record)
            elif kind.key in CONTACT_KINDS:
                changes += self.touch_person(next(iter(record.rel_ids("person")), None))
            elif kind.key == "people/households":
                for membership in list(self.store.children("people/household_memberships", "household", record.id)):
                    self.store.delete("people/household_memberships", membership.id)
            elif kind.key == "people/household_memberships":
                self.recount_household(next(iter(record.rel_ids("household")), None))
                changes = []
            elif kind.key == "groups/memberships":
                self._recount_group(next(iter(record.rel_ids("group")), None))
            return changes

    # --- people -----------------------------------------------------------------------------------

    def _person_values(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(attribute values, relationship values) for a Person write, or 422."""
        attributes = data["attributes"]
        problems = [errors.forbidden_attribute(n, "Person") for n in attributes if n not in _PERSON_ASSIGNABLE]
        values: dict[str, Any] = {}
        relationships: dict[str, Any] = {}
        for name, raw in attributes.items():
            if name in _PERSON_STRINGS:
                values[name] = _string(raw)
            elif name in _PERSON_BOOLEANS:
                values[name] = _boolean(raw)
            elif name in ("birthdate", "anniversary"):
                values[name] = _lenient_date(raw)
            elif name == "grade":
                grade = _lenient_integer(raw)
                if grade is not None and not -1 <= grade <= 12:
                    problems.append(errors.invalid_attribute("grade", "must be between -1 and 12", "Person"))
                values[name] = grade
            elif name in ("graduation_year", "remote_id"):
                values[name] = _lenient_integer(raw)
            elif name == "gender":
                gender = _gender(raw)
                if gender is False:
                    problems.append(errors.invalid_attribute("gender", "is not included in the list", "Person"))
                else:
                    values[name] = gender
            elif name == "status":
                if raw not in ("active", "inactive"):
                    problems.append(errors.invalid_attribute("status", "is not included in the list", "Person"))
                values[name] = raw
            elif name in _TO_ONE_IDS:
                rel_name, type_ = _TO_ONE_IDS[name]
                relationships[rel_name] = (type_, str(raw)) if raw not in (None, "") else None
        if problems:
            raise errors.unprocessable(problems)
        return values, relationships

    def _create_person(self, kind: Kind, data: dict[str, Any]) -> tuple[Record, list[Change]]:
        values, relationships = self._person_values(data)
        if not (values.get("first_name") or values.get("last_name")):
            raise errors.unprocessable([errors.invalid_attribute("first_name", "can't be blank", "Person")])
        now = self.clock.timestamp()
        attributes: dict[str, Any] = {name: None for name in kind.attributes}
        attributes.update({"accounting_administrator": False, "site_administrator": False, "child": False,
                           "can_create_forms": False, "can_email_lists": False, "passed_background_check": False,
                           "status": "active"})
        attributes.update(values)
        attributes["name"] = person_display_name(attributes)
        attributes["inactivated_at"] = now if attributes["status"] == "inactive" else None
        attributes["created_at"] = attributes["updated_at"] = now
        record = Record(kind.type, self.store.next_id(kind.key), attributes,
                        {"primary_campus": None, **relationships})
        self.store.insert(kind.key, record)
        return record, [Change(kind, record, "created")]

    def _update_person(self, kind: Kind, record: Record, data: dict[str, Any]) -> tuple[Record, list[Change]]:
        values, relationships = self._person_values(data)
        changed = {k for k, v in values.items() if record.attributes.get(k) != v}
        changed |= {k for k, v in relationships.items() if record.relationships.get(k) != v}
        if not changed:
            return record, []
        updated = record.copy()
        updated.attributes.update(values)
        updated.relationships.update(relationships)
        if "status" in values and values["status"] != record.attributes.get("status"):
            updated.attributes["inactivated_at"] = self.clock.timestamp() if values["status"] == "inactive" else None
        updated.attributes["name"] = person_display_name(updated.attributes)
        silent = changed <= _PERSON_SILENT
        if not silent:
            updated.attributes["updated_at"] = self.clock.timestamp()
        self.store.replace(kind.key, updated)
        for membership in list(self.store.children("people/household_memberships", "person", record.id)):
            if membership.attributes.get("person_name") != updated.attributes["name"]:
                renamed = membership.copy()
                renamed.attributes["person_name"] = updated.attributes["name"]
                self.store.replace("people/household_memberships", renamed)
        return updated, ([] if silent else [Change(kind, updated, "updated")])

    def _delete_person_dependents(self, person: Record) -> None:
        households = set()
        for key, via in (("people/emails", "person"), ("people/phone_numbers", "person"), ("people/addresses", "person"),
                         ("people/field_data", "customizable"), ("people/household_memberships", "person"),
                         ("groups/memberships", "person")):
            for child in list(self.store.children(key, via, person.id)):
                owner = child.relationships.get("customizable")
                if key == "people/field_data" and not (isinstance(owner, tuple) and owner[0] == "Person"):
                    continue
                self.store.delete(key, child.id)
                if key == "people/household_memberships":
                    households.update(child.rel_ids("household"))
                if key == "groups/memberships":
                    self._recount_group(next(iter(child.rel_ids("group")), None))
        for household_id in households:
            self.recount_household(household_id)

    def touch_person(self, person_id: str | None) -> list[Change]:
        """Contact edits move the person's updated_at (and so echo a person.updated)."""
        person = self.store.get("people/people", person_id or "")
        if person is None:
            return []
        updated = person.copy()
        updated.attributes["updated_at"] = self.clock.timestamp()
        self.store.replace("people/people", updated)
        return [Change(self.store.require_kind("people/people"), updated, "updated")]

    # --- emails, phone numbers, addresses --------------------------------------------------------------

    def _contact_values(self, kind: Kind, data: dict[str, Any], creating: bool) -> dict[str, Any]:
        if kind.key == "people/emails":
            values = self._assign(kind, data, {"address": _string, "location": _string, "primary": _boolean})
            address = values.get("address", "" if creating else None)
            if address is not None and not address:
                raise errors.unprocessable([errors.invalid_attribute("address", "can't be blank", kind.type)])
            if address is not None and not _EMAIL.match(address):
                raise errors.unprocessable([errors.invalid_attribute("address", "is invalid", kind.type)])
            return values
        if kind.key == "people/phone_numbers":
            values = self._assign(kind, data, {"number": _string, "carrier": _string, "location": _string,
                                               "primary": _boolean})
            number = values.get("number", "" if creating else None)
            if number is not None and not number.strip():
                raise errors.unprocessable([errors.invalid_attribute("number", "can't be blank", kind.type)])
            if number is not None:
                values.update(derive_phone_fields(number, self.country_code))
            return values
        assigners: dict[str, Callable[[Any], Any]] = {
            name: _string for name in ("city", "state", "zip", "location", "street_line_1", "street_line_2")}
        assigners.update({"primary": _boolean, "country_code": _string, "street": _string})
        values = self._assign(kind, data, assigners)
        if "street" in values:  # the 2018-08-01 shape
            values["street_line_1"] = values.pop("street")
        if creating or "country_code" in values:
            code = (values.get("country_code") or self.country_code).upper()
            values["country_code"] = code
            values["country_name"] = _COUNTRY_NAMES.get(code, code)
        return values

    def _create_contact(self, kind: Kind, data: dict[str, Any], person: Record) -> tuple[Record, list[Change]]:
        values = self._contact_values(kind, data, creating=True)
        siblings = self.store.children(kind.key, "person", person.id)
        now = self.clock.timestamp()
        attributes: dict[str, Any] = {name: None for name in kind.attributes}
        attributes.update({"location": "Home", "primary": not siblings, "created_at": now, "updated_at": now})
        if kind.key == "people/emails":
            attributes["blocked"] = False
        attributes.update(values)
        record = Record(kind.type, self.store.next_id(kind.key), attributes, {"person": ("Person", person.id)})
        self.store.insert(kind.key, record)
        if attributes.get("primary"):
            self._demote_other_primaries(kind, record)
        return record, [Change(kind, record, "created")] + self.touch_person(person.id)

    def _update_contact(self, kind: Kind, record: Record, data: dict[str, Any]) -> tuple[Record, list[Change]]:
        values = self._contact_values(kind, data, creating=False)
        if all(record.attributes.get(k) == v for k, v in values.items()):
            return record, []
        updated = self._save(kind, record, values, touch=True)
        if values.get("primary"):
            self._demote_other_primaries(kind, updated)
        return updated, [Change(kind, updated, "updated")] + self.touch_person(next(iter(record.rel_ids("person")), None))

    def _demote_other_primaries(self, kind: Kind, primary: Record) -> None:
        """One primary per person; the demoted record's updated_at does not move (measured live)."""
        for sibling in self.store.children(kind.key, "person", next(iter(primary.rel_ids("person")), "")):
            if sibling.id != primary.id and sibling.attributes.get("primary"):
                demoted = sibling.copy()
                demoted.attributes["primary"] = False
                self.store.replace(kind.key, demoted)

    # --- households -------------------------------------------------------------------------------

    def _create_household(self, kind: Kind, data: dict[str, Any]) -> tuple[Record, list[Change]]:
        values = self._assign(kind, data, {"name": _string, "avatar": _string})
        people_refs = _rel_data(data, "people")
        contact_ref = _rel_data(data, "primary_contact")
        problems = []
        if not isinstance(people_refs, list) or not people_refs:
            problems.append(_relationship_error("people", "must list the household's people"))
        if not isinstance(contact_ref, Mapping):
            problems.append(_relationship_error("primary_contact", "must name the primary contact"))
        if problems:
            raise errors.unprocessable(problems)
        person_ids = list(dict.fromkeys(str(ref.get("id")) for ref in people_refs if isinstance(ref, Mapping)))
        missing = [pid for pid in person_ids if self.store.get("people/people", pid) is None]
        contact_id = str(contact_ref.get("id"))
        if missing:
            raise errors.unprocessable([_relationship_error("people", f"not found: {', '.join(missing)}")])
        if contact_id not in person_ids:
            raise errors.unprocessable([_relationship_error("primary_contact", "must be one of the household's people")])
        contact = self.store.require("people/people", contact_id)
        now = self.clock.timestamp()
        attributes: dict[str, Any] = {name: None for name in kind.attributes}
        attributes.update({"name": values.get("name") or f"{contact.attributes.get('last_name') or ''} Household".strip(),
                           "avatar": values.get("avatar"), "created_at": now, "updated_at": now})
        household = Record(kind.type, self.store.next_id(kind.key), attributes,
                           {"primary_contact": ("Person", contact_id)})
        self.store.insert(kind.key, household)
        for person_id in person_ids:
            self._insert_membership(household.id, person_id, pending=False, role=None)
        self.recount_household(household.id)
        created = self.store.require(kind.key, household.id)
        return created, [Change(kind, created, "created")]

    def _update_household(self, kind: Kind, record: Record, data: dict[str, Any]) -> tuple[Record, list[Change]]:
        values = self._assign(kind, data, {"name": _string, "avatar": _string, "primary_contact_id": _string})
        relationships = {}
        if "primary_contact_id" in values:
            contact_id = values.pop("primary_contact_id")
            members = {ref[1] for ref in self.store.household_people(record.id)}
            if contact_id not in members:
                raise errors.unprocessable([errors.invalid_attribute(
                    "primary_contact_id", "must be one of the household's people", kind.type)])
            relationships["primary_contact"] = ("Person", contact_id)
        if all(record.attributes.get(k) == v for k, v in values.items()) and \
                all(record.relationships.get(k) == v for k, v in relationships.items()):
            return record, []
        updated = record.copy()
        updated.relationships.update(relationships)
        updated = self._save(kind, updated, values, touch=True)
        self.recount_household(record.id)
        updated = self.store.require(kind.key, record.id)
        return updated, [Change(kind, updated, "updated")]

    def _create_household_membership(self, kind: Kind, data: dict[str, Any], household: Record
                                     ) -> tuple[Record, list[Change]]:
        values = self._assign(kind, data, {"pending": _boolean, "household_role": _string, "person_id": _string})
        person_ref = _rel_data(data, "person")
        person_id = str(person_ref.get("id")) if isinstance(person_ref, Mapping) else values.pop("person_id", None)
        values.pop("person_id", None)
        if not person_id or self.store.get("people/people", person_id) is None:
            raise errors.unprocessable([_relationship_error("person", "must name an existing person")])
        if any(ref[1] == person_id for ref in self.store.household_people(household.id)):
            raise errors.unprocessable([errors.invalid_attribute("person", "has already been taken", kind.type)])
        # PCO treats a membership as pending (and emails the person) unless told pending: false.
        membership = self._insert_membership(household.id, person_id, pending=values.get("pending", True),
                                             role=values.get("household_role"))
        self.recount_household(household.id)
        return membership, []

    def _insert_membership(self, household_id: str, person_id: str, *, pending: bool | None, role: str | None) -> Record:
        person = self.store.get("people/people", person_id)
        record = Record("HouseholdMembership", self.store.next_id("people/household_memberships"),
                        {"household_role": role, "pending": bool(pending),
                         "person_name": person.attributes.get("name") if person else None},
                        {"person": ("Person", person_id), "household": ("Household", household_id)})
        return self.store.insert("people/household_memberships", record)

    def recount_household(self, household_id: str | None) -> None:
        """member_count and the primary contact's name follow the members, without touching updated_at."""
        household = self.store.get("people/households", household_id or "")
        if household is None:
            return
        updated = household.copy()
        updated.attributes["member_count"] = len(self.store.household_people(household.id))
        contact = self.store.get("people/people", next(iter(household.rel_ids("primary_contact")), ""))
        updated.attributes["primary_contact_id"] = contact.id if contact else None
        updated.attributes["primary_contact_name"] = contact.attributes.get("name") if contact else None
        self.store.replace("people/households", updated)

    # --- groups memberships --------------------------------------------------------------------------

    def _create_group_membership(self, kind: Kind, data: dict[str, Any], group: Record) -> tuple[Record, list[Change]]:
        values = self._assign(kind, data, {"role": _role, "joined_at": self._timestamp, "person_id": _string})
        person_ref = _rel_data(data, "person")
        person_id = values.pop("person_id", None)
        if isinstance(person_ref, Mapping):
            person_id = str(person_ref.get("id"))
        if not person_id or self.store.get("people/people", person_id) is None:
            raise errors.unprocessable([errors.invalid_attribute("person_id", "must name an existing person", kind.type)])
        if any(m.rel_ids("person") == [person_id] for m in self.store.children(kind.key, "group", group.id)):
            raise errors.unprocessable([errors.invalid_attribute("person", "has already been taken", kind.type)])
        record = Record(kind.type, self.store.next_id(kind.key),
                        {"joined_at": values.get("joined_at") or self.clock.timestamp(),
                         "role": values.get("role") or "member"},
                        {"group": ("Group", group.id), "person": ("Person", person_id)})
        self.store.insert(kind.key, record)
        self._recount_group(group.id)
        return record, [Change(kind, record, "created")]

    def _update_group(self, kind: Kind, record: Record, data: dict[str, Any]) -> tuple[Record, list[Change]]:
        """A Group takes name, schedule, group_type_id and tag_ids; it has no updated_at to bump."""
        values = self._assign(kind, data, {"name": _string, "schedule": _string, "group_type_id": _string,
                                           "tag_ids": _id_list})
        if "name" in values and not (values["name"] or "").strip():
            raise errors.unprocessable([errors.invalid_attribute("name", "can't be blank", kind.type)])
        group_type_id = values.pop("group_type_id", None)
        updated = record.copy()
        if group_type_id is not None:
            if self.store.get("groups/group_types", group_type_id) is None:
                raise errors.unprocessable([errors.invalid_attribute("group_type_id", "must name a group type",
                                                                     kind.type)])
            updated.relationships["group_type"] = ("GroupType", group_type_id)
        return self._save_if_changed(kind, updated, values, before=record)

    def _save_if_changed(self, kind: Kind, record: Record, values: dict[str, Any], *,
                         before: Record | None = None) -> tuple[Record, list[Change]]:
        """Save a record without timestamps; a write that changes nothing fires nothing."""
        before = before or record
        if all(before.attributes.get(k) == v for k, v in values.items()) and \
                record.relationships == before.relationships:
            return before, []
        updated = self._save(kind, record, values, touch=False)
        return updated, [Change(kind, updated, "updated")]

    def _recount_group(self, group_id: str | None) -> None:
        group = self.store.get("groups/groups", group_id or "")
        if group is not None:
            updated = group.copy()
            updated.attributes["memberships_count"] = len(self.store.children("groups/memberships", "group", group.id))
            self.store.replace("groups/groups", updated)

    # --- helpers ----------------------------------------------------------------------------------

    def _check_type(self, kind: Kind, data: dict[str, Any]) -> None:
        if data.get("type") not in (None, kind.type):
            raise errors.unprocessable([errors.error_object(
                422, f"data.type {data['type']!r} is not {kind.type!r}, the type this endpoint writes",
                code="invalid_resource_type")])

    def _assign(self, kind: Kind, data: dict[str, Any], assigners: dict[str, Any]) -> dict[str, Any]:
        attributes = data["attributes"]
        problems = [errors.forbidden_attribute(name, kind.type) for name in attributes if name not in assigners]
        if problems:
            raise errors.unprocessable(problems)
        values = {}
        for name, raw in attributes.items():
            value = assigners[name](raw)
            if value is _INVALID:
                problems.append(errors.invalid_attribute(name, "is invalid", kind.type))
            values[name] = value
        if problems:
            raise errors.unprocessable(problems)
        return values

    def _save(self, kind: Kind, record: Record, values: dict[str, Any], *, touch: bool) -> Record:
        updated = record.copy()
        updated.attributes.update(values)
        if touch and kind.timestamps:
            updated.attributes["updated_at"] = self.clock.timestamp()
        return self.store.replace(kind.key, updated)

    def _timestamp(self, raw: Any) -> Any:
        if raw is None:
            return None
        try:
            moment = datetime.fromisoformat(str(raw))
        except ValueError:
            return _INVALID
        return format_timestamp(moment if moment.tzinfo else moment.replace(tzinfo=self.clock.now().tzinfo))


_INVALID = object()


def _require(parent: Record | None) -> Record:
    if parent is None:
        raise errors.ApiError(405)
    return parent


def _rel_data(data: dict[str, Any], name: str) -> Any:
    value = data["relationships"].get(name)
    return value.get("data") if isinstance(value, Mapping) else None


def _relationship_error(name: str, message: str) -> dict[str, Any]:
    return {"status": "422", "title": "Unprocessable Entity", "code": "invalid", "detail": f"{name} {message}",
            "source": {"pointer": f"/data/relationships/{name}"}}


def _string(raw: Any) -> str | None:
    return None if raw is None else str(raw)


def _boolean(raw: Any) -> bool | None:
    """Rails' boolean cast: blank is nil, a short list of values is false, anything else true."""
    if raw is None or raw == "":
        return None
    return raw not in (False, 0, "0", "f", "F", "false", "FALSE", "off", "OFF")


def _id_list(raw: Any) -> Any:
    if not isinstance(raw, list) or not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in raw):
        return _INVALID
    return [str(i) for i in raw]


def _role(raw: Any) -> Any:
    return raw if raw in ("member", "leader") else _INVALID


def _lenient_date(raw: Any) -> str | None:
    """PCO nulls an unparseable date instead of rejecting it (200, value lost)."""
    try:
        return date.fromisoformat(str(raw)).isoformat() if raw not in (None, "") else None
    except ValueError:
        return None


def _lenient_integer(raw: Any) -> int | None:
    """Rails' integer cast: a number or numeric string, else nil (PCO answers 200 with the field nulled)."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, (int, float)):
        return int(raw)
    text = str(raw).strip()
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


def _gender(raw: Any) -> str | None | bool:
    """PCO's default gender options; False when the value is not one of them."""
    if raw in (None, ""):
        return None
    value = str(raw).strip().lower()
    if value in ("m", "male"):
        return "Male"
    if value in ("f", "female"):
        return "Female"
    return False


def derive_phone_fields(number: str, default_region: str) -> dict[str, Any]:
    """PCO's server-derived phone fields (libphonenumber): e164, national, international, country_code."""
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException:
        return {"e164": None, "national": None, "international": None, "country_code": default_region}
    if not phonenumbers.is_possible_number(parsed):
        return {"e164": None, "national": None, "international": None, "country_code": default_region}
    region = phonenumbers.region_code_for_number(parsed) or default_region
    return {"e164": phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
            "national": phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
            "international": phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
            "country_code": region}

"""The synthetic church: deterministic, shaped like live PCO, internally consistent, and its
expected matches follow the matching rules stated in pco_sandbox.seed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import phonenumbers
import pytest

from pco_pipeline.demo_data import DEFAULT_NOW, LOCAL_TABLES, MATCH_KINDS, generate_church
from pco_sandbox.seed_support import phone_number_attributes

GOLDEN = Path(__file__).parents[2] / "shared" / "pco_golden"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")
REASONS = {
    "pco_id": {"pco_id", "pco_id_merged"},
    "email": {"email", "email_case_whitespace"},
    "name_birthdate": {"name_birthdate", "name_birthdate_case_whitespace", "pco_duplicate_earliest_created"},
    "local_only": {"local_only", "new_in_linked_family"},
    "near_miss": {"same_name_different_birthdate", "same_name_no_birthdate", "pco_has_no_birthdate",
                  "nickname_as_first_name", "accents_differ", "similar_email_other_domain",
                  "email_subaddress_or_dots"},
    "ambiguous": {"email_shared_same_first_name", "local_duplicate_name_birthdate"},
}


@pytest.fixture(scope="module")
def church():
    return generate_church(people=2000, seed=1)


def digest(church) -> str:
    payload = json.dumps({"pco": church.pco, "local": church.local,
                          "expected": [m.__repr__() for m in church.expected_matches]},
                         sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


# --- determinism -------------------------------------------------------------------------------


def test_same_arguments_give_identical_output_even_in_another_process():
    here = digest(generate_church(people=300, seed=7))
    assert digest(generate_church(people=300, seed=7)) == here
    code = ("from pco_pipeline_tests.test_seed import digest; from pco_pipeline.demo_data import generate_church; "
            "print(digest(generate_church(people=300, seed=7)))")
    # another string-hash seed: nothing may depend on Python's per-process hashing
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED="12345"),
                         cwd=Path(__file__).parents[1], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == here


def test_seed_and_now_change_the_output():
    base = digest(generate_church(people=300, seed=7))
    assert digest(generate_church(people=300, seed=8)) != base
    later = generate_church(people=300, seed=7, now=datetime.fromisoformat("2027-03-01T12:00:00+00:00"))
    assert digest(later) != base
    assert max(p["attributes"]["created_at"] for p in later.pco["people/people"]) > "2026-11-01"


def test_tiny_and_invalid_sizes():
    tiny = generate_church(people=1, seed=3)
    assert len(tiny.pco["people/people"]) == 1
    with pytest.raises(ValueError, match="at least 1"):
        generate_church(people=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_church(people=10, now=datetime(2026, 1, 1))


# --- shape -------------------------------------------------------------------------------------


def golden_resources() -> dict[str, list[dict]]:
    if not GOLDEN.is_dir():
        pytest.skip(f"live recordings not found at {GOLDEN} (the shared folder is absent)")
    by_type = defaultdict(list)
    for path in sorted(GOLDEN.glob("*.json")):
        body = json.loads(path.read_text()).get("response", {}).get("body")
        if not isinstance(body, dict):
            continue
        data = body.get("data") or []
        for resource in (data if isinstance(data, list) else [data]) + body.get("included", []):
            if isinstance(resource, dict) and "attributes" in resource:
                by_type[resource["type"]].append(resource)
    return by_type


# Attributes the recordings only ever show as null, with the type the reference gives them.
TYPES_BY_REFERENCE = {
    ("Person", "anniversary"): str, ("Person", "graduation_year"): int, ("Person", "medical_notes"): str,
    ("Person", "remote_id"): int, ("Person", "passed_background_check"): bool,
    ("Address", "street_line_2"): str,
}
# Attributes the recordings never show null that may be null here, with why.
NULLABLE_HERE = {
    ("PhoneNumber", "e164"), ("PhoneNumber", "national"), ("PhoneNumber", "international"),  # not a possible number
}


@pytest.mark.parametrize("resource_type,key", [("Person", "people/people"), ("Email", "people/emails"),
                                               ("PhoneNumber", "people/phone_numbers"),
                                               ("Address", "people/addresses"), ("Household", "people/households")])
def test_attributes_match_the_live_recordings(church, resource_type, key):
    recorded = golden_resources()[resource_type]
    assert recorded, f"no {resource_type} in the recordings"
    recorded_types = defaultdict(set)
    for resource in recorded:
        for name, value in resource["attributes"].items():
            recorded_types[name].add(type(value))
    ours = church.pco[key]
    assert ours
    for resource in ours:
        assert resource["type"] == resource_type
        assert set(resource["attributes"]) == set(recorded_types), resource["id"]
        assert re.fullmatch(r"[1-9]\d*", resource["id"])
    for name, seen in recorded_types.items():
        allowed = set(seen)
        if (resource_type, name) in TYPES_BY_REFERENCE:
            allowed.add(TYPES_BY_REFERENCE[(resource_type, name)])
        if (resource_type, name) in NULLABLE_HERE:
            allowed.add(type(None))
        used = {type(r["attributes"][name]) for r in ours}
        assert used <= allowed, f"{resource_type}.{name}: {used} vs recorded {seen}"


def test_relationships_without_include_are_as_live(church):
    recorded = golden_resources()
    plain_person = next(r for r in recorded["Person"] if set(r["relationships"]) == {"primary_campus"})
    assert set(church.pco["people/people"][0]["relationships"]) == set(plain_person["relationships"])
    for key, resource_type in (("people/emails", "Email"), ("people/phone_numbers", "PhoneNumber"),
                               ("people/addresses", "Address"), ("people/households", "Household")):
        expected = {name for r in recorded[resource_type] for name in r["relationships"]}
        assert {name for r in church.pco[key] for name in r["relationships"]} == expected


def test_every_collection_is_present_in_id_order(church):
    for key in ("people/people", "people/emails", "people/phone_numbers", "people/addresses", "people/households",
                "people/household_memberships", "people/person_mergers", "people/campuses", "groups/groups",
                "groups/group_types", "groups/memberships", "check-ins/events", "check-ins/event_times",
                "check-ins/locations", "check-ins/stations", "check-ins/labels", "check-ins/check_ins",
                "check-ins/headcounts", "calendar/events", "calendar/event_instances"):
        rows = church.pco[key]
        assert rows, key
        ids = [int(r["id"]) for r in rows]
        assert ids == sorted(set(ids)), key
        assert all(set(r) == {"type", "id", "attributes", "relationships"} for r in rows), key


def test_groups_have_no_updated_at_and_memberships_no_timestamps(church):
    for group in church.pco["groups/groups"]:
        assert "updated_at" not in group["attributes"] and "created_at" in group["attributes"]
        assert group["attributes"]["memberships_count"] == sum(
            1 for m in church.pco["groups/memberships"] if m["relationships"]["group"]["data"]["id"] == group["id"])
    for membership in church.pco["groups/memberships"]:
        assert set(membership["attributes"]) == {"joined_at", "role"}
        assert membership["attributes"]["role"] in ("leader", "member")


def test_times_are_utc_seconds_and_before_now(church):
    now = DEFAULT_NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    today = DEFAULT_NOW.date().isoformat()
    future_allowed = {("calendar/event_instances", k) for k in ("starts_at", "ends_at", "published_starts_at",
                                                                "published_ends_at")}
    checked = 0
    for key, rows in church.pco.items():
        for r in rows:
            a = r["attributes"]
            for name, value in a.items():
                if not isinstance(value, str) or not (name.endswith("_at") or name in ("birthdate", "anniversary")):
                    continue
                assert TIMESTAMP.match(value) or DAY.match(value), (key, name, value)
                if (key, name) in future_allowed:
                    continue
                assert value < (today if DAY.match(value) else now), (key, r["id"], name, value)
                checked += 1
            if a.get("created_at") and a.get("updated_at"):
                assert a["created_at"] <= a["updated_at"], (key, r["id"])
    assert checked > 10_000
    instances = church.pco["calendar/event_instances"]
    assert any(i["attributes"]["starts_at"] > now for i in instances)
    assert any(i["attributes"]["starts_at"] < now for i in instances)


# --- consistency -------------------------------------------------------------------------------


def collection_of(key: str, resource_type: str, church) -> str:
    """The collection a relationship of a resource in `key` points into (Person is People's)."""
    if resource_type == "Person":
        return "people/people"
    app = key.split("/")[0]
    matches = [k for k, rows in church.pco.items() if k.startswith(app + "/") and rows
               and rows[0]["type"] == resource_type]
    assert len(matches) == 1, (key, resource_type, matches)
    return matches[0]


def test_every_relationship_points_at_an_existing_resource(church):
    ids = {key: {r["id"] for r in rows} for key, rows in church.pco.items()}
    removed = {m["attributes"]["person_to_remove_id"] for m in church.pco["people/person_mergers"]}
    assert removed and not removed & ids["people/people"]
    checked = 0
    for key, rows in church.pco.items():
        for r in rows:
            for name, rel in r["relationships"].items():
                data = rel["data"]
                for ref in data if isinstance(data, list) else ([data] if data else []):
                    if ref["type"] == "Organization":
                        assert ref["id"] == church.organization["id"]
                        continue
                    if key == "people/person_mergers" and name == "person_to_remove":
                        assert ref["id"] in removed
                        continue
                    assert ref["id"] in ids[collection_of(key, ref["type"], church)], (key, r["id"], name, ref)
                    checked += 1
    assert checked > 20_000


def test_households_people_match_their_memberships(church):
    people = {p["id"]: p for p in church.pco["people/people"]}
    members = defaultdict(list)
    for m in church.pco["people/household_memberships"]:
        members[m["relationships"]["household"]["data"]["id"]].append(m)
        assert m["attributes"]["person_name"] == people[m["relationships"]["person"]["data"]["id"]]["attributes"]["name"]
    for h in church.pco["people/households"]:
        listed = [ref["id"] for ref in h["relationships"]["people"]["data"]]
        assert listed == [m["relationships"]["person"]["data"]["id"] for m in members[h["id"]]]
        a = h["attributes"]
        assert a["member_count"] == len(listed)
        contact = h["relationships"]["primary_contact"]["data"]["id"]
        assert contact == a["primary_contact_id"] and contact in listed
        assert a["primary_contact_name"] == people[contact]["attributes"]["name"]


def test_check_in_counts_add_up(church):
    per_time = Counter()
    for c in church.pco["check-ins/check_ins"]:
        for ref in c["relationships"]["event_times"]["data"]:
            per_time[(ref["id"], c["attributes"]["kind"])] += 1
        if c["attributes"]["one_time_guest"]:
            assert c["relationships"]["person"]["data"] is None
    headcounts = Counter()
    for h in church.pco["check-ins/headcounts"]:
        headcounts[h["relationships"]["event_time"]["data"]["id"]] += h["attributes"]["total"]
    for t in church.pco["check-ins/event_times"]:
        a = t["attributes"]
        assert a["regular_count"] == per_time[(t["id"], "Regular")]
        assert a["guest_count"] == per_time[(t["id"], "Guest")]
        assert a["volunteer_count"] == per_time[(t["id"], "Volunteer")]
        assert a["total_count"] == a["regular_count"] + a["guest_count"] + a["volunteer_count"] + headcounts[t["id"]]


def test_phone_formats_are_libphonenumbers(church):
    for phone in church.pco["people/phone_numbers"]:
        a = phone["attributes"]
        derived = phone_number_attributes(a["number"], a["country_code"])
        assert {k: a[k] for k in derived} == derived, a["number"]


def test_people_look_like_a_real_congregation(church):
    people = [p["attributes"] for p in church.pco["people/people"]]
    n = len(people)
    assert n == 2000
    children = [p for p in people if p["child"]]
    assert 0.18 < len(children) / n < 0.4
    graded = [p for p in people if p["grade"] is not None]
    assert {p["grade"] for p in graded} == set(range(-1, 13))
    assert all(p["child"] and p["graduation_year"] for p in graded)
    inactive = [p for p in people if p["status"] == "inactive"]
    assert 0.02 < len(inactive) / n < 0.1 and all(p["inactivated_at"] for p in inactive)
    assert all(p["inactivated_at"] is None for p in people if p["status"] == "active")
    assert sum(p["birthdate"] is None for p in people) / n > 0.1
    names = [p["first_name"] + p["last_name"] for p in people]
    assert sum(any(unicodedata.category(ch) == "Ll" and not ch.isascii() for ch in s) for s in names) > n * 0.05
    assert any("'" in s for s in names) and any("-" in s for s in names) and any(" " in p["last_name"] for p in people)
    assert all(p["name"] == f"{p['first_name']} {p['last_name']}" for p in people)
    kinds = Counter(len(h["relationships"]["people"]["data"]) for h in church.pco["people/households"])
    assert kinds[1] and kinds[2] and sum(v for k, v in kinds.items() if k >= 4)
    in_two = Counter(m["relationships"]["person"]["data"]["id"] for m in church.pco["people/household_memberships"])
    assert any(count == 2 for count in in_two.values())  # children of separated parents
    assert any(m["attributes"]["pending"] for m in church.pco["people/household_memberships"])


def test_contact_data_has_the_usual_mess(church):
    emails = church.pco["people/emails"]
    owners = defaultdict(set)
    for e in emails:
        owners[e["attributes"]["address"].strip().casefold()].add(e["relationships"]["person"]["data"]["id"])
        assert e["attributes"]["address"].split("@")[1].casefold() in ("example.org", "example.com", "example.net")
    assert sum(len(o) > 1 for o in owners.values()) >= 10          # family / duplicate addresses
    assert any(e["attributes"]["address"] != e["attributes"]["address"].lower() for e in emails)
    assert any(e["attributes"]["blocked"] for e in emails)
    with_email = {e["relationships"]["person"]["data"]["id"] for e in emails}
    assert 0.45 < len(with_email) / 2000 < 0.8
    numbers = [p["attributes"] for p in church.pco["people/phone_numbers"]]
    texts = [a["number"] for a in numbers]
    for pattern in (r"^\(\d{3}\) \d{3}-\d{4}$", r"^\d{3}\.\d{3}\.\d{4}$", r"^\+1 \d{3} \d{3} \d{4}$",
                    r"^\d{3}-\d{3}-\d{4}$", r"ext\.? \d+$|x\d+$"):
        assert any(re.search(pattern, t) for t in texts), pattern
    valid = [phonenumbers.is_valid_number(phonenumbers.parse(a["number"], a["country_code"]))
             for a in numbers if a["e164"]]
    assert 0.01 < 1 - sum(valid) / len(numbers) < 0.08   # a few broken numbers, not many
    assert any(a["e164"] is None for a in numbers)
    assert any(a["country_code"] == "GB" for a in numbers)
    assert Counter(e164 for e164 in (a["e164"] for a in numbers) if e164).most_common(1)[0][1] >= 2  # shared lines
    primaries = Counter(p["relationships"]["person"]["data"]["id"] for p in church.pco["people/phone_numbers"]
                        if p["attributes"]["primary"])
    assert set(primaries.values()) == {1}


# --- the local dataset and the expected matches --------------------------------------------------


def test_local_rows_reference_rows_that_exist(church):
    local = church.local
    assert set(local) == set(LOCAL_TABLES)
    ids = {t: {r["id"] for r in rows} for t, rows in local.items() if t != "family_members"}
    for table, rows in ids.items():
        assert len(rows) == len(local[table]), f"{table} ids repeat"
    refs = {"person_emails": [("person_id", "people")], "person_phones": [("person_id", "people")],
            "family_members": [("family_id", "families"), ("person_id", "people")],
            "relationships": [("person_id", "people"), ("related_person_id", "people")],
            "authorized_pickups": [("child_id", "people"), ("pickup_person_id", "people")],
            "church_group": [("parent_id", "church_group")],
            "group_membership": [("group_id", "church_group"), ("person_id", "people")],
            "locations": [("parent_id", "locations")],
            "checkins": [("person_id", "people"), ("event_id", "events"), ("location_id", "locations")]}
    for table, columns in refs.items():
        assert local[table], table
        for row in local[table]:
            for column, target in columns:
                assert row[column] is None or row[column] in ids[target], (table, row)
    assert all(r["source"] == "local" and r["pco_id"] is None for r in local["checkins"])
    groups = {g["id"]: g for g in local["church_group"]}
    assert {g["level"] for g in groups.values()} == {1, 2, 3}
    assert all((g["level"] == 1) == (g["parent_id"] is None) for g in groups.values())
    assert all(groups[g["parent_id"]]["level"] == g["level"] - 1 for g in groups.values() if g["parent_id"])
    pco_groups = {g["id"] for g in church.pco["groups/groups"]}
    assert any(g["pco_id"] in pco_groups for g in groups.values())
    assert any(g["pco_id"] is None and g["level"] == 3 for g in groups.values())
    pco_memberships = {m["id"] for m in church.pco["groups/memberships"]}
    memberships = local["group_membership"]
    assert any(m["pco_id"] in pco_memberships for m in memberships)
    assert any(m["pco_id"] is None and groups[m["group_id"]]["pco_id"] for m in memberships)  # to push
    people = local["people"]
    assert any(p["allergies"] for p in people) and any(p["photo_url"] for p in people)
    assert any(p["is_verified"] for p in people)
    assert any(r["pickup_name"] and r["pickup_person_id"] is None for r in local["authorized_pickups"])
    assert {r["kind"] for r in local["relationships"]} >= {"parent", "sibling", "spouse"}


def reference_matcher(church) -> dict[int, tuple]:
    """An independent implementation of the rules in seed.py's docstring: local person id ->
    ("linked", step, pco id) | ("ambiguous", frozenset of pco ids) | ("none",)."""
    pco_people = {p["id"]: p["attributes"] for p in church.pco["people/people"]}
    kept = {m["attributes"]["person_to_remove_id"]: m["attributes"]["person_to_keep_id"]
            for m in church.pco["people/person_mergers"]}

    def resolve(pco_id):
        while pco_id in kept:
            pco_id = kept[pco_id]
        return pco_id if pco_id in pco_people else None

    def norm(text):
        return text.strip().casefold()

    def key(first, last, birthdate):
        return None if birthdate is None else (norm(first), norm(last), str(birthdate))

    owners = defaultdict(set)
    for e in church.pco["people/emails"]:
        owners[norm(e["attributes"]["address"])].add(e["relationships"]["person"]["data"]["id"])
    counting = defaultdict(set)
    for address, ids in owners.items():
        if len(ids) == 1:
            counting[next(iter(ids))].add(address)
    local_people = {p["id"]: p for p in church.local["people"]}
    unlinked = {pid for pid, row in local_people.items() if row["pco_id"] is None}
    by_address = defaultdict(set)
    for e in church.local["person_emails"]:
        if e["person_id"] in unlinked:
            by_address[norm(e["address"])].add(e["person_id"])
    by_key = defaultdict(set)
    for pid in unlinked:
        row = local_people[pid]
        if row["birthdate"] is not None:
            by_key[key(row["first_name"], row["last_name"], row["birthdate"])].add(pid)

    result: dict[int, tuple] = {}
    decided = set()
    for row in local_people.values():
        if row["pco_id"] is not None:
            target = resolve(row["pco_id"])
            assert target is not None, f"local {row['id']} has a pco_id that leads nowhere"
            assert target not in decided, f"two local people resolve to PCO {target}"
            result[row["id"]] = ("linked", "pco_id", target)
            decided.add(target)
    named_by_ambiguous = defaultdict(set)

    def settle(claims, step):
        by_local = defaultdict(list)
        for pco_id, local_id in claims.items():
            by_local[local_id].append(pco_id)
        for local_id, pco_ids in by_local.items():
            winner = min(pco_ids, key=lambda p: (pco_people[p]["created_at"], int(p)))
            result[local_id] = ("linked", step, winner)
        decided.update(claims)

    claims = {}
    for pco_id in pco_people.keys() - decided:
        found = {l for a in counting[pco_id] for l in by_address[a]} - result.keys()
        if len(found) > 1:
            found = {l for l in found if norm(local_people[l]["first_name"]) == norm(pco_people[pco_id]["first_name"])}
            if len(found) > 1:
                decided.add(pco_id)
                for local_id in found:
                    named_by_ambiguous[local_id].add(pco_id)
        if len(found) == 1:
            claims[pco_id] = next(iter(found))
    settle(claims, "email")

    claims = {}
    for pco_id in pco_people.keys() - decided:
        a = pco_people[pco_id]
        found = by_key.get(key(a["first_name"], a["last_name"], a["birthdate"]), set()) - result.keys()
        if len(found) == 1:
            claims[pco_id] = next(iter(found))
        elif found:
            for local_id in found:
                named_by_ambiguous[local_id].add(pco_id)
    settle(claims, "name_birthdate")
    for local_id in local_people:
        if local_id not in result:
            result[local_id] = ("ambiguous", frozenset(named_by_ambiguous[local_id])) \
                if named_by_ambiguous[local_id] else ("none",)
    return result


def test_expected_matches_follow_the_matching_rules(church):
    expected = {m.local_person_id: m for m in church.expected_matches}
    assert len(expected) == len(church.expected_matches) == len(church.local["people"])
    assert set(expected) == {p["id"] for p in church.local["people"]}
    concluded = reference_matcher(church)
    for local_id, m in expected.items():
        assert m.kind in MATCH_KINDS and m.reason in REASONS[m.kind], m
        got = concluded[local_id]
        if m.kind in ("pco_id", "email", "name_birthdate"):
            assert got == ("linked", m.kind, m.pco_person_id), (m, got)
        elif m.kind == "ambiguous":
            assert m.pco_person_id is None and got == ("ambiguous", frozenset(m.candidates)), (m, got)
        else:
            assert m.pco_person_id is None and got == ("none",), (m, got)


def test_every_kind_and_reason_occurs_in_realistic_shares(church):
    kinds = Counter(m.kind for m in church.expected_matches)
    reasons = Counter(m.reason for m in church.expected_matches)
    assert reasons.keys() == set().union(*REASONS.values())
    n = len(church.expected_matches)
    assert 0.5 < kinds["pco_id"] / n < 0.75
    assert 0.04 < kinds["email"] / n < 0.15 and 0.08 < kinds["name_birthdate"] / n < 0.2
    assert 0.08 < kinds["local_only"] / n < 0.2
    assert kinds["near_miss"] >= 30 and kinds["ambiguous"] >= 20


def test_scenarios_are_what_their_reasons_say(church):
    pco = {p["id"]: p["attributes"] for p in church.pco["people/people"]}
    pco_emails = defaultdict(list)
    for e in church.pco["people/emails"]:
        pco_emails[e["relationships"]["person"]["data"]["id"]].append(e["attributes"]["address"])
    local = {p["id"]: p for p in church.local["people"]}
    local_emails = defaultdict(list)
    for e in church.local["person_emails"]:
        local_emails[e["person_id"]].append(e["address"])
        assert e["address_normalized"] == e["address"].strip().casefold()
    for m in church.expected_matches:
        row = local[m.local_person_id]
        target = pco.get(m.pco_person_id or m.resembles or (m.candidates[0] if m.candidates else ""), {})
        if m.reason == "email_case_whitespace":
            assert any(a not in pco_emails[m.pco_person_id] and a.strip().casefold() in
                       {x.casefold() for x in pco_emails[m.pco_person_id]} for a in local_emails[row["id"]])
        elif m.reason == "name_birthdate_case_whitespace":
            assert (row["first_name"], row["last_name"]) != (target["first_name"], target["last_name"])
        elif m.reason == "pco_id_merged":
            assert row["pco_id"] not in pco and m.pco_person_id in pco
        elif m.reason == "same_name_different_birthdate":
            assert row["last_name"] == target["last_name"] and str(row["birthdate"]) != target["birthdate"]
        elif m.reason == "accents_differ":
            assert row["first_name"] + row["last_name"] != target["first_name"] + target["last_name"]
            assert str(row["birthdate"]) == target["birthdate"]
        elif m.reason == "nickname_as_first_name":
            assert row["first_name"] == target["nickname"] and str(row["birthdate"]) == target["birthdate"]
        elif m.reason in ("similar_email_other_domain", "email_subaddress_or_dots"):
            theirs = {a.split("@")[0].casefold().replace(".", "") for a in pco_emails[m.resembles]}
            assert any(a.split("@")[0].casefold().replace(".", "").split("+")[0] in theirs
                       for a in local_emails[row["id"]])
        elif m.reason == "pco_duplicate_earliest_created":
            first, second = (pco[c] for c in m.candidates)
            assert m.candidates[0] == m.pco_person_id and first["created_at"] <= second["created_at"]
            assert first["birthdate"] == second["birthdate"] == str(row["birthdate"])
        elif m.reason == "email_shared_same_first_name":
            assert row["first_name"] == target["first_name"] and row["last_name"] == target["last_name"]


def test_local_people_are_real_dates_and_tz_aware_times(church):
    for row in church.local["people"]:
        assert row["birthdate"] is None or isinstance(row["birthdate"], date)
        assert row["created_at"].tzinfo is not None and row["created_at"] <= row["updated_at"] < DEFAULT_NOW

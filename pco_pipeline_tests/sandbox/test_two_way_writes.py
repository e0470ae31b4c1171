"""The writes two-way sync sends, answered as PCO answers them, with the webhooks PCO fires.

One row per request: method, path, body → status, the webhook events it fires (in order), and the
values PCO then shows. The write matrix follows PCO's reference (People 2025-03-20: person,
email, phone_number, address, household, household_membership; Groups 2023-07-10: a Group takes
PATCH only — name, group_type_id, schedule, tag_ids — and a Membership POST, PATCH (joined_at,
role) and DELETE): https://developer.planning.center/docs/#/apps/people/2025-03-20/vertices/person,
…/people/2025-03-20/vertices/household, …/groups/2023-07-10/vertices/group, …/groups/2023-07-10/vertices/membership.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from pco_pipeline_tests.sandbox.conftest import RECEIVER

STAMP = "2026-03-10T18:00:00Z"


def _body(type_: str, attributes: dict[str, Any] | None = None, **relationships: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "attributes": attributes or {}}
    if relationships:
        data["relationships"] = {name: {"data": ref} for name, ref in relationships.items()}
    return {"data": data}


@dataclass(frozen=True)
class Write:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None
    status: int
    events: tuple[str, ...] = ()
    shows: dict[str, Any] = field(default_factory=dict)   # GET path → {attribute: value} after the write
    error: str | None = None                               # the 422's detail, in PCO's words


P = "people.v2.events."
WRITES = [
    # --- people ---
    Write("last name corrected", "PATCH", "/people/v2/people/102", _body("Person", {"last_name": "Byron-King"}), 200,
          (P + "person.updated",), {"/people/v2/people/102": {"last_name": "Byron-King", "name": "william Byron-King",
                                                              "updated_at": STAMP}}),
    Write("every church field at once", "PATCH", "/people/v2/people/105", _body("Person", {
        "first_name": "Robert", "nickname": "Bob", "middle_name": "J", "gender": "M", "birthdate": "1970-02-03",
        "child": False, "grade": None, "membership": "Member"}), 200, (P + "person.updated",),
        {"/people/v2/people/105": {"first_name": "Robert", "gender": "Male", "birthdate": "1970-02-03",
                                   "membership": "Member", "nickname": "Bob"}}),
    Write("deactivation stamps inactivated_at", "PATCH", "/people/v2/people/101", _body("Person", {"status": "inactive"}),
          200, (P + "person.updated",), {"/people/v2/people/101": {"status": "inactive", "inactivated_at": STAMP}}),
    Write("reactivation clears inactivated_at", "PATCH", "/people/v2/people/104", _body("Person", {"status": "active"}),
          200, (P + "person.updated",), {"/people/v2/people/104": {"status": "active", "inactivated_at": None}}),
    Write("the same value again changes nothing and fires nothing", "PATCH", "/people/v2/people/101",
          _body("Person", {"first_name": "Ada", "status": "active"}), 200, (),
          {"/people/v2/people/101": {"updated_at": "2025-01-01T10:00:00Z"}}),
    Write("grade out of range", "PATCH", "/people/v2/people/103", _body("Person", {"grade": 13, "last_name": "Z"}), 422,
          error="grade must be between -1 and 12", shows={"/people/v2/people/103": {"grade": 8, "last_name": "Zola"}}),
    Write("unknown status", "PATCH", "/people/v2/people/103", _body("Person", {"status": "archived"}), 422,
          error="status is not included in the list"),
    Write("unknown gender", "PATCH", "/people/v2/people/103", _body("Person", {"gender": "Other"}), 422,
          error="gender is not included in the list"),
    Write("an attribute nobody may assign", "PATCH", "/people/v2/people/103", _body("Person", {"name": "X Y"}), 422,
          error="name cannot be assigned"),
    Write("a person deleted", "DELETE", "/people/v2/people/105", None, 204, (P + "person.destroyed",),
          {"/people/v2/emails/2004": {}}),
    Write("a person already gone", "DELETE", "/people/v2/people/999", None, 404),
    # --- emails ---
    Write("email added", "POST", "/people/v2/people/103/emails", _body("Email", {"address": "emile@zola.example",
                                                                                "location": "Home"}), 201,
          (P + "email.created", P + "person.updated"), {"/people/v2/people/103": {"updated_at": STAMP}}),
    Write("email corrected", "PATCH", "/people/v2/emails/2001", _body("Email", {"address": "ada@lovelace.example"}),
          200, (P + "email.updated", P + "person.updated"), {"/people/v2/emails/2001": {
              "address": "ada@lovelace.example", "updated_at": STAMP}}),
    Write("email not an address", "PATCH", "/people/v2/emails/2001", _body("Email", {"address": "nope"}), 422,
          error="address is invalid", shows={"/people/v2/emails/2001": {"address": "ada@byron.example"}}),
    Write("email removed", "DELETE", "/people/v2/emails/2003", None, 204,
          (P + "email.destroyed", P + "person.updated")),
    Write("email already removed", "DELETE", "/people/v2/emails/2999", None, 404),
    # --- phone numbers ---
    Write("phone added", "POST", "/people/v2/people/102/phone_numbers", _body("PhoneNumber", {
        "number": "(217) 555-0199", "location": "Mobile"}), 201, (P + "phone_number.created", P + "person.updated")),
    Write("phone corrected", "PATCH", "/people/v2/phone_numbers/3001", _body("PhoneNumber", {"number": "217-555-0100"}),
          200, (P + "phone_number.updated", P + "person.updated"),
          {"/people/v2/phone_numbers/3001": {"e164": "+12175550100", "number": "217-555-0100"}}),
    Write("phone blank", "PATCH", "/people/v2/phone_numbers/3001", _body("PhoneNumber", {"number": " "}), 422,
          error="number can't be blank"),
    Write("phone removed", "DELETE", "/people/v2/phone_numbers/3003", None, 204,
          (P + "phone_number.destroyed", P + "person.updated")),
    # --- addresses ---
    Write("address added", "POST", "/people/v2/people/102/addresses", _body("Address", {
        "street_line_1": "2 Engine St", "city": "Leeds", "zip": "LS1", "country_code": "GB", "location": "Home"}), 201,
        (P + "address.created", P + "person.updated")),
    Write("address moved", "PATCH", "/people/v2/addresses/4001", _body("Address", {"street_line_1": "3 Difference Rd"}),
          200, (P + "address.updated", P + "person.updated"),
          {"/people/v2/addresses/4001": {"street_line_1": "3 Difference Rd", "city": "London"}}),
    Write("address removed", "DELETE", "/people/v2/addresses/4001", None, 204,
          (P + "address.destroyed", P + "person.updated")),
    # --- households ---
    Write("household renamed", "PATCH", "/people/v2/households/5001", _body("Household", {"name": "Lovelace"}), 200,
          (P + "household.updated",), {"/people/v2/households/5001": {"name": "Lovelace", "updated_at": STAMP}}),
    Write("primary contact changed", "PATCH", "/people/v2/households/5001",
          _body("Household", {"primary_contact_id": "102"}), 200, (P + "household.updated",),
          {"/people/v2/households/5001": {"primary_contact_id": "102", "primary_contact_name": "william byron"}}),
    Write("primary contact outside the household", "PATCH", "/people/v2/households/5001",
          _body("Household", {"primary_contact_id": "103"}), 422,
          error="primary_contact_id must be one of the household's people"),
    # Household membership changes fire no webhook and move no updated_at (ISS#1253).
    Write("member added", "POST", "/people/v2/households/5001/household_memberships",
          _body("HouseholdMembership", {"pending": False}, person={"type": "Person", "id": "103"}), 201, (),
          {"/people/v2/households/5001": {"member_count": 3, "updated_at": "2025-01-03T10:00:00Z"}}),
    Write("member removed", "DELETE", "/people/v2/households/5002/household_memberships/6001", None, 204, (),
          {"/people/v2/households/5002": {"member_count": 1}}),
    Write("memberships live only under a household", "DELETE", "/people/v2/household_memberships/6001", None, 404),
    # --- groups ---
    Write("membership role changed", "PATCH", "/groups/v2/groups/811/memberships/821",
          _body("Membership", {"role": "member"}), 200, ("groups.v2.events.membership.updated",),
          {"/groups/v2/groups/811/memberships/821": {"role": "member"}}),
    Write("membership role unknown", "PATCH", "/groups/v2/groups/811/memberships/821",
          _body("Membership", {"role": "boss"}), 422, error="role is invalid"),
    Write("membership person is not assignable on update", "PATCH", "/groups/v2/groups/811/memberships/821",
          _body("Membership", {"person_id": "102"}), 422, error="person_id cannot be assigned"),
    Write("membership removed", "DELETE", "/groups/v2/groups/811/memberships/821", None, 204,
          ("groups.v2.events.membership.destroyed",), {"/groups/v2/groups/811": {"memberships_count": 0}}),
    Write("group renamed", "PATCH", "/groups/v2/groups/811", _body("Group", {"name": "Tuesday Bible Study",
                                                                           "schedule": "Tuesdays 7pm"}), 200,
          ("groups.v2.events.group.updated",), {"/groups/v2/groups/811": {"name": "Tuesday Bible Study",
                                                                          "schedule": "Tuesdays 7pm"}}),
    Write("group description is not assignable", "PATCH", "/groups/v2/groups/811",
          _body("Group", {"description": "x"}), 422, error="description cannot be assigned"),
    Write("groups cannot be created", "POST", "/groups/v2/groups", _body("Group", {"name": "New"}), 405),
    Write("groups cannot be deleted", "DELETE", "/groups/v2/groups/811", None, 405),
]


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_write_is_answered_as_pco_answers_it(hooked, receiver, write: Write):
    hooked.webhooks.subscribe_all(RECEIVER, prefix="")
    with hooked.client() as client:
        response = client.request(write.method, write.path, json=write.body)
        assert response.status_code == write.status, response.text
        if write.status == 204:
            assert response.content == b""
        elif write.status >= 400:
            error = response.json()["errors"][0]
            assert error["status"] == str(write.status) and error["title"]
            if write.error is not None:
                assert error["detail"] == write.error
                assert error["source"]["pointer"].startswith("/data/")
        else:
            assert write.body is not None and response.json()["data"]["type"] == write.body["data"]["type"]
        for path, values in write.shows.items():
            shown = client.get(path)
            if write.method == "DELETE" and not values:
                assert shown.status_code == 404     # removed with what it owned
                continue
            attributes = shown.json()["data"]["attributes"]
            assert {name: attributes[name] for name in values} == values
    assert hooked.webhooks.wait_idle(5)
    fired = [d["attributes"]["name"] for d in receiver.deliveries()]
    assert tuple(fired) == write.events


def test_a_patch_echo_carries_what_was_written(hooked, receiver):
    """The person.updated a PATCH fires carries the new values: what the push ledger recognises as its own."""
    hooked.webhooks.subscribe_all(RECEIVER, prefix="")
    with hooked.client() as client:
        client.patch("/people/v2/people/102", json=_body("Person", {"last_name": "Byron-King"}))
    assert hooked.webhooks.wait_idle(5)
    payload = json.loads(receiver.deliveries()[0]["attributes"]["payload"])
    assert payload["data"]["id"] == "102" and payload["data"]["attributes"]["last_name"] == "Byron-King"
    assert payload["data"]["attributes"]["updated_at"] == STAMP

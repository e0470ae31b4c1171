"""Writes per PCO's write matrix: statuses, validation quirks, derived fields, updated_at rules."""

from __future__ import annotations

import pytest

NOW_STAMP = "2026-03-10T18:00:00Z"


def post(client, path, type_, attributes=None, relationships=None):
    data = {"type": type_, "attributes": attributes or {}}
    if relationships:
        data["relationships"] = relationships
    return client.post(path, json={"data": data})


def patch(client, path, type_, attributes):
    return client.patch(path, json={"data": {"type": type_, "attributes": attributes}})


def person_updated_at(client, person_id):
    return client.get(f"/people/v2/people/{person_id}").json()["data"]["attributes"]["updated_at"]


# --- people --------------------------------------------------------------------------------------

def test_create_person_returns_201_with_the_full_resource(client):
    response = post(client, "/people/v2/people", "Person", {"first_name": "Grace", "last_name": "Hopper",
                                                           "birthdate": "1906-12-09", "status": "inactive"})
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["id"] == "106"  # the next numeric id
    assert data["attributes"]["name"] == "Grace Hopper"
    assert data["attributes"]["created_at"] == data["attributes"]["updated_at"] == NOW_STAMP
    assert data["attributes"]["inactivated_at"] == NOW_STAMP
    assert data["links"]["emails"].endswith("/people/v2/people/106/emails")
    assert client.get("/people/v2/people/106").status_code == 200


def test_forbidden_attribute_is_a_422_in_pcos_shape(client):
    response = post(client, "/people/v2/people", "Person", {"first_name": "X", "bogus": 1})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["status"], error["title"], error["detail"]) == ("422", "Forbidden Attribute", "bogus cannot be assigned")
    assert error["source"] == {"pointer": "/data/attributes/bogus"}


def test_person_needs_a_name(client):
    assert post(client, "/people/v2/people", "Person", {"gender": "F"}).status_code == 422


def test_patch_bad_date_or_grade_answers_200_and_nulls_the_field(client, sandbox):
    sandbox.clock.advance(60)
    response = patch(client, "/people/v2/people/103", "Person", {"birthdate": "not-a-date", "grade": "not-a-number"})
    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["birthdate"] is None and attributes["grade"] is None
    assert attributes["updated_at"] == "2026-03-10T18:01:00Z"


def test_out_of_range_grade_is_a_422_and_changes_nothing(client):
    response = patch(client, "/people/v2/people/103", "Person", {"grade": 13, "first_name": "Zed"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["detail"] == "grade must be between -1 and 12"
    assert client.get("/people/v2/people/103").json()["data"]["attributes"]["first_name"] == "Émile"


def test_medical_notes_and_no_op_patches_do_not_move_updated_at(client, sandbox):
    before = person_updated_at(client, "101")
    sandbox.clock.advance(60)
    assert patch(client, "/people/v2/people/101", "Person", {"medical_notes": "peanuts"}).status_code == 200
    assert patch(client, "/people/v2/people/101", "Person", {"first_name": "Ada"}).status_code == 200
    assert person_updated_at(client, "101") == before
    assert client.get("/people/v2/people/101").json()["data"]["attributes"]["medical_notes"] == "peanuts"


def test_delete_person_is_204_and_takes_their_contacts(client):
    assert client.delete("/people/v2/people/105").status_code == 204
    assert client.get("/people/v2/people/105").status_code == 404
    assert client.get("/people/v2/emails/2004").status_code == 404
    household = client.get("/people/v2/households/5002").json()["data"]
    assert household["attributes"]["member_count"] == 1


# --- contacts ------------------------------------------------------------------------------------

def test_email_is_created_under_a_person_and_bumps_the_person(client, sandbox):
    sandbox.clock.advance(120)
    response = post(client, "/people/v2/people/102/emails", "Email", {"address": "w@new.example", "primary": True})
    assert response.status_code == 201
    email = response.json()["data"]
    assert email["relationships"]["person"]["data"] == {"id": "102", "type": "Person"}
    assert person_updated_at(client, "102") == "2026-03-10T18:02:00Z"
    # The old primary is demoted without its own updated_at moving (measured live).
    demoted = client.get("/people/v2/emails/2002").json()["data"]["attributes"]
    assert demoted["primary"] is False and demoted["updated_at"] == "2025-01-02T10:00:00Z"


def test_emails_cannot_be_created_at_the_top_level(client):
    assert post(client, "/people/v2/emails", "Email", {"address": "a@b.example"}).status_code == 405


def test_invalid_email_address_is_a_422(client):
    response = post(client, "/people/v2/people/101/emails", "Email", {"address": "not an email"})
    assert response.status_code == 422 and "address" in response.json()["errors"][0]["detail"]


def test_phone_numbers_get_server_derived_formats(client):
    response = post(client, "/people/v2/people/103/phone_numbers", "PhoneNumber",
                    {"number": "217.555.0142", "location": "Mobile"})
    attributes = response.json()["data"]["attributes"]
    assert (attributes["e164"], attributes["national"], attributes["international"], attributes["country_code"]) == \
        ("+12175550142", "(217) 555-0142", "+1 217-555-0142", "US")
    assert attributes["number"] == "217.555.0142" and attributes["primary"] is True


def test_address_patch_bumps_address_and_person(client, sandbox):
    sandbox.clock.advance(5)
    response = patch(client, "/people/v2/addresses/4001", "Address", {"city": "Paris", "country_code": "FR"})
    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["country_name"] == "France" and attributes["updated_at"] == "2026-03-10T18:00:05Z"
    assert person_updated_at(client, "101") == "2026-03-10T18:00:05Z"


# --- households ----------------------------------------------------------------------------------

def test_household_is_created_with_people_and_primary_contact(client):
    relationships = {"people": {"data": [{"type": "Person", "id": "103"}, {"type": "Person", "id": "104"}]},
                     "primary_contact": {"data": {"type": "Person", "id": "104"}}}
    response = post(client, "/people/v2/households", "Household", {"name": "Zola-Adams"}, relationships)
    assert response.status_code == 201
    household = response.json()["data"]
    assert household["attributes"]["member_count"] == 2
    assert household["attributes"]["primary_contact_name"] == "Chloé Adams"
    memberships = client.get(f"/people/v2/households/{household['id']}/household_memberships").json()["data"]
    assert [m["attributes"]["pending"] for m in memberships] == [False, False]


def test_household_without_relationships_is_a_422(client):
    assert post(client, "/people/v2/households", "Household", {"name": "Nobody"}).status_code == 422


def test_membership_changes_bump_neither_person_nor_household(client, sandbox):
    household_before = client.get("/people/v2/households/5001").json()["data"]["attributes"]["updated_at"]
    person_before = person_updated_at(client, "103")
    sandbox.clock.advance(300)
    response = post(client, "/people/v2/households/5001/household_memberships", "HouseholdMembership", {},
                    {"person": {"data": {"type": "Person", "id": "103"}}})
    assert response.status_code == 201
    assert response.json()["data"]["attributes"]["pending"] is True  # unless told pending: false
    household = client.get("/people/v2/households/5001").json()["data"]
    assert household["attributes"]["member_count"] == 3
    assert household["attributes"]["updated_at"] == household_before
    assert person_updated_at(client, "103") == person_before
    duplicate = post(client, "/people/v2/households/5001/household_memberships", "HouseholdMembership",
                     {"pending": False}, {"person": {"data": {"type": "Person", "id": "103"}}})
    assert duplicate.status_code == 422
    membership_id = response.json()["data"]["id"]
    assert client.delete(f"/people/v2/households/5001/household_memberships/{membership_id}").status_code == 204
    assert client.get("/people/v2/households/5001").json()["data"]["attributes"]["member_count"] == 2


# --- groups and the read-only apps ---------------------------------------------------------------------

def test_group_memberships_are_writable_with_roles(client):
    created = post(client, "/groups/v2/groups/811/memberships", "Membership", {"person_id": "102", "role": "member"})
    assert created.status_code == 201
    membership_id = created.json()["data"]["id"]
    assert client.get("/groups/v2/groups/811").json()["data"]["attributes"]["memberships_count"] == 2
    assert patch(client, f"/groups/v2/groups/811/memberships/{membership_id}", "Membership",
                 {"role": "leader"}).json()["data"]["attributes"]["role"] == "leader"
    assert patch(client, f"/groups/v2/groups/811/memberships/{membership_id}", "Membership",
                 {"role": "boss"}).status_code == 422
    assert client.delete(f"/groups/v2/groups/811/memberships/{membership_id}").status_code == 204


@pytest.mark.parametrize("method,path,type_", [
    ("POST", "/groups/v2/groups", "Group"), ("DELETE", "/groups/v2/groups/811", "Group"),
    ("POST", "/check-ins/v2/check_ins", "CheckIn"), ("DELETE", "/check-ins/v2/check_ins/931", "CheckIn"),
    ("PATCH", "/calendar/v2/events/951", "Event"), ("POST", "/people/v2/campuses", "Campus")])
def test_read_only_resources_refuse_writes(client, method, path, type_):
    response = client.request(method, path, json={"data": {"type": type_, "attributes": {"name": "x"}}})
    assert response.status_code == 405
    assert response.json()["errors"][0]["status"] == "405"


# --- bad input -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("content,content_type,status", [
    (b'{"data": {"type": "Person", "attributes": {', "application/json", 400),
    (b'{"data": {"type": "Person", "attributes": {"first_name": "X"}}}', "text/plain", 400),
    (b'{"person": {"first_name": "X"}}', "application/json", 400),
    (b'{"data": [{"type": "Person"}]}', "application/json", 400),
    (b'', "application/json", 400),
    (b'{"data": {"type": "Song", "attributes": {"title": "X"}}}', "application/vnd.api+json", 422),
])
def test_bad_bodies_get_pco_error_documents(client, content, content_type, status):
    response = client.post("/people/v2/people", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["status"] == str(status) and error["detail"]


def test_missing_data_key_has_pcos_exact_message(client):
    response = client.post("/people/v2/people", json={"first_name": "X"})
    assert response.json()["errors"][0] == {
        "status": "400", "title": "Bad Request", "code": "invalid_resource_payload",
        "detail": "The payload given does not contain a 'data' key."}


def test_patch_with_a_different_id_is_refused(client):
    response = client.patch("/people/v2/people/101", json={"data": {"type": "Person", "id": "102",
                                                                    "attributes": {"first_name": "X"}}})
    assert response.status_code == 422

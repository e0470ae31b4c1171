"""Reads: paging, where, order, include, fieldsets, nested routes, versions and error documents."""

from __future__ import annotations

import uuid

import pytest

from pco_pipeline_tests.sandbox.conftest import many_people


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["data"]]


def people(client, **params) -> list[str]:
    return ids(client.get("/people/v2/people", params=params))


# --- paging --------------------------------------------------------------------------------------

@pytest.fixture
def crowd(sandbox):
    sandbox.load({"people/people": many_people(130)})
    return sandbox


def test_default_page_is_25_and_next_omits_per_page(crowd, client):
    body = client.get("/people/v2/people").json()
    assert len(body["data"]) == 25
    assert body["links"]["next"].endswith("/people/v2/people?offset=25")
    assert body["meta"]["total_count"] == 135 and body["meta"]["next"] == {"offset": 25}


def test_per_page_over_100_is_clamped_while_next_keeps_the_request(crowd, client):
    body = client.get("/people/v2/people", params={"per_page": 500}).json()
    assert len(body["data"]) == 100
    assert body["meta"]["next"] == {"offset": 100}
    assert body["links"]["next"].endswith("?offset=100&per_page=500")


def test_per_page_zero_returns_nothing_and_a_next_to_the_same_page(client):
    body = client.get("/people/v2/people", params={"per_page": 0}).json()
    assert body["data"] == [] and body["meta"]["next"] == {"offset": 0}
    assert body["links"]["next"].endswith("?offset=0&per_page=0")


def test_offset_past_the_end_is_empty_with_prev(client):
    body = client.get("/people/v2/people", params={"offset": 500, "per_page": 25}).json()
    assert body["data"] == [] and body["meta"]["total_count"] == 5
    assert body["meta"]["prev"] == {"offset": 475} and "next" not in body["links"]


def test_pages_walk_every_row_once_in_numeric_id_order(crowd, client):
    seen, offset = [], 0
    while True:
        body = client.get("/people/v2/people", params={"per_page": 40, "offset": offset}).json()
        seen += [row["id"] for row in body["data"]]
        if "next" not in body["links"]:
            break
        offset = body["meta"]["next"]["offset"]
    assert seen == sorted(seen, key=int) and len(seen) == len(set(seen)) == 135


def test_links_echo_the_query_sorted_and_form_encoded(client):
    body = client.get("/people/v2/people", params={"where[updated_at][gte]": "2025-01-01T00:00:00Z",
                                                   "per_page": 1, "include": "emails,phone_numbers"}).json()
    assert body["links"]["self"].endswith(
        "/people/v2/people?include=emails%2Cphone_numbers&per_page=1&where[updated_at][gte]=2025-01-01T00%3A00%3A00Z")


@pytest.mark.parametrize("params", [{"offset": -1}, {"per_page": -5}])
def test_negative_offset_or_per_page_is_a_400_saying_why(client, params):
    response = client.get("/people/v2/people", params=params)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["status"] == "400" and list(params)[0] in error["detail"]


# --- where ---------------------------------------------------------------------------------------

def test_equality_is_case_insensitive_and_percent_is_a_wildcard(client):
    assert people(client, **{"where[last_name]": "BYRON"}) == ["101", "102"]
    assert people(client, **{"where[first_name]": "ad%"}) == ["101"]
    assert people(client, **{"where[first_name]": "%e"}) == ["103", "104"]
    assert people(client, **{"where[last_name]": "%DAM%"}) == ["104", "105"]


def test_accents_fold_in_equality(client):
    assert people(client, **{"where[first_name]": "emile"}) == ["103"]


def test_typed_values_and_uncoercible_values(client):
    assert people(client, **{"where[child]": "true"}) == ["103", "104"]
    assert people(client, **{"where[grade]": "8"}) == ["103"]
    assert people(client, **{"where[remote_id]": "42"}) == ["101"]
    body = client.get("/people/v2/people", params={"where[grade]": "abc"}).json()
    assert body["data"] == [] and body["meta"]["total_count"] == 0


def test_date_operators_and_ranges(client):
    assert people(client, **{"where[birthdate][gte]": "2012-01-01", "where[birthdate][lt]": "2017-09-09"}) == ["103"]
    assert people(client, **{"where[updated_at][gt]": "2025-06-01T12:00:00Z"}) == ["103", "104"]
    assert people(client, **{"where[updated_at][gte]": "2025-06-01T12:00:00Z"}) == ["102", "103", "104", "105"]


def test_date_only_value_means_that_day_in_the_organization_time_zone(client):
    # 103 was created 2026-03-01T07:30Z, which is still 28 February in Los Angeles.
    assert people(client, **{"where[created_at]": "2026-02-28"}) == ["103"]
    assert people(client, **{"where[created_at]": "2026-03-01"}) == []
    assert people(client, **{"where[created_at][gt]": "2026-02-27"}) == ["103"]
    assert people(client, **{"where[created_at][gt]": "2026-02-28"}) == []


def test_unknown_and_nested_filters_and_params_are_ignored(client):
    everyone = people(client)
    assert people(client, **{"where[no_such_field]": "x"}) == everyone
    assert people(client, **{"where[emails][address]": "nobody@nowhere.invalid"}) == everyone
    assert people(client, bogus="1", **{"order": "no_such_field"}) == everyone


def test_search_name_is_a_word_prefix_on_names_but_not_middle_name(client):
    assert people(client, **{"where[search_name]": "ada"}) == ["101", "104", "105"]  # Ada; Adams
    assert people(client, **{"where[search_name]": "ada by"}) == ["101"]
    assert people(client, **{"where[search_name]": "addie"}) == ["101"]
    assert people(client, **{"where[search_name]": "yron"}) == []
    assert people(client, **{"where[search_name]": "augusta"}) == []
    assert people(client, **{"where[search_name]": "addie byron"}) == []


def test_search_name_or_email_matches_inside_addresses(client):
    assert people(client, **{"where[search_name_or_email]": "@byron.example"}) == ["101", "102"]


def test_phone_searches_suffix_exact_and_duplicates(client):
    assert people(client, **{"where[search_phone_number]": "1105"}) == ["101"]
    assert people(client, **{"where[search_phone_number]": "+15558411105"}) == []
    assert people(client, **{"where[search_phone_number_e164]": "+1 (555) 841-1105"}) == ["101"]
    # Bob has the same number twice, so he comes back twice (ISS#957).
    assert people(client, **{"where[search_phone_number]": "7771234"}) == ["105", "105"]


def test_filter_created_since_uses_the_sandbox_clock(client):
    assert people(client, filter="created_since", time="2026-02-01T00:00:00Z") == ["103"]


# --- order ---------------------------------------------------------------------------------------

def test_order_folds_case_and_breaks_ties_by_id_even_descending(client):
    assert people(client, order="last_name") == ["104", "105", "101", "102", "103"]
    assert people(client, order="-last_name") == ["103", "101", "102", "104", "105"]
    assert people(client, order="last_name,-first_name") == ["104", "105", "102", "101", "103"]


def test_nulls_sort_first_ascending_and_last_descending(client):
    assert people(client, order="grade")[:3] == ["101", "102", "105"]
    assert people(client, order="-grade") == ["103", "104", "101", "102", "105"]


# --- include and fieldsets -----------------------------------------------------------------------------

def test_include_adds_relationship_links_and_deduplicated_included(client):
    body = client.get("/people/v2/people", params={"include": "households,households", "per_page": 2}).json()
    first = body["data"][0]
    assert first["relationships"]["households"] == {
        "data": [{"id": "5001", "type": "Household"}],
        "links": {"related": "https://api.planningcenteronline.com/people/v2/people/101/households"}}
    assert [(r["type"], r["id"]) for r in body["included"]] == [("Household", "5001")]


def test_nested_include_reaches_the_second_level_and_hoists_it(client):
    body = client.get("/people/v2/people/101", params={"include": "households.people"}).json()
    included = [(r["type"], r["id"]) for r in body["included"]]
    assert included == [("Household", "5001"), ("Person", "102"), ("Person", "101")]
    assert body["data"]["relationships"]["people"] == {
        "data": [{"id": "102", "type": "Person"}, {"id": "101", "type": "Person"}], "links": {"related": None}}
    household = body["included"][0]
    assert household["relationships"]["people"]["links"]["related"].endswith("/households/5001/people")


def test_without_include_a_person_shows_only_primary_campus(client):
    body = client.get("/people/v2/people/101").json()
    assert body["data"]["relationships"] == {"primary_campus": {"data": {"id": "9001", "type": "Campus"}}}
    assert "included" not in body
    assert body["data"]["links"]["primary_campus"].endswith("/people/v2/campuses/9001")
    assert body["data"]["links"]["marital_status"] is None


def test_unknown_include_is_ignored(client):
    body = client.get("/people/v2/people", params={"include": "bogus", "per_page": 1}).json()
    assert "included" not in body and set(body["data"][0]["relationships"]) == {"primary_campus"}


def test_sparse_fieldsets_and_fields_only_attributes(client):
    body = client.get("/people/v2/people/101", params={"fields[Person]": "first_name,mfa_configured"}).json()
    assert body["data"]["attributes"] == {"first_name": "Ada", "mfa_configured": None}
    assert "relationships" not in body["data"]
    plain = client.get("/people/v2/people/101").json()["data"]["attributes"]
    assert "mfa_configured" not in plain and "first_name" in plain


# --- nested routes ---------------------------------------------------------------------------------

def test_nested_collections_carry_their_parent(client):
    body = client.get("/people/v2/people/102/emails").json()
    assert [row["id"] for row in body["data"]] == ["2002", "2003"]
    assert body["meta"]["parent"] == {"id": "102", "type": "Person"}
    assert body["links"]["self"].endswith("/people/v2/people/102/emails")


def test_household_memberships_only_under_a_household(client):
    assert client.get("/people/v2/household_memberships").status_code == 404
    body = client.get("/people/v2/households/5002/household_memberships").json()
    assert [row["id"] for row in body["data"]] == ["6001", "6002"]
    assert "household" not in body["data"][0]["relationships"]
    assert body["data"][0]["links"]["self"].endswith("/households/5002/household_memberships/6001")
    assert client.get("/people/v2/households/5001/household_memberships/6001").status_code == 404


def test_household_people_filter_non_pending(client):
    assert ids(client.get("/people/v2/households/5002/people")) == ["104", "105"]
    assert ids(client.get("/people/v2/households/5002/people", params={"filter": "non_pending"})) == ["105"]
    meta = client.get("/people/v2/households/5002/people").json()["meta"]
    assert meta["can_filter"] == ["without_deceased", "non_pending"]


def test_to_one_nested_reads_and_404_when_unset(client):
    assert client.get("/people/v2/people/101/primary_campus").json()["data"]["id"] == "9001"
    response = client.get("/people/v2/people/102/primary_campus")
    assert response.status_code == 404
    assert response.json() == {"errors": [{"status": "404", "title": "Not Found",
                                           "detail": "The resource you requested could not be found"}]}
    assert client.get("/people/v2/people/101/no_such_rel").status_code == 404


def test_organization_at_the_app_root(client, sandbox):
    body = client.get("/people/v2").json()
    assert body["data"]["type"] == "Organization" and body["data"]["id"] == sandbox.organization.id


# --- other apps --------------------------------------------------------------------------------------

def test_groups_memberships_nest_under_groups(client):
    body = client.get("/groups/v2/groups/811/memberships", params={"include": "person"}).json()
    assert [row["attributes"]["role"] for row in body["data"]] == ["leader"]
    assert body["included"][0]["id"] == "101"
    assert client.get("/groups/v2/memberships").status_code == 404
    assert ids(client.get("/groups/v2/groups", params={"where[archive_status]": "not_archived"})) == ["811"]
    assert ids(client.get("/groups/v2/group_types/801/groups")) == ["811", "812"]


def test_check_ins_reads(client):
    assert ids(client.get("/check-ins/v2/events/901/check_ins")) == ["931", "932"]
    assert ids(client.get("/check-ins/v2/check_ins", params={"filter": "checked_out"})) == ["932"]
    assert ids(client.get("/check-ins/v2/event_times/911/headcounts")) == ["921"]
    body = client.get("/check-ins/v2/check_ins/931", params={"include": "event"}).json()
    assert body["included"][0]["attributes"]["name"] == "Sunday Kids"


def test_calendar_reads_and_future_filter(client):
    assert ids(client.get("/calendar/v2/events/951/event_instances")) == ["961", "962"]
    assert ids(client.get("/calendar/v2/event_instances", params={"filter": "future"})) == ["961"]
    assert ids(client.get("/calendar/v2/event_instances", params={"order": "starts_at"})) == ["962", "961"]


# --- versions, headers, errors ------------------------------------------------------------------------

def test_version_header_is_echoed_and_picks_the_shape(client):
    response = client.get("/people/v2/addresses/4001", headers={"X-PCO-API-Version": "2020-01-01"})
    assert response.headers["x-pco-api-processed-as-version"] == "2019-10-10"
    attributes = response.json()["data"]["attributes"]
    assert attributes["street"] == "1 Analytical Way\nApt 2" and "street_line_1" not in attributes
    latest = client.get("/people/v2/addresses/4001")
    assert latest.headers["x-pco-api-processed-as-version"] == "2026-06-04"
    assert latest.json()["data"]["attributes"]["street_line_1"] == "1 Analytical Way"


@pytest.mark.parametrize("version", ["2017-01-01", "yesterday"])
def test_unsupported_version_is_a_400(client, version):
    response = client.get("/people/v2/people", headers={"X-PCO-API-Version": version})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unsupported_version_error"


def test_every_response_carries_rate_headers_and_a_request_id(sandbox, client):
    for response in (client.get("/people/v2/people"), client.get("/people/v2/nope"), client.get("/bogus"),
                     sandbox.client(authenticated=False).get("/people/v2/people")):
        assert {"x-pco-api-request-rate-limit", "x-pco-api-request-rate-period",
                "x-pco-api-request-rate-count"} <= set(response.headers)
        uuid.UUID(response.headers["x-request-id"])


def test_unknown_paths_and_put(client):
    outside = client.get("/bogus")
    assert outside.status_code == 404 and outside.headers["content-type"].startswith("application/json")
    assert outside.headers["x-pco-api-request-rate-period"] == "20 seconds"  # as PCO prints it on a bare 404
    assert client.get("/people/v2/no_such_collection").json()["errors"][0]["status"] == "404"
    put = client.put("/people/v2/people/101", json={"data": {}})
    assert put.status_code == 404 and put.headers["content-type"].startswith("text/html")

"""JSON:API → Resources: what PCO sends is read, what is malformed fails alone and says why."""

from __future__ import annotations

import json

import pytest

from pco_pipeline.pco.jsonapi import BodyNotJSON, DocumentError, parse_body, parse_document


def _person(pid: str, **extra):
    return {"type": "Person", "id": pid, "attributes": {"first_name": f"P{pid}"}, **extra}


def _both(document):
    """The document read from bytes and from decoded JSON: the two entry points must agree."""
    return parse_body(json.dumps(document).encode()), parse_document(document)


def test_relationships_resolve_to_included_resources_and_links_only_ones_are_unknown():
    document = {
        "data": [_person("1", links={"self": "…"}, unknown_member=True, relationships={
            "emails": {"data": [{"type": "Email", "id": "10"}, {"type": "Email", "id": "11"}]},
            "primary_campus": {"data": None},
            "households": {"links": {"related": "…"}},
            "school": {"data": {"type": "SchoolOption", "id": "7"}}})],
        "included": [{"type": "Email", "id": "10", "attributes": {"address": "a@example.org"},
                      "relationships": {"person": {"data": {"type": "Person", "id": "1"}}}}],
    }
    for parsed in _both(document):
        person = parsed.records[0]
        assert person["first_name"] == "P1" and not parsed.errors
        assert [e["address"] for e in person.related_list("emails")] == ["a@example.org"]  # 11 was not included
        assert person.relationship_ids("emails") == ["10", "11"] and person.relationship_ids("school") == ["7"]
        assert person.relationship_id_map() == {"emails": ["10", "11"], "primary_campus": None, "school": "7"}
        assert person.sent("primary_campus") and not person.sent("households") and not person.sent("nothing")
        assert person.related["primary_campus"] is None and "school" not in person.related
        email = parsed.included[0]
        assert email.relationship_ids("person") == ["1"] and email.related_list("person") == []  # no link back up


@pytest.mark.parametrize("broken, reason", [
    ({"type": "Person", "attributes": {}}, "Person (no id) is malformed: Object missing required field `id`"),
    ({"type": "Person", "id": "", "attributes": {}},
     "Person (no id) is malformed: Expected `str` of length >= 1 - at `$.id`"),
    ({"type": "Person", "id": 5, "attributes": {}}, "Person 5 is malformed: Expected `str`, got `int` - at `$.id`"),
    (_person("2", attributes=[1]), "Person 2 is malformed: Expected `object`, got `array` - at `$.attributes`"),
    (_person("2", relationships={"emails": {"data": [{"type": "Email"}]}}),
     "Person 2 is malformed: Object missing required field `id` - at `$.relationships[...].data[0]`"),
    ("Person 3", "resource is a str, not an object"),
])
def test_a_malformed_record_fails_alone_and_says_why(broken, reason):
    document = {"data": [_person("1"), broken, _person("4")], "meta": {"total_count": 3}}
    for parsed in _both(document):
        assert [r.id for r in parsed.records] == ["1", "4"]
        assert [(e.reason, e.raw) for e in parsed.errors] == [(reason, broken)]
        assert parsed.meta == {"total_count": 3}


def test_a_broken_included_resource_only_loses_that_target():
    document = {"data": [_person("1", relationships={"emails": {"data": [{"type": "Email", "id": "10"},
                                                                         {"type": "Email", "id": "11"}]}})],
                "included": [{"type": "Email", "id": "10", "attributes": "broken"},
                             {"type": "Email", "id": "11", "attributes": {"address": "b@example.org"}}]}
    for parsed in _both(document):
        assert not parsed.errors and [e.id for e in parsed.records[0].related_list("emails")] == ["11"]


def test_one_resource_no_resource_and_missing_members():
    for parsed in _both({"data": {"type": "Person", "id": "9"}}):
        assert [r.id for r in parsed.records] == ["9"] and parsed.records[0].attributes == {}
        assert parsed.records[0].relationship_id_map() == {} and (parsed.links, parsed.meta) == ({}, {})
    for parsed in _both({"data": None, "included": None, "meta": None}):
        assert parsed.records == [] and parsed.included == [] and parsed.meta == {}


def test_what_is_not_json_api_is_refused_as_a_whole():
    for not_a_document in ({"errors": []}, [], "data"):
        with pytest.raises(DocumentError, match="no top-level 'data'"):
            parse_document(not_a_document)
        with pytest.raises(DocumentError, match="no top-level 'data'"):
            parse_body(json.dumps(not_a_document).encode())
    with pytest.raises(BodyNotJSON, match="not JSON"):
        parse_body(b'{"data": [{"type": "Per')

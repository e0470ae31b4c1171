"""The sandbox serves exactly PCO's reference table (`pco_reference`), resource by resource.

Live recordings exist for People only; for Groups, Check-Ins and Calendar the reference pages
are the truth. For every row of the table, over a collection of more than two full pages: the
`meta.can_*` lists are the row's; `per_page` defaults and clamps as the row says; without
`order` the rows come in ascending id; every `order` key and `where` attribute the row lists is
honoured and every other attribute of the resource is silently ignored (the whole set, in
default order); every include the row lists is honoured and every other relationship is not;
an unlisted `filter` is ignored.

What the sandbox accepts but cannot show (it holds no records of that kind, or the search
semantics live elsewhere) is listed in NOT_SIMULATED with the reason; the lists are checked to
be exact, so a newly simulated relationship or filter must come off them.
"""

from __future__ import annotations

from typing import Any

import pytest

from pco_reference import CAPABILITIES, capability
from pco_sandbox.core import Sandbox, SandboxConfig
from pco_sandbox.schema import KINDS
from pco_pipeline_tests.capability_data import Dataset, dataset

RECORDS = 230      # more than two pages at PCO's maximum of 100

# (resource, parameter) the reference allows but the sandbox cannot show honoured -> why.
NOT_SIMULATED: dict[tuple[str, str], str] = {
    **{("people/people", f"where[{name}]"): "search semantics measured live; test_reads checks them"
       for name in ("search_name", "search_name_or_email", "search_name_or_email_or_phone_number",
                    "search_phone_number", "search_phone_number_e164")},
    ("groups/groups", "where[archive_status]"): "a mode, not a value; test_reads checks it",
    ("check-ins/check_ins", "where[account_center_person_id]"): "Check-Ins people are not simulated",
    **{(key, f"include={name}"): "the sandbox holds no records of that kind" for key, names in {
        "people/people": ("person_apps", "platform_notifications", "school", "social_profiles"),
        "groups/groups": ("enrollment", "location"),
        "check-ins/check_ins": ("check_in_times", "options"),
        "check-ins/locations": ("options",),
        "check-ins/stations": ("theme",),
        "calendar/events": ("attachments", "feed", "tags"),
        "calendar/event_instances": ("event_times", "resource_bookings", "tags"),
    }.items() for name in names},
}

_DATASETS: dict[str, tuple[Dataset, Any]] = {}


@pytest.fixture(params=sorted(CAPABILITIES))
def served(request) -> tuple[Dataset, Any]:
    """(the dataset of one row's resource, an httpx client on a sandbox holding it)."""
    key = request.param
    if key not in _DATASETS:
        data = dataset(key, RECORDS)
        sandbox = Sandbox(SandboxConfig(rate_limit="off"), data=data.data)
        _DATASETS[key] = (data, sandbox.client())
    return _DATASETS[key]


def _walk(client, data: Dataset, params: dict[str, str]) -> list[str]:
    """Ids of every row of the listing with `params`, page by page (100 a page)."""
    ids: list[str] = []
    offset = 0
    while True:
        body = client.get(data.listing_path, params={**params, "per_page": "100", "offset": str(offset)}).json()
        ids += [row["id"] for row in body["data"]]
        if "next" not in body["meta"]:
            return ids
        offset = body["meta"]["next"]["offset"]


def _values(data: Dataset, name: str) -> dict[str, Any]:
    """Record id -> the value an order or where on `name` is about (a related person's, for
    Membership first/last name)."""
    kind = KINDS[data.key]
    through = kind.order_through.get(name)
    if through is None:
        return {r["id"]: r["attributes"].get(name) for r in data.records()}
    relationship, attribute = through
    target = kind.relationships[relationship].target
    related = {r["id"]: r["attributes"].get(attribute) for r in data.data[target]}
    return {r["id"]: related[r["relationships"][relationship]["data"]["id"]] for r in data.records()}


def _sort_key(value: Any) -> tuple:
    # PCO's order (GOLD): nulls lowest, strings case-insensitive, ties by id ascending.
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (2, value)
    return (3, str(value).lower())


def test_meta_lists_are_the_reference_row(served):
    data, client = served
    row = capability(data.key)
    meta = client.get(data.listing_path).json()["meta"]
    for key, listed in (("can_include", row.can_include), ("can_order_by", row.can_order),
                        ("can_query_by", row.can_query), ("can_filter", row.can_filter)):
        assert meta.get(key, []) == list(listed), (data.key, key)


def test_per_page_defaults_and_clamps_and_the_default_order_is_ascending_id(served):
    data, client = served
    row = capability(data.key)
    assert len(client.get(data.listing_path).json()["data"]) == row.per_page_default
    clamped = client.get(data.listing_path, params={"per_page": str(row.per_page_max + 50)}).json()
    assert len(clamped["data"]) == row.per_page_max
    assert _walk(client, data, {}) == data.ids


def test_each_order_key_is_honoured_if_the_reference_lists_it_else_ignored(served):
    data, client = served
    row = capability(data.key)
    kind = KINDS[data.key]
    keys = sorted(set(kind.attributes) | set(kind.order_through) | set(row.can_order))
    assert set(row.can_order) <= set(kind.attributes) | set(kind.order_through), \
        "every order key the reference lists must be orderable in the sandbox"
    for name in keys:
        values = _values(data, name)
        for descending in (False, True):
            got = _walk(client, data, {"order": f"-{name}" if descending else name})
            if name in row.can_order:
                expected = sorted(data.ids, key=lambda i: _sort_key(values[i]), reverse=descending)
                if len(set(map(_sort_key, values.values()))) > 1:
                    assert expected != data.ids, f"{data.key} {name}: test data in id order proves nothing"
                assert got == expected, (data.key, name, descending)
            else:
                assert got == data.ids, f"{data.key}: order={name} must be ignored (not in the reference)"


def test_each_where_is_honoured_if_the_reference_lists_it_else_ignored(served):
    data, client = served
    row = capability(data.key)
    kind = KINDS[data.key]
    for name in sorted(set(kind.attributes) | set(row.can_query)):
        if (data.key, f"where[{name}]") in NOT_SIMULATED:
            continue
        if name == "id":
            wanted = data.ids[7]
            assert _walk(client, data, {"where[id]": wanted}) == [wanted]
            continue
        if name not in kind.attributes and name.endswith("_id"):  # a relationship id (primary_campus_id)
            relationship = name[:-3]
            links = {r["id"]: r["relationships"].get(relationship, {}).get("data") for r in data.records()}
            wanted = links[data.ids[0]]["id"]
            expected = [i for i in data.ids if (links[i] or {}).get("id") == wanted]
            assert _walk(client, data, {f"where[{name}]": wanted}) == expected
            continue
        assert name in kind.attributes, f"{data.key}: the reference lists where[{name}], unknown to the sandbox"
        values = _values(data, name)
        present = [v for v in values.values() if v is not None]
        if not present:  # JSON attributes: nothing to compare by, and nothing the reference queries
            assert name not in row.can_query, (data.key, name)
            continue
        value = present[0]
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        got = _walk(client, data, {f"where[{name}]": text})
        if name in row.can_query:
            expected = [i for i in data.ids if values[i] is not None and _sort_key(values[i]) == _sort_key(value)]
            assert 0 < len(expected) < len(data.ids)
            assert got == expected, (data.key, name)
        else:
            assert got == data.ids, f"{data.key}: where[{name}] must be ignored (not in the reference)"


def test_each_include_is_honoured_if_the_reference_lists_it_else_ignored(served):
    data, client = served
    row = capability(data.key)
    kind = KINDS[data.key]
    for name in row.can_include:
        if (data.key, f"include={name}") in NOT_SIMULATED:
            assert name not in kind.relationships or KINDS.get(kind.relationships[name].target) is None \
                or not data.data.get(kind.relationships[name].target), f"{data.key} include={name} is simulated now"
            continue
        rel = kind.relationships.get(name)
        assert rel is not None, f"{data.key}: the reference lists include={name}, unknown to the sandbox"
        expected_type = "Organization" if rel.source == "organization" else KINDS[rel.target].type
        body = client.get(data.listing_path, params={"include": name, "per_page": "100"}).json()
        types = {item["type"] for item in body.get("included", [])}
        assert expected_type in types, (data.key, name, types)
    for name in sorted(set(kind.relationships) - set(row.can_include)) + ["bogus"]:
        body = client.get(data.listing_path, params={"include": name, "per_page": "100"}).json()
        assert not body.get("included"), f"{data.key}: include={name} must be ignored (not in the reference)"


def test_a_filter_the_reference_does_not_list_is_ignored(served):
    data, client = served
    unlisted = {"bogus", "checked_out", "future", "archived", "root"} - set(capability(data.key).can_filter)
    for name in sorted(unlisted):
        assert _walk(client, data, {"filter": name}) == data.ids, (data.key, name)


def test_what_is_not_simulated_names_real_rows_and_allowed_parameters():
    for (key, parameter), reason in NOT_SIMULATED.items():
        row = capability(key)
        name, _, value = parameter.partition("=")
        if parameter.startswith("where["):
            assert parameter[len("where["):-1] in row.can_query, parameter
        else:
            assert value in row.can_include, (key, parameter)
        assert reason

"""Every catalog resource's read plan against PCO's reference table (`pco_reference`).

A plan that needs a parameter PCO would silently ignore is a programming error: it is caught
here, for every resource, instead of by the client's refusal in the middle of a sync.
"""

from __future__ import annotations

import re

import pytest

from pco_pipeline.pco.config import API_VERSIONS
from pco_reference import CAPABILITIES, capability, route_for
from pco_pipeline.sync.catalog import RESOURCES
from pco_pipeline.sync.extract import plan_for, planned_requests

# Incremental (keyset) reads exactly where PCO's reference lets the cursor timestamp be both
# ordered and queried; everything else is a complete listing, whatever run asks for it.
KEYSET = {"people/people": "updated_at", "people/emails": "updated_at", "people/phone_numbers": "updated_at",
          "people/person_mergers": "created_at", "check-ins/check_ins": "updated_at",
          "check-ins/headcounts": "updated_at", "calendar/event_instances": "updated_at"}


def _route_shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_every_catalog_resource_has_a_reference_row_for_its_type_route_and_version(name):
    spec = RESOURCES[name]
    row = capability(name)   # KeyError: a resource the catalog reads has no row
    assert row.type == spec.pco_type
    assert _route_shape(row.path) == _route_shape(spec.path)
    assert row.version == API_VERSIONS[row.app], "the row must describe the version the client sends"
    assert row.reference.startswith("https://developer.planning.center/docs/#/apps/")


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_every_read_plan_sends_only_what_pcos_reference_accepts(name):
    for path, params in planned_requests(RESOURCES[name]):
        route = route_for(path)
        assert route is not None and route.capability.key == name, path
        assert route.accepts().ignored(params.items()) == [], (name, path, params)


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_keyset_only_where_pco_can_order_and_filter_by_the_cursor(name):
    spec, plan = RESOURCES[name], plan_for(RESOURCES[name])
    if name in KEYSET:
        assert (plan.method, spec.cursor) == ("keyset", KEYSET[name])
        assert capability(name).keyset_on(KEYSET[name])
    else:
        assert plan.method in ("listing", "nested listing") and plan.complete_listing
        assert spec.cursor is None and not spec.incremental
        assert "complete listing" in plan.reason and capability(name).reference in plan.reason


def test_the_plan_follows_the_table_not_a_copy_of_it(monkeypatch):
    """Were PCO to stop ordering check-ins by updated_at, check-ins would become a complete listing."""
    import dataclasses

    import pco_pipeline.sync.catalog as catalog
    import pco_pipeline.sync.extract as extract
    row = CAPABILITIES["check-ins/check_ins"]
    narrowed = dataclasses.replace(row, can_order=tuple(k for k in row.can_order if k != "updated_at"))
    monkeypatch.setattr(catalog, "capability", lambda key: narrowed if key == row.key else CAPABILITIES[key])
    monkeypatch.setattr(extract, "capability", lambda key: narrowed if key == row.key else CAPABILITIES[key])
    spec = RESOURCES["check-ins/check_ins"]
    assert plan_for(spec).method == "listing" and "can filter but not order it by updated_at" in plan_for(spec).reason
    assert all("order" not in params for _, params in planned_requests(spec))

"""A burst of changes in PCO reaches the church database through webhooks alone."""

from collections.abc import Set

import sqlalchemy as sa

from pco_pipeline.sync.reconcile import reconcile
from pco_pipeline_tests.webhooks_e2e.conftest import differences_from_pco, drain, wait_for_deliveries


def api_body(type_: str, attributes: dict, relationships: dict | None = None) -> dict:
    data = {"type": type_, "attributes": attributes}
    if relationships:
        data["relationships"] = relationships
    return {"data": data}


def pick_people(sandbox, engine, count: int, *, with_household: bool = False, with_groups: bool = False,
                exclude: Set[str] = frozenset()) -> list[str]:
    """PCO people with an email who are linked in the church database, first by id."""
    store = sandbox.store
    with engine.connect() as conn:
        linked = set(conn.execute(sa.text("SELECT pco_id FROM people WHERE pco_id IS NOT NULL AND is_active")).scalars())
    in_households = {ref[1] for h in store.all("people/households") for ref in store.household_people(h.id)}
    in_groups = {m.rel_ids("person")[0] for m in store.all("groups/memberships")}
    chosen = []
    for person in store.all("people/people"):
        if person.id in exclude or person.id not in linked or (with_household and person.id not in in_households) \
                or (with_groups and person.id not in in_groups):
            continue
        if not store.children("people/emails", "person", person.id):
            continue
        chosen.append(person.id)
        if len(chosen) == count:
            return chosen
    raise AssertionError(f"the seeded church has fewer than {count} people of that kind")


def test_a_burst_of_changes_in_pco_ends_with_the_church_database_equal_to_pco(
        sandbox, synced, receiver, instance, resources):
    store, controls = sandbox.store, sandbox.controls
    renamed, gone = pick_people(sandbox, synced, 2, with_household=True, with_groups=True)
    keep, merged_away = pick_people(sandbox, synced, 2, with_household=True, exclude={renamed, gone})
    email = store.children("people/emails", "person", renamed)[0]
    controls.advance_clock(60)  # every change below is newer than what the inbound sync saw
    with sandbox.client() as api:
        created = api.post("/people/v2/people", json=api_body(
            "Person", {"first_name": "Nadia", "last_name": "Okafor", "birthdate": "1991-02-03"})).json()["data"]
        new_id = created["id"]
        assert api.post(f"/people/v2/people/{new_id}/emails", json=api_body(
            "Email", {"address": "nadia.okafor@example.org", "location": "Home", "primary": True})).status_code == 201
        assert api.post(f"/people/v2/people/{new_id}/phone_numbers", json=api_body(
            "PhoneNumber", {"number": "(555) 201-7788", "location": "Mobile"})).status_code == 201
        assert api.post(f"/people/v2/people/{new_id}/addresses", json=api_body(
            "Address", {"street_line_1": "12 Elm St", "city": "Springfield", "state": "IL", "zip": "62701",
                        "location": "Home"})).status_code == 201
        assert api.patch(f"/people/v2/people/{renamed}", json=api_body(
            "Person", {"last_name": "Renamed-Webhook"})).status_code == 200
        assert api.patch(f"/people/v2/emails/{email.id}", json=api_body(
            "Email", {"address": "changed.by.webhook@example.org"})).status_code == 200
        assert api.post(f"/people/v2/people/{renamed}/phone_numbers", json=api_body(
            "PhoneNumber", {"number": "(555) 404-1212", "location": "Work"})).status_code == 201
        household = next(h for h in store.all("people/households")
                         if renamed in {ref[1] for ref in store.household_people(h.id)})
        assert api.patch(f"/people/v2/households/{household.id}", json=api_body(
            "Household", {"name": "The Renamed Household"})).status_code == 200
        contact = household.rel_ids("primary_contact")[0]
        addresses = store.children("people/addresses", "person", contact)
        assert addresses, "the seeded household's primary contact should have an address"
        for address in addresses:
            assert api.patch(f"/people/v2/addresses/{address.id}", json=api_body(
                "Address", {"street_line_1": "1 Moved Lane", "city": "Newtown"})).status_code == 200
        for phone in store.children("people/phone_numbers", "person", keep)[:1]:
            assert api.delete(f"/people/v2/phone_numbers/{phone.id}").status_code == 204
        assert api.post("/people/v2/households", json=api_body(
            "Household", {"name": "Okafor"}, {"people": {"data": [{"type": "Person", "id": new_id}]},
                                              "primary_contact": {"data": {"type": "Person", "id": new_id}}}
        )).status_code == 201
        group, left = next((m.rel_ids("group")[0], m) for m in store.all("groups/memberships")
                           if m.rel_ids("person")[0] not in (gone, merged_away))
        assert api.post(f"/groups/v2/groups/{group}/memberships", json=api_body(
            "Membership", {"role": "member"}, {"person": {"data": {"type": "Person", "id": new_id}}}
        )).status_code == 201
        assert api.delete(f"/groups/v2/groups/{group}/memberships/{left.id}").status_code == 204
    controls.delete_person(gone)
    controls.merge_people(keep, merged_away)

    wait_for_deliveries(sandbox)
    drained = drain(instance, resources)
    assert drained.runs and all(run.success for run in drained.runs)

    report = reconcile(synced)
    assert report.in_sync, report.table()
    assert differences_from_pco(synced, sandbox) == []
    with synced.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT status, count(*) FROM webhook_inbox GROUP BY 1")).all())
        states = dict(conn.execute(sa.text("SELECT pco_id, is_active FROM people WHERE pco_id = ANY(:ids)"),
                                   {"ids": [new_id, gone, keep, merged_away]}).all())
    assert set(statuses) <= {"applied", "ignored"} and statuses["applied"] > 10, statuses
    with synced.connect() as conn:
        logged = conn.execute(sa.text("SELECT run_id, sync_type, direction, status, created_count, requests_used"
                                      " FROM pco_sync_log WHERE direction = 'webhook'")).all()
    assert {row.run_id for row in logged} == {run.run_id for run in drained.runs}
    assert all((row.sync_type, row.status) == ("apply_webhooks", "success") for row in logged)
    assert sum(row.created_count for row in logged) > 0 and sum(row.requests_used for row in logged) > 0
    assert states == {new_id: True, gone: False, keep: True, merged_away: False}
    with synced.connect() as conn:
        family = conn.execute(sa.text("SELECT name, street_line_1, city FROM families WHERE pco_id = :h"),
                              {"h": household.id}).one()
        new_family = conn.execute(sa.text(
            "SELECT f.name FROM families f JOIN family_members fm ON fm.family_id = f.id"
            " JOIN people p ON p.id = fm.person_id WHERE p.pco_id = :p"), {"p": new_id}).scalar()
        groups_of_new = conn.execute(sa.text(
            "SELECT g.pco_id FROM group_membership gm JOIN church_group g ON g.id = gm.group_id"
            " JOIN people p ON p.id = gm.person_id WHERE p.pco_id = :p"), {"p": new_id}).scalars().all()
    assert family.name == "The Renamed Household"
    assert (family.street_line_1, family.city) == ("1 Moved Lane", "Newtown")
    assert new_family == "Okafor" and groups_of_new == [group]

"""No input makes the sandbox answer 500 or leak a traceback: a seeded storm of odd requests."""

from __future__ import annotations

import random

PATHS = ["/people/v2/people", "/people/v2/people/101", "/people/v2/people/101/emails", "/people/v2/households/5001/people",
         "/people/v2/households/5002/household_memberships/6001", "/groups/v2/groups/811/memberships",
         "/check-ins/v2/check_ins", "/calendar/v2/events/951/event_instances", "/webhooks/v2/subscriptions",
         "/people/v2", "/people/v2/emails/2001", "/people/v2/person_mergers", "/people/v2/people/101/organization",
         "/people/v2/people/101/primary_campus", "/people/v2/field_definitions", "/people/v3/people", "/%zz",
         "/people/v2/people/101/emails/2001/person", "/webhooks/v2/subscriptions/1/events/1/deliveries"]
KEYS = ["per_page", "offset", "include", "order", "where[first_name]", "where[created_at][gte]", "where[grade]",
        "where[id]", "fields[Person]", "filter", "where[search_phone_number]", "where[search_name]",
        "where[birthdate][lt]", "where[x][y][z]", "fields[]", "where[]", "time", "where[created_at][between]"]
VALUES = ["", "-1", "0", "99999999999999999999999", "abc", "%", "%%", "a,b,-c", "2026-02-30",
          "2026-01-01T00:00:00+05:00", "emails.person.households", "households.people.emails", "\x00", "é", "[]",
          "-", ".", "1e5", "true", "+1 (555)"]
BODIES = [None, b"{", b'{"data":{}}', b"[]", b'"x"', b'{"data":null}', b'{"data":{"attributes":null,"relationships":[]}}',
          b'{"data":{"relationships":{"people":{"data":"x"}}}}',
          b'{"data":{"type":"Person","attributes":{"first_name":1,"grade":"x","birthdate":[]}}}',
          b'{"data":{"attributes":{"address":"a@b.cc","number":"5551234","role":"leader","person_id":"102"},'
          b'"relationships":{"person":{"data":{"type":"Person","id":"104"}},"people":{"data":[{"type":"Person",'
          b'"id":"104"}]},"primary_contact":{"data":{"type":"Person","id":"104"}}}}}', "ünïcode".encode("latin-1")]
CONTENT_TYPES = ["application/json", "application/vnd.api+json", "text/plain", "", "multipart/form-data"]


def test_a_storm_of_odd_requests_gets_only_4xx_or_success(sandbox, client, caplog):
    rnd = random.Random(11)
    statuses = set()
    for _ in range(600):
        method = rnd.choice(["GET"] * 5 + ["POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"])
        params = [(rnd.choice(KEYS), rnd.choice(VALUES)) for _ in range(rnd.randint(0, 4))]
        response = client.request(method, rnd.choice(PATHS), params=params, content=rnd.choice(BODIES),
                                  headers={"Content-Type": rnd.choice(CONTENT_TYPES)})
        statuses.add(response.status_code)
        assert response.status_code < 500, (method, params, response.text[:300])
        assert "Traceback" not in response.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert {200, 400, 404, 405, 422} <= statuses

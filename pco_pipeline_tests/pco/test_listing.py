"""Listings: every record exactly once, includes resolved, PCO's paging traps avoided."""

from __future__ import annotations

import math
import threading
import time

import pytest

from pco_pipeline.pco import PCOQueryError
from pco_pipeline.pco.pagination import Page, build_query, iterate_pages


def _expected_people(fake):
    return [str(pid) for pid in sorted(fake.people)]


def test_full_listing_with_includes_equals_the_data(make_fake, make_client):
    fake = make_fake(people=237, emails_per_person=2, limit=50)
    client = make_client(fake)
    people = list(client.iter_records("/people/v2/people", include=["emails"]))
    assert [p.id for p in people] == _expected_people(fake)
    for person in people:
        expected = sorted(e["address"] for e in fake.emails.values() if str(e["person_id"]) == person.id)
        assert sorted(e["address"] for e in person.related_list("emails")) == expected
        assert person["first_name"] == fake.people[int(person.id)]["first_name"]
    assert fake.count(path_contains="/people/v2/people") == math.ceil(237 / 100)
    counters = client.counters.snapshot()
    assert (counters.requests, counters.pages, counters.records, counters.rate_limited) == (3, 3, 237, 0)


def test_pages_come_in_order_while_fetched_concurrently(make_fake, make_client):
    fake = make_fake(people=950, emails_per_person=0, limit=100, latency=0.02)
    client = make_client(fake, prefetch=4)
    offsets = [page.offset for page in client.iter_pages("/people/v2/people")]
    assert offsets == list(range(0, 950, 100))
    assert 1 < fake.max_in_flight <= 4


def test_a_slow_page_does_not_hold_up_the_requests_behind_it(make_fake, make_client):
    fake = make_fake(people=1000, emails_per_person=0, limit=100)
    fake.slow_offsets = {100: 0.5}
    client = make_client(fake, prefetch=2)
    pages = client.iter_pages("/people/v2/people")
    assert next(pages).offset == 0
    assert next(pages).offset == 100  # waited for; meanwhile the next pages were fetched
    # while the slow page was out, 200, 300 and 400 came back and wait, unread, behind it; the
    # queue holds 2 × prefetch pages, so 500 was not asked for yet
    assert {int(a.query.get("offset", 0)) for a in fake.arrivals} == {0, 100, 200, 300, 400}
    assert [p.offset for p in pages] == list(range(200, 1000, 100))
    assert fake.max_in_flight <= 2


def test_a_prefetched_page_whose_body_is_not_json_is_read_again(make_fake, make_client):
    """Prefetched answers are decoded where the listing is consumed; a truncated one is re-requested there."""
    fake = make_fake(people=800, emails_per_person=1, limit=100)
    client = make_client(fake, prefetch=4)
    pages = client.iter_pages("/people/v2/people", include="emails")
    first = next(pages)  # only the first page is out: the next two requests are prefetched ones
    fake.fail_next("garbage", times=2, path_contains="/people/v2/people")
    people = [*first.records, *(record for page in pages for record in page.records)]
    assert [p.id for p in people] == _expected_people(fake)
    assert all(len(p.related_list("emails")) == 1 for p in people)
    counters = client.counters.snapshot()
    assert (counters.retries, counters.requests, counters.pages) == (2, 8 + 2, 8)


def test_clamped_per_page_advances_by_rows_received_not_by_the_request(make_fake, make_client):
    """PCO clamps per_page and its links.next keeps the requested value: following it would skip rows."""
    fake = make_fake(people=130, emails_per_person=0, max_per_page=40)
    client = make_client(fake)
    pages = list(client.iter_pages("/people/v2/people", per_page=100))
    assert [p.offset for p in pages] == [0, 40, 80, 120]
    assert [r.id for p in pages for r in p.records] == _expected_people(fake)


def test_per_page_outside_one_to_hundred_is_refused():
    with pytest.raises(ValueError, match="per_page"):
        build_query(per_page=0)
    with pytest.raises(ValueError, match="per_page"):
        build_query(per_page=500)


def test_empty_page_with_a_next_link_stops_the_listing():
    """The per_page=0 trap: no rows and a `next` pointing at the same page."""
    calls = []

    def fetch(offset, cancel):
        calls.append(offset)
        return lambda: Page(path="/x", offset=offset, records=[], errors=[], included=[],
                            meta={"total_count": 50, "next": {"offset": offset}}, links={"next": "same page"},
                            has_next=True)

    assert [p.offset for p in iterate_pages(fetch, prefetch=4)] == [0]
    assert calls == [0]


def test_missing_next_stops_even_when_total_count_promises_more(make_fake, make_client):
    fake = make_fake(people=300, emails_per_person=0)
    client = make_client(fake)
    real = fake._collection

    def truncated(path, kind, rows, query, meta, include_emails=False):
        document = real(path, kind, rows, query, meta, include_emails)
        if int(query.get("offset", 0)) == 100:
            document["links"].pop("next", None)
            document["meta"].pop("next", None)
        return document

    fake._collection = truncated
    records = list(client.iter_records("/people/v2/people", prefetch=1))
    assert len(records) == 200


def test_listing_continues_past_a_capped_total_count(make_fake, make_client):
    """ISS#736: total_count once stopped at 10,000 while rows went on; `next` decides."""
    fake = make_fake(people=460, emails_per_person=0, total_count_cap=200, limit=50)
    client = make_client(fake)
    assert [r.id for r in client.iter_records("/people/v2/people")] == _expected_people(fake)


def test_a_set_that_shrinks_during_the_listing_ends_without_error(make_fake, make_client):
    fake = make_fake(people=500, emails_per_person=0, limit=50)
    client = make_client(fake, prefetch=2)
    seen = []
    for page in client.iter_pages("/people/v2/people"):
        seen.extend(r.id for r in page.records)
        if page.offset == 0:
            with fake.lock:
                for pid in sorted(fake.people)[-250:]:
                    del fake.people[pid]
    assert len(seen) == len(set(seen))
    assert seen[:100] == _expected_people(fake)[:100]
    assert set(_expected_people(fake)) <= set(seen)


def test_where_and_order_reach_pco_in_its_syntax(make_fake, make_client):
    import datetime as dt

    fake = make_fake(people=80, emails_per_person=0)
    client = make_client(fake)
    since = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    records = list(client.iter_records("/people/v2/people", where={"last_name": "last5", "updated_at": {"gte": since}},
                                       order=["last_name", "-created_at"], include="emails"))
    assert records and all(r["last_name"] == "Last5" for r in records)
    query = fake.arrivals[-1].query
    assert query["where[updated_at][gte]"] == "2024-05-01T10:30:00Z"
    assert query["order"] == "last_name,-created_at"
    assert query["per_page"] == "100" and query["include"] == "emails"


@pytest.mark.parametrize("listing, named", [
    ({"where": {"nickname": "Bo"}}, "where[nickname]"),
    ({"order": "-birthdate"}, "order=-birthdate"),
    ({"include": ["emails", "field_data.field_definition"]}, "include=field_data.field_definition"),
    ({"filter": "admins"}, "filter=admins"),
])
def test_parameters_pco_would_silently_ignore_are_refused(make_fake, make_client, listing, named):
    fake = make_fake(people=10, emails_per_person=0)
    client = make_client(fake)
    with pytest.raises(PCOQueryError) as caught:
        list(client.iter_records("/people/v2/people", **listing))
    assert named in str(caught.value)


def test_a_malformed_record_fails_alone(make_fake, make_client):
    fake = make_fake(people=150, emails_per_person=1)
    fake.broken_records = {1050, 1120}
    client = make_client(fake)
    errors = []
    records = list(client.iter_records("/people/v2/people", include="emails", on_record_error=errors.append))
    assert len(records) == 148 and len(errors) == 2
    assert errors[0].reason == "Person (no id) is malformed: Expected `object`, got `str` - at `$.attributes`"
    assert client.counters.snapshot().record_errors == 2
    pages = list(client.iter_pages("/people/v2/people"))
    assert [len(p.errors) for p in pages] == [1, 1]


def test_stopping_a_listing_sends_nothing_more(make_fake, make_client):
    """Prefetched pages still waiting for the rate budget are dropped, not sent, when the caller stops."""
    fake = make_fake(people=2000, emails_per_person=0, limit=3, period=1.0)
    client = make_client(fake, prefetch=4)
    pages = client.iter_pages("/people/v2/people")
    assert [next(pages).offset, next(pages).offset] == [0, 100]  # the plan is running: 4 pages in flight or waiting
    pages.close()
    time.sleep(1.3)  # long enough for the budget to have released the waiting pages
    assert fake.count(path_contains="/people/v2/people") == 3  # the first page and the two the window allowed
    for thread in threading.enumerate():
        if thread.name.startswith("pco-page"):
            thread.join(timeout=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("pco-page")]


def test_paging_parameters_belong_to_the_listing_not_to_params(make_fake, make_client):
    fake = make_fake(people=30, emails_per_person=0)
    client = make_client(fake)
    with pytest.raises(ValueError, match="offset"):
        list(client.iter_pages("/people/v2/people", params={"offset": 10}))
    page = client.get("/people/v2/people", params={"per_page": 1, "offset": 3})  # a single GET may page by hand
    assert [row["id"] for row in page["data"]] == ["1004"] and page["meta"]["total_count"] == 30


@pytest.mark.parametrize("path, params, named", [
    ("/check-ins/v2/locations", {"order": "updated_at", "per_page": "100"}, "order=updated_at"),
    ("/check-ins/v2/locations", {"where[updated_at][gte]": "2024-01-01T00:00:00Z"}, "where[updated_at][gte]"),
    ("/calendar/v2/events", {"order": "updated_at"}, "order=updated_at"),
    ("/check-ins/v2/events", {"include": "event_labels"}, "include=event_labels"),
    ("/groups/v2/groups/7/memberships", {"include": "group"}, "include=group"),
    ("/people/v2/people/1", {"include": "bogus"}, "include=bogus"),
    ("/people/v2/people", {"per_page": "250"}, "per_page=250"),
])
def test_every_get_refuses_what_pcos_reference_says_the_route_ignores(make_fake, make_client, path, params,
                                                                      named):
    """The keyset path calls `request` directly: the refusal lives there, before anything is sent."""
    fake = make_fake(people=1)
    client = make_client(fake)
    with pytest.raises(PCOQueryError) as caught:
        client.request("GET", path, params=params)
    assert named in str(caught.value) and "developer.planning.center" in str(caught.value)
    assert fake.count() == 0 and client.counters.snapshot().requests == 0


def test_parameters_the_reference_allows_are_sent(make_fake, make_client):
    fake = make_fake(people=3, emails_per_person=0)
    client = make_client(fake)
    client.request("GET", "/people/v2/people", params={"order": "updated_at", "where[updated_at][gte]":
                                                       "2024-01-01T00:00:00Z", "per_page": "100"})
    assert fake.count() == 1


def test_an_overlapping_listing_of_a_set_that_never_holds_still_gives_up_with_an_error():
    """Each answer shares no record with the one before: the reader steps back, boundedly, then says so."""
    from pco_pipeline.pco import PCOError
    from pco_pipeline.pco.jsonapi import parse_document

    offsets = []

    def fetch(offset, cancel):
        offsets.append(offset)
        answer = len(offsets)
        document = parse_document({"data": [{"type": "Person", "id": f"{answer}{i:03d}", "attributes": {}}
                                            for i in range(100)],
                                   "links": {"next": "more"}, "meta": {"total_count": 1000}})
        page = Page.from_document("/people/v2/people", offset, document)
        return lambda: page

    with pytest.raises(PCOError, match="changed faster than it could be read"):
        list(iterate_pages(fetch, overlap=2))
    # forward to 98, back to 0, …: at most 2 × max(10, 2 × ceil(1000 / 98)) re-reads, then the error
    assert offsets[:4] == [0, 98, 0, 98] and len(offsets) <= 2 * 22 + 2

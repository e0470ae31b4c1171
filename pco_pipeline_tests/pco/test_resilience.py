"""Faults survived with no lost or duplicated record; writes never blindly repeated."""

from __future__ import annotations

import pytest

from pco_pipeline.pco import (PCOConnectionError, PCOServerError, PCOWriteOutcomeUnknown, RetryPolicy,
                              resource_body)


def _ids(records):
    return [r.id for r in records]


@pytest.mark.parametrize("kind", ["500", "503", "html502", "timeout", "reset", "connect", "garbage"])
def test_listing_survives_a_burst_of_each_fault(make_fake, make_client, kind):
    fake = make_fake(people=620, emails_per_person=1, limit=100)
    fake.fail_next(kind, times=3, path_contains="/people/v2/people")
    client = make_client(fake)
    people = list(client.iter_records("/people/v2/people", include="emails"))
    assert _ids(people) == [str(p) for p in sorted(fake.people)]
    assert all(len(p.related_list("emails")) == 1 for p in people)
    assert client.counters.snapshot().retries == 3


def test_a_429_storm_is_waited_out_without_losing_a_record(make_fake, make_client):
    fake = make_fake(people=540, emails_per_person=0, limit=100)
    fake.fail_next("429", times=12, retry_after="0.02")
    client = make_client(fake)
    assert _ids(client.iter_records("/people/v2/people")) == [str(p) for p in sorted(fake.people)]
    counters = client.counters.snapshot()
    assert counters.rate_limited == 12 and counters.records == 540


def test_mixed_faults_during_concurrent_paging(make_fake, make_client):
    fake = make_fake(people=1500, emails_per_person=0, limit=100, latency=0.005)
    for kind in ["timeout", "500", "reset", "429", "html502", "connect", "429", "timeout"]:
        fake.fail_next(kind, path_contains="/people/v2/people")
    client = make_client(fake, prefetch=4, retry=RetryPolicy(max_retries=8, backoff_base=0.005, backoff_max=0.02))
    ids = _ids(client.iter_records("/people/v2/people"))
    assert ids == [str(p) for p in sorted(fake.people)]
    assert len(ids) == len(set(ids))


def test_retries_are_bounded_and_the_error_says_what_happened(make_fake, make_client):
    fake = make_fake(people=5)
    fake.fail_next("500", times=10)
    client = make_client(fake, retry=RetryPolicy(max_retries=2, backoff_base=0.001, backoff_max=0.002))
    with pytest.raises(PCOServerError) as caught:
        client.get("/people/v2/people")
    assert caught.value.status == 500
    assert caught.value.request_id and caught.value.request_id in str(caught.value)
    assert "GET /people/v2/people" in str(caught.value)
    assert fake.count(status=500) == 3


def test_unreachable_pco_names_the_setting(make_fake, make_client):
    fake = make_fake(people=5)
    fake.fail_next("connect", times=10)
    client = make_client(fake, retry=RetryPolicy(max_retries=1, backoff_base=0.001))
    with pytest.raises(PCOConnectionError, match="PCO_API_BASE"):
        client.get("/people/v2")


@pytest.mark.parametrize("kind", ["timeout", "reset", "500"])
def test_a_post_with_unknown_outcome_is_not_repeated(make_fake, make_client, kind):
    fake = make_fake(people=3)
    fake.fail_next(kind, method="POST")
    client = make_client(fake)
    with pytest.raises(PCOWriteOutcomeUnknown, match="remote_id"):
        client.post("/people/v2/people", resource_body("Person", {"first_name": "Ann", "remote_id": 77}))
    posts = [a for a in fake.arrivals if a.method == "POST"]
    assert len(posts) == 1
    created = [p for p in fake.people.values() if p.get("remote_id") == 77]
    assert len(created) == (0 if kind == "500" else 1)  # the timeout/reset came after PCO created it


def test_a_post_that_never_left_is_retried_once_it_can(make_fake, make_client):
    fake = make_fake(people=3)
    fake.fail_next("connect", method="POST", times=2)
    client = make_client(fake)
    person = client.post("/people/v2/people", resource_body("Person", {"first_name": "Bo", "remote_id": 78}))
    assert person["first_name"] == "Bo"
    assert [p["remote_id"] for p in fake.people.values()].count(78) == 1


def test_a_post_refused_with_429_is_sent_again(make_fake, make_client):
    fake = make_fake(people=3)
    fake.fail_next("429", method="POST")
    client = make_client(fake)
    client.post("/people/v2/people", resource_body("Person", {"first_name": "Cy", "remote_id": 79}))
    assert [p["remote_id"] for p in fake.people.values()].count(79) == 1


def test_patch_and_delete_are_retried_after_a_lost_answer(make_fake, make_client):
    fake = make_fake(people=3)
    client = make_client(fake)
    fake.fail_next("timeout", method="PATCH")
    updated = client.patch("/people/v2/people/1001", resource_body("Person", {"last_name": "Moss"}, id="1001"))
    assert updated["last_name"] == "Moss" and fake.people[1001]["last_name"] == "Moss"
    fake.fail_next("timeout", method="DELETE")  # PCO deleted it; the retry then sees 404
    client.delete("/people/v2/people/1002")
    assert 1002 not in fake.people

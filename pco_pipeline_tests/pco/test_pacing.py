"""Pacing: one budget per credential, the advertised limit never exceeded at the server, no wasted 429s."""

from __future__ import annotations

import math
import threading
import time

import pytest

from pco_pipeline.pco import BasicCredentials, PCOClient, PCOConfig
from pco_pipeline.pco.ratelimit import Abandoned, RateBudget, RateLimitStatus, budget_for, parse_period
from pco_pipeline_tests.pco.conftest import FAST_RETRIES
from pco_pipeline_tests.pco.fake_pco import BASE


@pytest.mark.parametrize("value, seconds", [("20", 20.0), ("20 seconds", 20.0), (" 20 Seconds ", 20.0),
                                            ("1 minute", 60.0), ("0.5", 0.5), ("", None), ("soon", None),
                                            ("20 fortnights", None), (None, None), ("0", None)])
def test_period_header_forms(value, seconds):
    assert parse_period(value) == seconds


def test_rate_headers_are_read_from_any_response():
    status = RateLimitStatus.from_headers({"X-PCO-API-Request-Rate-Limit": "100",
                                           "X-PCO-API-Request-Rate-Period": "20 seconds",
                                           "X-PCO-API-Request-Rate-Count": "118", "Retry-After": "19"})
    assert (status.limit, status.period, status.count, status.retry_after) == (100, 20.0, 118, 19.0)
    assert status.describe() == "100 requests per 20 s, 118 used in the current window"


@pytest.mark.parametrize("window, period_style", [("sliding", "plain"), ("fixed", "seconds")])
def test_a_listing_uses_one_request_per_hundred_records_and_never_a_429(make_fake, make_client, window, period_style):
    fake = make_fake(people=3050, emails_per_person=0, limit=10, period=1.0, window=window,
                     period_style=period_style, latency=0.004)
    client = make_client(fake)
    records = list(client.iter_records("/people/v2/people"))
    assert len(records) == 3050
    assert fake.count(path_contains="/people/v2/people") == math.ceil(3050 / 100)
    assert fake.count(status=429) == 0
    assert fake.most_counted() <= 10
    if window == "sliding":
        assert fake.max_in_window() <= 10
    assert client.counters.snapshot().wait_seconds > 0  # it was the budget, not luck, that kept the pace


def test_threads_and_clients_of_one_credential_share_one_budget(make_fake, credential):
    fake = make_fake(people=1500, emails_per_person=0, limit=10, period=1.0, latency=0.004)
    config = PCOConfig(base_url=BASE, basic=BasicCredentials(*credential), retry=FAST_RETRIES)
    clients = [PCOClient(config, transport=fake.transport()) for _ in range(3)]
    assert clients[0].budget is clients[1].budget is clients[2].budget
    results: dict[int, int] = {}

    def run(i: int) -> None:
        results[i] = sum(1 for _ in clients[i].iter_records("/people/v2/people"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: 1500, 1: 1500, 2: 1500}
    assert fake.count(status=429) == 0
    assert fake.max_in_window() <= 10
    for client in clients:
        client.close()


def test_the_budget_key_is_a_fingerprint_not_the_secret(credential):
    app_id, secret = credential
    config = PCOConfig(base_url=BASE, basic=BasicCredentials(app_id, secret))
    other = PCOConfig(base_url=BASE, basic=BasicCredentials(app_id, secret + "x"))
    assert secret not in config.budget_key() and app_id not in config.budget_key()
    assert config.budget_key() != other.budget_key()
    assert budget_for(config.budget_key()) is budget_for(config.budget_key())
    assert budget_for(config.budget_key()) is not budget_for(other.budget_key())


def test_usage_by_another_process_is_read_from_the_count_header(make_fake, make_client, credential):
    fake = make_fake(people=1000, emails_per_person=0, limit=10, period=1.0)
    for _ in range(8):  # someone else spent 8 of the 10 requests of this window
        fake._rate(f"basic:{credential[0]}", 0, time.monotonic())
    client = make_client(fake)
    assert len(list(client.iter_records("/people/v2/people"))) == 1000
    assert fake.count(status=429) == 0
    assert fake.max_in_window() <= 10  # our requests plus the other process's


def test_deep_offsets_learn_their_stricter_limit(make_fake, make_client):
    fake = make_fake(people=30_450, emails_per_person=0, limit=10, period=1.0, deep_offset_limit=3)
    client = make_client(fake)
    records = list(client.iter_records("/people/v2/people", offset=30_000))
    assert [r.id for r in records] == [str(p) for p in sorted(fake.people)[30_000:]]
    assert client.budget.limit("deep_offset") == 3 and client.budget.limit() == 10
    deep = [a for a in fake.arrivals if int(a.query.get("offset", 0)) > 30_000 and a.status == 200]
    assert len(deep) == 4 and fake.count(status=429) == 0  # learned from the first deep answer


def test_a_429_closes_the_budget_for_every_thread():
    budget = RateBudget(limit=100, period=1.0)
    budget.close_for(0.3)
    waits = []

    def take():
        slot = budget.acquire()
        waits.append(slot.waited)
        budget.release(slot)

    threads = [threading.Thread(target=take) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(waits) == 3 and min(waits) >= 0.25


def test_a_request_occupies_the_budget_until_a_period_after_its_answer():
    budget = RateBudget(limit=2, period=0.4)
    probe = budget.acquire()
    budget.release(probe, RateLimitStatus(limit=2, period=0.4, count=1))
    time.sleep(0.45)
    first, second = budget.acquire(), budget.acquire()
    released = []

    def third():
        slot = budget.acquire()
        released.append(time.monotonic())
        budget.release(slot)

    thread = threading.Thread(target=third)
    thread.start()
    time.sleep(0.1)
    assert not released  # both places are taken while the first two are in flight
    answered = time.monotonic()
    budget.release(first)
    budget.release(second)
    thread.join()
    assert released[0] - answered >= 0.35


def test_until_a_tier_has_an_answer_its_requests_go_one_at_a_time():
    budget = RateBudget(limit=100, period=1.0)
    first = budget.acquire()
    got_second = threading.Event()
    thread = threading.Thread(target=lambda: (budget.acquire(), got_second.set()))
    thread.start()
    assert not got_second.wait(0.1)
    budget.release(first, RateLimitStatus(limit=100, period=1.0, count=1))
    assert got_second.wait(2)
    thread.join()


def _answered(budget: RateBudget, count: int) -> None:
    budget.release(budget.acquire(), RateLimitStatus(limit=3, period=0.5, count=count))


@pytest.mark.parametrize("server", ["fixed window", "sliding window"])
def test_a_window_reset_reported_by_the_count_frees_the_budget_at_once(server):
    budget = RateBudget(limit=3, period=0.5)
    _answered(budget, count=1)  # t≈0: place free again at ≈0.5
    time.sleep(0.25)
    _answered(budget, count=2)  # t≈0.25: places free again at ≈0.75
    _answered(budget, count=3)
    time.sleep(0.3)  # t≈0.55: the first place is free
    # the first request after the period: a fixed-window server has reset (count 1); a sliding
    # one still counts the two requests of t≈0.25 (count 3)
    _answered(budget, count=1 if server == "fixed window" else 3)
    waits = [budget.acquire().waited for _ in range(2)]
    if server == "fixed window":
        assert max(waits) < 0.1  # the server forgot the two: no waiting for their strict expiry
    else:
        assert waits[0] >= 0.1  # still counted by the server: wait until they slide out (≈0.75)


def test_waiting_requests_go_out_in_the_order_they_asked():
    """At a window's reset the page a listing needs next is sent first, not whichever thread wins."""
    budget = RateBudget(limit=1, period=0.2)
    held = budget.acquire()
    order = []

    def wait_then_send(name):
        slot = budget.acquire()
        order.append(name)
        budget.release(slot, RateLimitStatus(limit=1, period=0.2, count=1))

    threads = []
    for name in ["next page", "page after", "later page", "last page"]:
        threads.append(threading.Thread(target=wait_then_send, args=(name,)))
        threads[-1].start()
        time.sleep(0.05)  # each is waiting before the next one asks
    budget.release(held, RateLimitStatus(limit=1, period=0.2, count=1))
    for thread in threads:
        thread.join(5)
    assert order == ["next page", "page after", "later page", "last page"]


def test_an_abandoned_waiter_does_not_hold_up_the_line():
    budget = RateBudget(limit=1, period=0.2)
    held = budget.acquire()
    cancel = threading.Event()
    outcomes = []

    def wait(name, event=None):
        try:
            slot = budget.acquire(cancel=event)
        except Abandoned:
            outcomes.append(f"{name} abandoned")
            return
        outcomes.append(f"{name} sent")
        budget.release(slot, RateLimitStatus(limit=1, period=0.2, count=1))

    first = threading.Thread(target=wait, args=("first", cancel))
    second = threading.Thread(target=wait, args=("second",))
    first.start()
    time.sleep(0.05)
    second.start()
    time.sleep(0.05)
    cancel.set()
    budget.wake_all()
    first.join(5)
    assert outcomes == ["first abandoned"]
    budget.release(held, RateLimitStatus(limit=1, period=0.2, count=1))
    second.join(5)
    assert outcomes == ["first abandoned", "second sent"]

"""Password login: the right password gives the user's identity; failures are rate-limited per
account and per address on an injected clock (nothing sleeps)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from pco_pipeline.accounts.errors import LoginRefused, LoginThrottled
from pco_pipeline.accounts.identity import Identity, Role
from pco_pipeline.accounts.login import (
    ACCOUNT_FAILURE_LIMIT, ADDRESS_FAILURE_LIMIT, FAILURE_WINDOW, PasswordLogin, rate_limit_address,
)
from pco_pipeline.accounts.users import add_user, remove_user, set_password

PASSWORD = "correct horse battery staple"
OFFICE = "203.0.113.7"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def login(engine, clock) -> PasswordLogin:
    add_user(engine, "Alice", Role.ADMIN, PASSWORD)
    return PasswordLogin(engine, clock=clock)


def fail(login: PasswordLogin, times: int, *, name: str = "alice", address: str = OFFICE) -> None:
    for _ in range(times):
        with pytest.raises(LoginRefused):
            login.authenticate(name, "wrong password!!", address)


def test_the_right_password_gives_the_users_identity_and_records_the_login(login, engine, clock):
    assert login.authenticate(" ALICE ", PASSWORD, OFFICE) == Identity("user", "alice", Role.ADMIN)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT last_login_at FROM users")).scalar_one() == clock.now


def test_wrong_password_and_unknown_user_are_refused_alike(login):
    with pytest.raises(LoginRefused) as wrong:
        login.authenticate("alice", "not her password", OFFICE)
    with pytest.raises(LoginRefused) as unknown:
        login.authenticate("mallory", PASSWORD, OFFICE)
    with pytest.raises(LoginRefused):
        login.authenticate("not a valid name!", PASSWORD, OFFICE)
    assert str(wrong.value) == str(unknown.value) == "the user name or password is wrong"


def test_after_the_account_limit_even_the_right_password_is_refused_until_the_window_passes(login, clock):
    fail(login, ACCOUNT_FAILURE_LIMIT - 1)
    clock.advance(timedelta(minutes=5))
    fail(login, 1)  # the limit is reached 5 minutes after the first failure
    with pytest.raises(LoginThrottled) as throttled:
        login.authenticate("alice", PASSWORD, "198.51.100.1")  # from anywhere
    assert throttled.value.retry_after_seconds == (FAILURE_WINDOW - timedelta(minutes=5)).total_seconds()
    clock.advance(FAILURE_WINDOW - timedelta(minutes=5) - timedelta(seconds=1))
    with pytest.raises(LoginThrottled) as still:
        login.authenticate("alice", PASSWORD, OFFICE)
    assert still.value.retry_after_seconds == 1
    clock.advance(timedelta(seconds=1))  # the first failure has left the window
    assert login.authenticate("alice", PASSWORD, OFFICE).name == "alice"


def test_refused_attempts_during_a_lockout_do_not_extend_it(login, clock):
    fail(login, ACCOUNT_FAILURE_LIMIT)
    for _ in range(10):
        clock.advance(timedelta(minutes=1))
        with pytest.raises(LoginThrottled):
            login.authenticate("alice", "still guessing", OFFICE)
    clock.advance(FAILURE_WINDOW - timedelta(minutes=10))
    assert login.authenticate("alice", PASSWORD, OFFICE).role == Role.ADMIN


def test_a_successful_login_clears_the_accounts_failures(login):
    fail(login, ACCOUNT_FAILURE_LIMIT - 1)
    login.authenticate("alice", PASSWORD, OFFICE)
    fail(login, ACCOUNT_FAILURE_LIMIT - 1)
    assert login.authenticate("alice", PASSWORD, OFFICE).name == "alice"


def test_failures_on_one_account_do_not_lock_another(login, engine):
    add_user(engine, "bob", Role.VIEWER, PASSWORD)
    fail(login, ACCOUNT_FAILURE_LIMIT, address="198.51.100.9")
    assert login.authenticate("bob", PASSWORD, OFFICE) == Identity("user", "bob", Role.VIEWER)


def test_the_address_limit_refuses_guesses_across_many_names_from_one_address(login, clock):
    for index in range(ADDRESS_FAILURE_LIMIT):
        fail(login, 1, name=f"guess{index}", address=OFFICE)
    with pytest.raises(LoginThrottled):
        login.authenticate("alice", PASSWORD, OFFICE)
    assert login.authenticate("alice", PASSWORD, "198.51.100.1").name == "alice"  # another address
    clock.advance(FAILURE_WINDOW)
    assert login.authenticate("alice", PASSWORD, OFFICE).name == "alice"


def test_a_success_does_not_clear_the_addresss_failures(login, engine):
    add_user(engine, "mallory", Role.VIEWER, PASSWORD + "!")
    for index in range(ADDRESS_FAILURE_LIMIT - 1):
        fail(login, 1, name=f"guess{index}")
    login.authenticate("mallory", PASSWORD + "!", OFFICE)  # the guesser's own account
    fail(login, 1, name="guess-last")
    with pytest.raises(LoginThrottled):
        login.authenticate("mallory", PASSWORD + "!", OFFICE)


def test_an_ipv6_host_counts_as_its_slash_64(login):
    for index in range(ADDRESS_FAILURE_LIMIT):
        fail(login, 1, name=f"guess{index}", address=f"2001:db8:1:2::{index + 1:x}")
    with pytest.raises(LoginThrottled):
        login.authenticate("alice", PASSWORD, "2001:db8:1:2:ffff::1")
    assert login.authenticate("alice", PASSWORD, "2001:db8:1:3::1").name == "alice"


def test_rate_limit_address_keys():
    assert rate_limit_address("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert rate_limit_address("::ffff:203.0.113.7") == "203.0.113.7"
    assert rate_limit_address(" 203.0.113.7 ") == "203.0.113.7"
    assert rate_limit_address("testclient") == "testclient"


def test_a_new_password_lifts_the_lockout(login, engine):
    fail(login, ACCOUNT_FAILURE_LIMIT)
    set_password(engine, "alice", "a brand new passphrase")
    assert login.authenticate("alice", "a brand new passphrase", OFFICE).name == "alice"
    fail(login, 1)
    with pytest.raises(LoginRefused):
        login.authenticate("alice", PASSWORD, OFFICE)  # the old password no longer works


def test_a_removed_user_can_no_longer_log_in(login, engine):
    remove_user(engine, "alice")
    with pytest.raises(LoginRefused):
        login.authenticate("alice", PASSWORD, OFFICE)


def test_a_hash_made_with_weaker_parameters_is_upgraded_at_the_next_login(login, engine):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET password_hash = :hash"), {"hash": weak})
    login.authenticate("alice", PASSWORD, OFFICE)
    with engine.connect() as conn:
        upgraded = conn.execute(sa.text("SELECT password_hash FROM users")).scalar_one()
    assert upgraded != weak and upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert login.authenticate("alice", PASSWORD, OFFICE).name == "alice"


def test_failures_older_than_the_window_are_pruned(login, engine, clock):
    fail(login, 3)
    clock.advance(FAILURE_WINDOW + timedelta(seconds=1))
    fail(login, 1)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM login_failures")).scalar_one() == 1

"""Password login: verifies a user's password and returns its Identity, rate-limiting failures.

Failed logins are counted in a sliding window, per account and per client address:
- `ACCOUNT_FAILURE_LIMIT` failures for one account within `FAILURE_WINDOW` lock that account:
  every login to it is refused, the right password included and without checking it, until the
  oldest of those failures is `FAILURE_WINDOW` old. A successful login clears the account's
  count (a user who mistyped twice is not one failure away from a lockout all day).
- `ADDRESS_FAILURE_LIMIT` failures from one address (any account, existing or not) within the
  window refuse every login from that address the same way. A success does not clear them: one
  account the guesser owns must not reset the count of guesses at others. The limit is higher
  than the account's because one office often shares one address.
An IPv6 address counts as its /64 network: one host usually holds a whole /64.

A refused (throttled) attempt is not counted again, so a lockout ends when the window says,
however often someone keeps trying. The clock is injected (tests move it; nothing sleeps).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from pco_pipeline.accounts.errors import AccountError, LoginRefused, LoginThrottled
from pco_pipeline.accounts.identity import Identity, Role, normalize_name
from pco_pipeline.accounts.passwords import (
    needs_rehash, rehash_password, spend_verification_time, verify_password,
)

ACCOUNT_FAILURE_LIMIT = 5
ADDRESS_FAILURE_LIMIT = 20
FAILURE_WINDOW = timedelta(minutes=15)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def rate_limit_address(address: str) -> str:
    """The key failures from `address` are counted under: the IP address, an IPv6 one as its /64."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:100] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True)
class _Outcome:
    identity: Identity | None = None
    retry_after_seconds: int | None = None


class PasswordLogin:
    """Checks user name + password logins against the `users` table of `engine`."""

    def __init__(self, engine: sa.Engine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    def authenticate(self, name: str, password: str, address: str) -> Identity:
        """The Identity of user `name` if `password` is theirs, from client `address`.

        Raises LoginThrottled (with the seconds to wait) when too many logins failed recently,
        else LoginRefused for an unknown user or a wrong password (one message for both).
        """
        now = self._clock()
        key = rate_limit_address(address)
        try:
            name = normalize_name(name)
        except AccountError:
            name = ""  # no user has this name; it is counted against the address like any other
        with self._engine.begin() as conn:
            outcome = self._attempt(conn, name, password, key, now)
        if outcome.retry_after_seconds is not None:
            raise LoginThrottled(outcome.retry_after_seconds)
        if outcome.identity is None:
            raise LoginRefused()
        return outcome.identity

    def _attempt(self, conn: sa.Connection, name: str, password: str, address: str, now: datetime) -> _Outcome:
        since = now - FAILURE_WINDOW
        conn.execute(sa.text("DELETE FROM login_failures WHERE failed_at <= :since"), {"since": since})
        # The row lock makes concurrent logins to one account take turns, so each sees the
        # failures recorded before it.
        user = conn.execute(sa.text(
            "SELECT id, role, password_hash FROM users WHERE name = :name FOR UPDATE"), {"name": name}).first()
        locked_until = max(
            (until for until in (
                _locked_until(conn, "user_id", user.id if user else None, ACCOUNT_FAILURE_LIMIT, since),
                _locked_until(conn, "address", address, ADDRESS_FAILURE_LIMIT, since)) if until),
            default=None)
        if locked_until is not None:
            return _Outcome(retry_after_seconds=max(1, _ceil_seconds(locked_until + FAILURE_WINDOW - now)))
        if user is None:
            spend_verification_time(password)
            _record_failure(conn, None, address, now)
            return _Outcome()
        if not verify_password(user.password_hash, password):
            _record_failure(conn, user.id, address, now)
            return _Outcome()
        conn.execute(sa.text("DELETE FROM login_failures WHERE user_id = :id"), {"id": user.id})
        conn.execute(sa.text("UPDATE users SET last_login_at = :now WHERE id = :id"), {"now": now, "id": user.id})
        if needs_rehash(user.password_hash):
            conn.execute(sa.text("UPDATE users SET password_hash = :hash WHERE id = :id"),
                         {"hash": rehash_password(password), "id": user.id})
        return _Outcome(identity=Identity("user", name, Role(user.role)))


def _locked_until(conn: sa.Connection, column: str, value: object, limit: int, since: datetime) -> datetime | None:
    """When `limit` failures or more are in the window, the time of the one whose ageing out ends
    the lockout (the `limit`-th most recent); else None."""
    if value is None:
        return None
    return conn.execute(sa.text(
        f"SELECT failed_at FROM login_failures WHERE {column} = :value AND failed_at > :since"
        " ORDER BY failed_at DESC OFFSET :skip LIMIT 1"),
        {"value": value, "since": since, "skip": limit - 1}).scalar()


def _record_failure(conn: sa.Connection, user_id: int | None, address: str, now: datetime) -> None:
    conn.execute(sa.text("INSERT INTO login_failures (user_id, address, failed_at) VALUES (:user_id, :address, :now)"),
                 {"user_id": user_id, "address": address, "now": now})


def _ceil_seconds(delta: timedelta) -> int:
    return -int(-delta.total_seconds() // 1)

"""API bearer tokens: create (shown once), list, revoke, and verify a presented token.

A token is `pcop_` followed by 32 random bytes in URL-safe base64 (`secrets.token_urlsafe`):
256 bits nobody can guess, with a prefix that people and secret scanners recognise. Only its
SHA-256 is stored. A fast hash is right here, unlike for passwords: the token is random, so
there is nothing to guess from a stolen hash, and a slow hash would only slow every request.
The first `PREFIX_LENGTH` characters are kept in clear as `prefix`: they tell tokens apart in
listings and find the candidate rows, whose hashes are then compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from pco_pipeline.accounts.errors import AccountError
from pco_pipeline.accounts.identity import Identity, Role, normalize_name

TOKEN_PREFIX = "pcop_"
TOKEN_BYTES = 32
TOKEN_PATTERN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")  # 32 bytes → 43 characters
# 8 characters of the random part: 48 of its 256 bits, few enough to leave it unguessable.
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
# `last_used_at` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiToken:
    """A token as listed: its name, role, non-secret prefix and dates; never the token."""

    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewToken:
    """A token just created: `secret` is the token itself, to show once; it is not in the repr."""

    token: ApiToken
    secret: str = field(repr=False)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_token(engine: sa.Engine, name: str, role: Role) -> NewToken:
    """A new token `name` with `role`. Raises AccountError on a bad name or one an unrevoked
    token already has."""
    name = normalize_name(name, what="token name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            "INSERT INTO api_tokens (name, role, token_hash, prefix) VALUES (:name, :role, :hash, :prefix)"
            " ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING"
            " RETURNING name, role, prefix, created_at, last_used_at, revoked_at"),
            {"name": name, "role": role.value, "hash": token_digest(secret), "prefix": secret[:PREFIX_LENGTH]}).first()
    if row is None:
        raise AccountError(f"a token named {name!r} already exists (revoke it first: `tokens revoke {name}`)")
    return NewToken(_token(row), secret)


def list_tokens(engine: sa.Engine) -> list[ApiToken]:
    """Every token, revoked ones included, by name then creation."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT name, role, prefix, created_at, last_used_at, revoked_at FROM api_tokens"
            " ORDER BY name, created_at"))
        return [_token(row) for row in rows]


def revoke_token(engine: sa.Engine, name: str) -> ApiToken:
    """Revoke the unrevoked token `name`: from now on it authenticates nothing.
    Raises AccountError when there is none."""
    name = normalize_name(name, what="token name")
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            "UPDATE api_tokens SET revoked_at = now() WHERE name = :name AND revoked_at IS NULL"
            " RETURNING name, role, prefix, created_at, last_used_at, revoked_at"), {"name": name}).first()
    if row is None:
        raise AccountError(f"there is no unrevoked token named {name!r}")
    return _token(row)


def identify_token(engine: sa.Engine, presented: str) -> Identity | None:
    """The Identity of the unrevoked token `presented`, or None when it is not one.

    Records when the token was last used (at most once per LAST_USED_RESOLUTION).
    """
    if not TOKEN_PATTERN.fullmatch(presented):
        return None
    digest = token_digest(presented)
    with engine.begin() as conn:
        candidates = conn.execute(sa.text(
            "SELECT id, name, role, token_hash FROM api_tokens WHERE prefix = :prefix AND revoked_at IS NULL"),
            {"prefix": presented[:PREFIX_LENGTH]}).all()
        match = next((row for row in candidates if hmac.compare_digest(bytes(row.token_hash), digest)), None)
        if match is None:
            return None
        conn.execute(sa.text(
            "UPDATE api_tokens SET last_used_at = now() WHERE id = :id"
            " AND (last_used_at IS NULL OR last_used_at <= now() - :resolution)"),
            {"id": match.id, "resolution": LAST_USED_RESOLUTION})
    return Identity("token", match.name, Role(match.role))


def _token(row: sa.Row) -> ApiToken:
    return ApiToken(name=row.name, role=Role(row.role), prefix=row.prefix, created_at=row.created_at,
                    last_used_at=row.last_used_at, revoked_at=row.revoked_at)

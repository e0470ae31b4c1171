"""Staff users: add, list, remove, set a password. Verifying a password is `login`'s job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pco_pipeline.accounts.errors import AccountError
from pco_pipeline.accounts.identity import Role, normalize_name
from pco_pipeline.accounts.passwords import hash_password


@dataclass(frozen=True)
class User:
    """A user as listed: never its password hash."""

    name: str
    role: Role
    created_at: datetime
    updated_at: datetime  # when the role or password last changed
    last_login_at: datetime | None


def add_user(engine: sa.Engine, name: str, role: Role, password: str) -> User:
    """Create user `name` with `role` and `password` (checked against the rules, stored hashed).

    Raises AccountError when the name or password breaks a rule, or the name is taken.
    """
    name = normalize_name(name, what="user name")
    password_hash = hash_password(password)
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            "INSERT INTO users (name, role, password_hash) VALUES (:name, :role, :hash)"
            " ON CONFLICT (name) DO NOTHING"
            " RETURNING name, role, created_at, updated_at, last_login_at"),
            {"name": name, "role": role.value, "hash": password_hash}).first()
    if row is None:
        raise AccountError(f"user {name!r} already exists (to change its password: `users set-password {name}`)")
    return _user(row)


def list_users(engine: sa.Engine) -> list[User]:
    """Every user, by name."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT name, role, created_at, updated_at, last_login_at FROM users ORDER BY name"))
        return [_user(row) for row in rows]


def remove_user(engine: sa.Engine, name: str) -> str:
    """Delete user `name` (and its recorded failed logins); return the name as stored.
    Raises AccountError if there is none."""
    name = normalize_name(name, what="user name")
    with engine.begin() as conn:
        removed = conn.execute(sa.text("DELETE FROM users WHERE name = :name RETURNING id"), {"name": name}).first()
    if removed is None:
        raise AccountError(f"there is no user {name!r}")
    return name


def set_password(engine: sa.Engine, name: str, password: str) -> str:
    """Give user `name` a new password, and forget its failed logins (so a user locked out by
    guesses can sign in with the new password at once); return the name as stored. Raises
    AccountError on a broken rule or an unknown user."""
    name = normalize_name(name, what="user name")
    password_hash = hash_password(password)
    with engine.begin() as conn:
        user_id = conn.execute(sa.text(
            "UPDATE users SET password_hash = :hash, updated_at = now() WHERE name = :name RETURNING id"),
            {"name": name, "hash": password_hash}).scalar()
        if user_id is None:
            raise AccountError(f"there is no user {name!r}")
        conn.execute(sa.text("DELETE FROM login_failures WHERE user_id = :id"), {"id": user_id})
    return name


def _user(row: sa.Row) -> User:
    return User(name=row.name, role=Role(row.role), created_at=row.created_at, updated_at=row.updated_at,
                last_login_at=row.last_login_at)

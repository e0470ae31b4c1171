"""Password rules and hashing; tokens stored as SHA-256, verified, revoked."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from pco_pipeline.accounts.errors import AccountError
from pco_pipeline.accounts.identity import Identity, Role, normalize_name
from pco_pipeline.accounts.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from pco_pipeline.accounts.tokens import (
    PREFIX_LENGTH, TOKEN_PATTERN, create_token, identify_token, list_tokens, revoke_token,
)
from pco_pipeline.accounts.users import add_user, list_users


@pytest.mark.parametrize("password, words", [
    ("", "must not be empty"),
    (" " * 20, "only spaces"),
    ("x" * (MIN_PASSWORD_LENGTH - 1), f"at least {MIN_PASSWORD_LENGTH} characters, got {MIN_PASSWORD_LENGTH - 1}"),
    ("x" * 1025, "at most 1024"),
])
def test_a_password_breaking_a_rule_is_refused_saying_which_without_quoting_it(password, words):
    with pytest.raises(AccountError, match=words) as refused:
        hash_password(password)
    assert password.strip() == "" or password not in str(refused.value)


def test_a_password_is_hashed_with_argon2id_and_verifies():
    hashed = hash_password("twelve chars")
    assert hashed.startswith("$argon2id$") and "twelve chars" not in hashed
    assert verify_password(hashed, "twelve chars")
    assert not verify_password(hashed, "twelve chars ")
    assert not verify_password("not a hash", "twelve chars")


@pytest.mark.parametrize("name", ["", "a b", "-lead", "x" * 65, "ümlaut", "semi;colon"])
def test_names_outside_the_rule_are_refused(name):
    with pytest.raises(AccountError, match="must be 1 to 64 letters"):
        normalize_name(name)


def test_add_user_refuses_a_taken_name_case_insensitively(engine):
    add_user(engine, "Alice", Role.VIEWER, "first password!")
    with pytest.raises(AccountError, match="user 'alice' already exists"):
        add_user(engine, "ALICE", Role.ADMIN, "second password!")
    [user] = list_users(engine)
    assert (user.name, user.role) == ("alice", Role.VIEWER)


def test_a_token_is_stored_as_its_sha256_with_a_non_secret_prefix(engine):
    created = create_token(engine, "Reports", Role.VIEWER)
    assert TOKEN_PATTERN.fullmatch(created.secret)
    assert created.secret not in repr(created)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM api_tokens")).one()._mapping
        table_text = " ".join(str(value) for value in row.values())
    assert bytes(row["token_hash"]) == hashlib.sha256(created.secret.encode()).digest()
    assert row["prefix"] == created.secret[:PREFIX_LENGTH] == created.token.prefix
    assert created.secret not in table_text and created.secret[PREFIX_LENGTH:] not in table_text


def test_identify_token_accepts_only_an_unrevoked_token_it_stored(engine):
    viewer = create_token(engine, "reports", Role.VIEWER).secret
    admin = create_token(engine, "ops", Role.ADMIN).secret
    assert identify_token(engine, viewer) == Identity("token", "reports", Role.VIEWER)
    assert identify_token(engine, admin) == Identity("token", "ops", Role.ADMIN)
    same_prefix = viewer[:PREFIX_LENGTH] + ("B" if viewer[PREFIX_LENGTH] != "B" else "C") + viewer[PREFIX_LENGTH + 1:]
    assert identify_token(engine, same_prefix) is None
    assert identify_token(engine, viewer + "x") is None
    assert identify_token(engine, "") is None
    revoke_token(engine, "reports")
    assert identify_token(engine, viewer) is None
    assert identify_token(engine, admin) is not None


def test_a_token_name_is_reusable_only_once_the_token_is_revoked(engine):
    first = create_token(engine, "reports", Role.VIEWER)
    with pytest.raises(AccountError, match="a token named 'reports' already exists"):
        create_token(engine, "reports", Role.ADMIN)
    revoke_token(engine, "reports")
    second = create_token(engine, "reports", Role.ADMIN)
    assert identify_token(engine, second.secret) == Identity("token", "reports", Role.ADMIN)
    assert identify_token(engine, first.secret) is None
    listed = list_tokens(engine)
    assert [(t.name, t.role, t.revoked_at is not None) for t in listed] == [
        ("reports", Role.VIEWER, True), ("reports", Role.ADMIN, False)]
    with pytest.raises(AccountError, match="no unrevoked token named 'nothing'"):
        revoke_token(engine, "nothing")

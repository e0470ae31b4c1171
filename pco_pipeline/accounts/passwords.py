"""The password rules and argon2id hashing (argon2-cffi).

argon2id is memory-hard: each guess against a stolen hash costs 64 MiB and three passes
(RFC 9106's low-memory profile: about 75 ms per hash on this project's 2-core machine), which is what makes offline guessing of
human-chosen passwords slow. The encoded hash carries its own salt and parameters, so raising
them later only needs `needs_rehash` at the next successful login.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pco_pipeline.accounts.errors import AccountError

# NIST SP 800-63B asks for at least 8; these accounts read children's check-in data.
MIN_PASSWORD_LENGTH = 12
# Bounds the work one login may ask for; no real password comes near it.
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


def check_password_rules(password: str) -> None:
    """Raise AccountError saying which rule `password` breaks (never quoting it)."""
    if not password:
        raise AccountError("password must not be empty")
    if not password.strip():
        raise AccountError("password must not be only spaces")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters, got {len(password)}")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash of `password` after checking the rules (raises AccountError)."""
    check_password_rules(password)
    return _hasher.hash(password)


def rehash_password(password: str) -> str:
    """The hash of a password that was accepted when it was set, with today's parameters (the
    rules are not checked again: a rule made stricter later must not break that user's login)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash`. A malformed hash matches nothing."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (rehash it at the next login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def spend_verification_time(password: str) -> None:
    """Do the work of one verification and discard it: a login for a user that does not exist
    then takes as long as one with a wrong password, so timing does not tell which names exist."""
    verify_password(_dummy_hash(), password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not any user's password")

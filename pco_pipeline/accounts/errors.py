"""What the accounts functions raise. Every message is safe to print: it never holds a secret."""

from __future__ import annotations


class AccountError(ValueError):
    """Bad input or a state that refuses the change (a name taken, a user not found)."""


class LoginRefused(Exception):
    """A password login failed: unknown user or wrong password (deliberately not saying which)."""

    def __init__(self) -> None:
        super().__init__("the user name or password is wrong")


class LoginThrottled(Exception):
    """Too many failed logins recently: refused without checking the password.

    `retry_after_seconds` is how long until the next attempt can be checked.
    """

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds

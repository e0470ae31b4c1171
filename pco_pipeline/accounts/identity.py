"""Who is asking: an `Identity` (a user or an API token) with a `Role`, and the names they may have."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pco_pipeline.accounts.errors import AccountError

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")
NAME_RULE = "1 to 64 letters, digits or . _ @ + -, starting with a letter or digit"


class Role(StrEnum):
    """What an identity may do. Roles are ordered: each includes what the ones before it may do."""

    VIEWER = "viewer"  # reads church data
    ADMIN = "admin"    # everything a viewer may, and changes

    def includes(self, required: Role) -> bool:
        """Whether this role may do what `required` may."""
        return _RANK[self] >= _RANK[required]


_RANK = {Role.VIEWER: 1, Role.ADMIN: 2}


def parse_role(text: str) -> Role:
    """The role named `text`. Raises AccountError listing the roles."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise AccountError(f"role must be one of {', '.join(r.value for r in Role)}, got {text!r}") from None


def normalize_name(text: str, *, what: str = "name") -> str:
    """`text` as a user or token name: trimmed and case-folded. Raises AccountError with the rule."""
    name = text.strip().lower()
    if not NAME_PATTERN.fullmatch(name):
        shown = text if len(text) <= 70 else text[:70] + "…"
        raise AccountError(f"{what} must be {NAME_RULE}; got {shown!r}")
    return name


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: a staff user (password login) or an API token, with its role."""

    kind: Literal["user", "token"]
    name: str
    role: Role

    def may(self, required: Role) -> bool:
        return self.role.includes(required)

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.role})"

"""Decoding JSON text within limits, for text nobody has vetted (webhook bodies and their payloads).

Python's decoder recurses once per nested array or object and converts integers of any length
(in time quadratic in their digits, up to a limit the process environment can lift), so text
nested 100,000 deep raises RecursionError and a long integer costs CPU or raises ValueError.
`loads` refuses both before decoding, with a reason that never quotes the text:

- nesting: a pre-scan over the raw text counts bracket depth outside strings, in C-speed passes
  (escapes removed, then strings, then everything but brackets); only text holding more
  brackets than the limit has its depth counted byte by byte;
- integers: at most MAX_INTEGER_DIGITS digits, the least `sys.set_int_max_str_digits` can be
  set to, so an integer decoded here always converts back to text.

Malformed text raises json.JSONDecodeError / UnicodeDecodeError as `json.loads` does.
"""

from __future__ import annotations

import json
import re
from typing import Any

# PCO's webhook bodies nest 4 deep and their payloads about 6.
MAX_DEPTH = 64
MAX_INTEGER_DIGITS = 640

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')  # once escapes are gone, a string holds no quote
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = frozenset(b"[{")


class JSONLimitExceeded(ValueError):
    """The text nests too deep or holds too long a number; `reason` says which (a predicate:
    "is nested deeper than 64 levels")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def nesting_depth_exceeds(text: bytes, limit: int) -> bool:
    """Whether JSON `text` nests arrays/objects more than `limit` deep (brackets inside strings
    do not count). Never recurses; linear in the length of `text`."""
    if text.count(b"[") + text.count(b"{") <= limit:
        return False  # too few brackets to nest that deep
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", text)).translate(None, _NOT_A_BRACKET)
    depth = 0
    for bracket in brackets:
        if bracket in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise JSONLimitExceeded(f"holds a number of more than {MAX_INTEGER_DIGITS} digits")
    return int(digits)


def loads(text: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads(text)`, refusing (JSONLimitExceeded) text nested deeper than `max_depth` or
    holding an integer longer than MAX_INTEGER_DIGITS."""
    if not isinstance(text, (bytes, str)):
        raise TypeError(f"JSON text must be str or bytes, not {type(text).__name__}")
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if nesting_depth_exceeds(raw, max_depth):
        raise JSONLimitExceeded(f"is nested deeper than {max_depth} levels")
    return json.loads(text, parse_int=_bounded_int)

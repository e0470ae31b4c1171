"""Telling a database that refuses the values it was given from a database that is not there.

The difference decides what a writer does next: an outage passes (write again later), a refused
value never will (keep it aside with the reason instead of retrying it).
"""

from __future__ import annotations

import psycopg

# SQLSTATE classes of errors caused by the values a statement was given rather than by the
# database's state: 22 data exception (text the encoding cannot hold, JSON it cannot parse, a
# value out of range), 54 program limit exceeded (an index entry over its size limit).
VALUE_ERROR_CLASSES = ("22", "54")


def refuses_values(exc: BaseException) -> bool:
    """Whether `exc` (psycopg's, raised directly or wrapped by SQLAlchemy) is the database or the
    driver refusing the values it was given: sending the same values again can never succeed.
    False for anything else (an outage, a timeout, a bug)."""
    original = getattr(exc, "orig", None) or exc
    if isinstance(original, UnicodeEncodeError):  # psycopg encodes text (a lone surrogate) before sending it
        return True
    if isinstance(original, psycopg.DataError):  # also psycopg's own refusal of NUL in text
        return True
    return isinstance(original, psycopg.Error) and (original.sqlstate or "")[:2] in VALUE_ERROR_CLASSES

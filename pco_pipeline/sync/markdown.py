"""Markdown table cells from data: what PCO or the church holds must stay inside its cell.

A `|` would end the cell and a line break the row, so `|` is escaped and every line break
(`\\n`, `\\r`, and the other separators `str.splitlines` knows) becomes a space. Dates and times
read as ISO 8601; NULL is an empty cell.
"""

from datetime import date, datetime
from typing import Any


def markdown_cell(value: Any) -> str:
    """`value` as the text of one markdown table cell (see the module docstring)."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    return " ".join(text.replace("|", "\\|").splitlines())

"""Preview tables in asset metadata: a query's rows as a compact markdown table.

Cells are data from PCO or the church: a `|` or a line break in a name must not end the cell or
the row, so both are escaped before the table is drawn. The table is not padded: the Dagster UI
shows a markdown entry inline only while it is under 1,000 characters (longer ones hide behind
"[Show Markdown]"), and ten rows of names fit only without column padding.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa


def cell_text(value: Any) -> str:
    """One cell: empty for NULL, else the value as text with `|` escaped and line breaks as spaces."""
    if value is None:
        return ""
    return " ".join(str(value).replace("|", "\\|").splitlines())


def markdown_preview(conn: sa.Connection, query: sa.TextClause, params: Mapping[str, Any],
                     headers: Sequence[str] | None = None) -> str:
    """The rows `query` returns, as a markdown table headed by `headers` (default: its column names)."""
    result = conn.execute(query, dict(params))
    names = list(headers) if headers is not None else list(result.keys())
    lines = ["| " + " | ".join(cell_text(name) for name in names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(cell_text(value) for value in row) + " |" for row in result]
    return "\n".join(lines)

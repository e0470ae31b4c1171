"""Preview tables in asset metadata: a query's rows as a compact markdown table.

Cells are data from PCO or the church, escaped by `sync.markdown.markdown_cell` (a `|` or a line
break in a name must not end the cell or the row). The table is not padded: the Dagster UI
shows a markdown entry inline only while it is under 1,000 characters (longer ones hide behind
"[Show Markdown]"), and ten rows of names fit only without column padding.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from pco_pipeline.sync.markdown import markdown_cell


def markdown_preview(conn: sa.Connection, query: sa.TextClause, params: Mapping[str, Any],
                     headers: Sequence[str] | None = None) -> str:
    """The rows `query` returns, as a markdown table headed by `headers` (default: its column names)."""
    result = conn.execute(query, dict(params))
    names = list(headers) if headers is not None else list(result.keys())
    lines = ["| " + " | ".join(markdown_cell(name) for name in names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(markdown_cell(value) for value in row) + " |" for row in result]
    return "\n".join(lines)

"""Preview tables in asset metadata: a query's rows, held as a pandas DataFrame, shown as a
compact markdown table.

Cells are data from PCO or the church, escaped by `sync.markdown.markdown_cell` (a `|` or a line
break in a name must not end the cell or the row). The table is not padded, which is why it is
not `DataFrame.to_markdown()`: the Dagster UI shows a markdown entry inline only while it is under
1,000 characters (longer ones hide behind "[Show Markdown]"), and ten rows of names fit only
without column padding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pco_pipeline.sync.markdown import markdown_cell

if TYPE_CHECKING:
    import pandas as pd


def markdown_preview(conn: sa.Connection, query: sa.TextClause, params: Mapping[str, Any],
                     headers: Sequence[str] | None = None) -> str:
    """The rows `query` returns, as a markdown table headed by `headers` (default: its column names)."""
    # Imported here, not at module load: every process that loads the code location (UI, daemon,
    # `pco-pipeline runs`, …) would otherwise pay ~0.16 s for it; only a step that previews needs it.
    import pandas as pd

    result = conn.execute(query, dict(params))
    # dtype=object keeps each value as the database gave it (no NULL → NaN, no int → float).
    frame = pd.DataFrame(result.all(), columns=list(headers or result.keys()), dtype=object)
    return markdown_table(frame)


def markdown_table(frame: pd.DataFrame) -> str:
    """`frame` as an unpadded markdown table, every cell escaped."""
    lines = ["| " + " | ".join(markdown_cell(name) for name in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(markdown_cell(value) for value in row) + " |"
              for row in frame.itertuples(index=False, name=None)]
    return "\n".join(lines)

"""JSON:API error documents, the one error shape every endpoint here answers with."""

from __future__ import annotations

from starlette.responses import JSONResponse


def error_response(status: int, title: str, detail: str, *, parameter: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """`{"errors": [{"status", "title", "detail", "source"?}]}` with HTTP `status`."""
    error: dict = {"status": str(status), "title": title, "detail": detail}
    if parameter is not None:
        error["source"] = {"parameter": parameter}
    return JSONResponse({"errors": [error]}, status_code=status, headers=headers,
                        media_type="application/vnd.api+json")

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


# PCO ignores Retry-After (its retry schedule is fixed), but other clients may honour it.
RETRY_AFTER_SECONDS = 30


def service_unavailable(detail: str) -> JSONResponse:
    """503 with Retry-After: a temporary failure the sender should retry (never 410)."""
    return error_response(503, "Service Unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

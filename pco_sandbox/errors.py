"""PCO's error responses, as an exception the request handlers raise.

Envelope `{"errors": [{"status": "404", "title": …, "detail": …}]}` with the status as a string
(recorded live); 429 uses `code` instead of `status` (documented sample). Some live routes answer
with an HTML page instead of JSON (a PUT anywhere: pypco's recorded `test_put`).
"""

from __future__ import annotations

from typing import Any

NOT_FOUND_DETAIL = "The resource you requested could not be found"

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}

HTML_NOT_FOUND = (
    "<!DOCTYPE html>\n<html>\n<head>\n  <title>Page Not Found | Planning Center</title>\n</head>\n"
    "<body>\n  <h1>Page not found</h1>\n  <p>The page you were looking for doesn't exist.</p>\n"
    "</body>\n</html>\n")


class ApiError(Exception):
    """An error response: HTTP status plus the JSON body (or HTML when `html` is set)."""

    def __init__(self, status: int, errors: list[dict[str, Any]] | None = None, *, html: str | None = None,
                 headers: dict[str, str] | None = None, body: dict[str, Any] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body if body is not None else {"errors": errors or [error_object(status)]}
        self.html = html
        self.headers = headers or {}

    def __str__(self) -> str:
        return f"{self.status}: {self.body}"


def error_object(status: int, detail: str | None = None, **extra: Any) -> dict[str, Any]:
    error = {"status": str(status), "title": _TITLES.get(status, "Error")}
    if detail is not None:
        error["detail"] = detail
    error.update(extra)
    return error


def not_found() -> ApiError:
    return ApiError(404, [error_object(404, NOT_FOUND_DETAIL)])


def html_not_found() -> ApiError:
    return ApiError(404, html=HTML_NOT_FOUND)


def bad_request(detail: str, code: str | None = None) -> ApiError:
    extra = {"code": code} if code else {}
    return ApiError(400, [error_object(400, detail, **extra)])


def missing_data_key() -> ApiError:
    return ApiError(400, [error_object(400, "The payload given does not contain a 'data' key.",
                                       code="invalid_resource_payload")])


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(405, [error_object(405, f"{method} is not allowed on {path}")])


def forbidden_attribute(name: str, resource_type: str) -> dict[str, Any]:
    """One 422 entry for an attribute that cannot be assigned (PCO's documented wording)."""
    return {"status": "422", "title": "Forbidden Attribute", "detail": f"{name} cannot be assigned",
            "source": {"pointer": f"/data/attributes/{name}"}, "meta": {"resource": resource_type}}


def invalid_attribute(name: str, message: str, resource_type: str) -> dict[str, Any]:
    """One 422 entry for a value that fails validation (e.g. `grade must be between -1 and 12`)."""
    return {"status": "422", "title": "Unprocessable Entity", "code": "invalid", "detail": f"{name} {message}",
            "source": {"pointer": f"/data/attributes/{name}"}, "meta": {"resource": resource_type,
                                                                       "attribute": name}}


def unprocessable(errors: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, errors)


def rate_limited(count: int, limit: int, period_text: str, retry_after: int) -> ApiError:
    body = {"errors": [{"code": "429", "title": "Too Many Requests",
                        "detail": f"Rate limit exceeded: {count} of {limit} requests per {period_text}"}]}
    return ApiError(429, body=body, headers={"Retry-After": str(retry_after)})

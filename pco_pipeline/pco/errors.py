"""Typed PCO errors, each with a message a staff member can act on.

Every HTTP error carries the status, PCO's own error detail, the `X-Request-Id` PCO support
asks for, and the method + path (never the query string's secrets: credentials travel only in
headers, and no header value is ever copied into an exception). `error_for_response` maps a
response to the right class; HTML error pages (PCO serves some) are reduced to their title.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Hints PCO appends to auth errors (DOC/errors), translated into what to do about them.
_AUTH_HINTS = {
    "BLACKBIRD": "this kind of credential is not supported for this request",
    "CHINCHILLA": "the OAuth client application is invalid",
    "FLAMINGO": "the user behind these credentials no longer exists",
    "LEMMING": "the organization behind these credentials no longer exists",
    "PELICAN": "the OAuth token lacks the scope for this module",
    "BABOON": "the access token expired",
    "CAPUCHIN": "the token was revoked",
    "TRASH_PANDA": "the person behind these credentials has no access to this PCO app",
}


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of PCO's `errors` array, reduced to what a person can read."""

    title: str | None = None
    detail: str | None = None
    code: str | None = None
    attribute: str | None = None  # from source.pointer / source.parameter when PCO sends one

    def text(self) -> str:
        parts = [p for p in (self.title, self.detail) if p]
        if self.attribute and (not self.detail or self.attribute not in self.detail):
            parts.insert(0, self.attribute)
        return ": ".join(parts) if parts else (self.code or "no detail")


class PCOError(Exception):
    """Base of every error this client raises."""

    def __init__(self, message: str, *, status: int | None = None, method: str | None = None,
                 path: str | None = None, request_id: str | None = None,
                 details: tuple[ErrorDetail, ...] = ()):
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.request_id = request_id
        self.details = details

    @property
    def detail(self) -> str | None:
        """PCO's own words for the error (all entries joined), if it sent any."""
        return "; ".join(d.text() for d in self.details) or None

    def __str__(self) -> str:
        where = f" [{self.method} {self.path}]" if self.method and self.path else ""
        request = f" (X-Request-Id {self.request_id})" if self.request_id else ""
        return f"{self.message}{where}{request}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class PCOConfigError(PCOError):
    """A setting is missing or invalid; the message names the setting."""


class PCOQueryError(PCOError, ValueError):
    """A listing asked for something PCO would silently ignore (unknown where/order/include)."""


class PCOConnectionError(PCOError):
    """PCO could not be reached (connection refused, DNS, timeouts) after every retry."""


class PCOWriteOutcomeUnknown(PCOError):
    """A POST was sent but no answer came back: PCO may or may not have created the record.

    Never retried automatically. Look the record up (e.g. by `remote_id`) before creating again.
    """


class PCOHTTPError(PCOError):
    """PCO answered with an error status."""


class PCOBadRequest(PCOHTTPError):
    """400: malformed request or unsupported X-PCO-API-Version."""


class PCOAuthError(PCOHTTPError):
    """401: the credentials were rejected (or an OAuth refresh failed)."""


class PCOForbiddenError(PCOHTTPError):
    """403: authenticated, but missing an OAuth scope or access to this PCO app."""


class PCONotFound(PCOHTTPError):
    """404: no such record or route."""


class PCOConflictError(PCOHTTPError):
    """409: a concurrent write collided (e.g. two creates of the same unique thing)."""


class PCOValidationError(PCOHTTPError):
    """422: PCO refused the attributes; `problems` lists (attribute, reason) pairs."""

    @property
    def problems(self) -> list[tuple[str | None, str]]:
        return [(d.attribute, d.detail or d.title or d.code or "invalid") for d in self.details]


class PCORateLimited(PCOHTTPError):
    """429 kept coming after every allowed wait (the client normally waits and retries)."""


class PCOServerError(PCOHTTPError):
    """5xx from PCO after every retry."""


def _pointer_attribute(source: Any) -> str | None:
    if not isinstance(source, dict):
        return None
    if isinstance(source.get("pointer"), str):
        return source["pointer"].rstrip("/").rsplit("/", 1)[-1] or None
    if isinstance(source.get("parameter"), str):
        return source["parameter"]
    return None


def parse_error_body(body: bytes, content_type: str = "") -> tuple[ErrorDetail, ...]:
    """PCO error details from a response body: JSON:API `errors`, OAuth errors, or an HTML page."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return ()
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        if isinstance(document.get("errors"), list):
            details = []
            for entry in document["errors"]:
                if not isinstance(entry, dict):
                    continue
                code = entry.get("code") or entry.get("status")
                details.append(ErrorDetail(
                    title=_as_text(entry.get("title")), detail=_as_text(entry.get("detail")),
                    code=_as_text(code), attribute=_pointer_attribute(entry.get("source"))))
            return tuple(details)
        if "error" in document:  # OAuth token endpoint: {"error", "error_description"}
            return (ErrorDetail(title=_as_text(document.get("error")),
                                detail=_as_text(document.get("error_description"))),)
        return ()
    if "html" in content_type or text.lstrip().lower().startswith(("<!doctype", "<html")):
        match = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        title = " ".join(match.group(1).split()) if match else "no title"
        return (ErrorDetail(title="HTML error page", detail=title[:200]),)
    return (ErrorDetail(detail=" ".join(text.split())[:200]),)


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _hint_text(details: tuple[ErrorDetail, ...]) -> str | None:
    blob = " ".join(d.text() for d in details).upper()
    hints = [meaning for hint, meaning in _AUTH_HINTS.items() if hint in blob]
    return "; ".join(hints) or None


def error_for_response(status: int, body: bytes, content_type: str, *, method: str, path: str,
                       request_id: str | None, auth_method: str, module: str | None) -> PCOHTTPError:
    """The typed error for an error response, with an actionable message."""
    details = parse_error_body(body, content_type)
    detail_text = "; ".join(d.text() for d in details)
    said = f" PCO said: {detail_text}." if detail_text else ""
    hint = _hint_text(details)
    hint_text = f" ({hint})" if hint else ""

    def error(kind: type[PCOHTTPError], message: str) -> PCOHTTPError:
        return kind(message, status=status, method=method, path=path, request_id=request_id, details=details)

    if status == 401:
        if auth_method == "oauth":
            action = ("the OAuth access token was refused even after a refresh: reconnect the PCO "
                      "account and update PCO_OAUTH_REFRESH_TOKEN")
        else:
            action = ("check PCO_APP_ID / PCO_SECRET (a personal access token from "
                      "https://api.planningcenteronline.com/oauth/applications)")
        return error(PCOAuthError, f"PCO rejected the credentials (401){hint_text}: {action}.{said}")
    if status == 403:
        scope = f" the '{module}' module" if module else " this module"
        return error(PCOForbiddenError,
                     f"PCO refused access (403){hint_text}: the credentials are valid but cannot use{scope}; "
                     f"grant the OAuth scope or give the user access to that PCO app.{said}")
    if status == 404:
        return error(PCONotFound, f"not found in PCO (404).{said}")
    if status == 409:
        return error(PCOConflictError, f"PCO reported a conflicting concurrent write (409).{said}")
    if status == 422:
        problems = "; ".join(
            f"{d.attribute or 'a field'}: {d.detail or d.title or 'invalid'}" for d in details) or "no detail"
        return error(PCOValidationError, f"PCO refused the data (422): {problems}.")
    if status == 429:
        return error(PCORateLimited, f"PCO kept answering 429 Too Many Requests after every allowed wait.{said}")
    if status >= 500:
        return error(PCOServerError, f"PCO failed with a server error ({status}) after every retry.{said}")
    if status == 400:
        return error(PCOBadRequest, f"PCO refused the request as malformed (400).{said}")
    return error(PCOHTTPError, f"PCO answered {status}.{said}")

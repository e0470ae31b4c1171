"""The console's HTML: Jinja2 templates with autoescaping always on, so text from PCO or the church
(a name such as `<script>…</script>`) is shown as text, never run.

Every page gets `identity` (the signed-in user, or None), `csrf_token` (for its forms) and
`may_act` (whether the user may use the admin actions, to show or hide their buttons; the routes
check the role themselves).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pco_pipeline.accounts.identity import Role
from pco_pipeline.console.session import CSRF_FIELD, csrf_token

TEMPLATES = Path(__file__).resolve().parent / "templates"


def when(value: datetime | None) -> str:
    """A moment for staff: UTC to the second, '–' when there is none."""
    if value is None:
        return "–"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def json_text(value: Any) -> str:
    """A JSON value as staff read it (`"Smith"`, `null`, `3`), as text: autoescaping makes it safe."""
    return json.dumps(value, ensure_ascii=False, default=str)


def ago(value: datetime | None) -> str:
    """How long ago `value` was: '42 s', '7 min', '3 h', '2 d'; '–' when there is none."""
    if value is None:
        return "–"
    seconds = max(0, int((datetime.now(timezone.utc) - value).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


class Pages:
    """Renders the console's templates."""

    def __init__(self, *, dagster_url: str) -> None:
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)
        self.environment.filters.update(when=when, ago=ago, json_text=json_text)
        self.environment.globals.update(dagster_url=dagster_url, csrf_field=CSRF_FIELD)

    def render(self, request: Request, template: str, context: dict[str, Any] | None = None, *,
               status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
        identity = getattr(request.state, "identity", None)
        values = {"request": request, "identity": identity, "csrf_token": csrf_token(request),
                  "may_act": identity is not None and identity.may(Role.ADMIN), **(context or {})}
        html = self.environment.get_template(template).render(values)
        return HTMLResponse(html, status_code=status_code, headers=headers)

    def refusal(self, request: Request, status_code: int, title: str, detail: str, *,
                headers: dict[str, str] | None = None) -> HTMLResponse:
        """A page saying why the request was refused."""
        return self.render(request, "refusal.html", {"title": title, "detail": detail},
                           status_code=status_code, headers=headers)

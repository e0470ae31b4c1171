"""The staff console's ASGI app: pages for viewers, actions for admins, behind a password sign-in.

Who may use what, in one place (`ROUTE_ROLES`, path → least role; every other route is public
and says why). Every route is a `ConsoleRoute` (a `ProtectedRoute`) or a `PublicRoute` of
`api.access`, and the app refuses to start otherwise. Every POST carries the session's CSRF token
(`security.CsrfMiddleware`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from pco_pipeline.accounts.errors import LoginRefused, LoginThrottled
from pco_pipeline.accounts.identity import Role
from pco_pipeline.accounts.login import PasswordLogin
from pco_pipeline.api.access import PublicRoute, check_every_route_declares_access
from pco_pipeline.console import dashboard, launch
from pco_pipeline.console.conflicts_review import conflicts_page, person_conflicts, shown_version
from pco_pipeline.console.conflicts_review import decide as decide_conflicts
from pco_pipeline.console.decisions import DecisionRefused, declare_distinct, record_decision
from pco_pipeline.console.person_history import person_history
from pco_pipeline.console.rendering import Pages
from pco_pipeline.console.review import load_review, open_quarantine
from pco_pipeline.console.security import (
    LOGIN_PATH, ConsoleRoute, CsrfMiddleware, SessionReader, account_version, safe_next,
)
from pco_pipeline.console.session import end_session, start_session
from pco_pipeline.console.settings import ConsoleSettings
from pco_pipeline.db.sync_log import recent_runs
from pco_pipeline.pco.connection import ConnectionReport, check_connection
from pco_pipeline.sync.conflicts import ConflictError
from pco_pipeline.sync.people_push import HELD_CANDIDATES
from pco_pipeline.webhooks.database import make_engine
from pco_pipeline.webhooks.listener import (
    HEALTH_PATH, UNAVAILABLE, closing_lifespan, database_unavailable_handlers, health_endpoint,
)

STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"htmx.min.js": "text/javascript", "htmx.LICENSE": "text/plain", "console.css": "text/css"}
SESSION_COOKIE = "pco_console_session"
T = TypeVar("T")

# The least role that may use each route. Viewers read; admins act (launch, test, decide).
ROUTE_ROLES: dict[str, Role] = {
    "/": Role.VIEWER,
    "/logout": Role.VIEWER,
    "/connection/test": Role.ADMIN,
    "/actions": Role.VIEWER,
    "/actions/progress": Role.VIEWER,
    "/actions/launch": Role.ADMIN,
    "/quarantine": Role.VIEWER,
    "/quarantine/{quarantine_id:int}": Role.VIEWER,
    "/quarantine/{quarantine_id:int}/decision": Role.ADMIN,
    "/people/{person_id:int}": Role.VIEWER,
    "/people/{person_id:int}/distinct": Role.ADMIN,
    "/conflicts": Role.VIEWER,
    "/conflicts/decision": Role.ADMIN,
}


@dataclass(frozen=True)
class ConnectionCheck:
    report: ConnectionReport
    checked_at: datetime
    checked_by: str


class Console:
    """The endpoints, sharing the engine, the settings, the templates and the last connection check."""

    def __init__(self, engine: sa.Engine, settings: ConsoleSettings, pages: Pages, database_label: str,
                 check: Callable[[], ConnectionReport]) -> None:
        self.engine, self.settings, self.pages = engine, settings, pages
        self.database_label = database_label
        self.login = PasswordLogin(engine)
        self.check = check
        self.last_check: ConnectionCheck | None = None

    def _read(self, work: Callable[[sa.Connection], T]) -> Awaitable[T]:
        def run() -> T:
            with self.engine.connect() as conn:
                return work(conn)
        return run_in_threadpool(run)

    # --- signing in and out -----------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        return self.pages.render(request, "login.html", {"next": safe_next(request.query_params.get("next")),
                                                         "error": None, "name": ""})

    async def login_submit(self, request: Request) -> Response:
        form = request.state.form
        name, password = form.get("name", ""), form.get("password", "")
        target = safe_next(form.get("next"))
        address = request.client.host if request.client else "unknown"
        try:
            identity = await run_in_threadpool(self.login.authenticate, name, password, address)
        except LoginThrottled as exc:
            return self.pages.render(request, "login.html", {"next": target, "error": str(exc), "name": name},
                                     status_code=429, headers={"Retry-After": str(exc.retry_after_seconds)})
        except LoginRefused as exc:
            return self.pages.render(request, "login.html", {"next": target, "error": str(exc), "name": name},
                                     status_code=401)
        since = await self._read(lambda conn: account_version(conn, identity.name))
        start_session(request, identity.name, str(since))
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        end_session(request)
        return RedirectResponse(LOGIN_PATH, status_code=303)

    # --- dashboard ----------------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        data = await self._read(lambda conn: dashboard.load_dashboard(conn, self.database_label))
        return self.pages.render(request, "dashboard.html", {"data": data, "check": self.last_check})

    async def test_connection(self, request: Request) -> Response:
        report = await run_in_threadpool(self.check)
        self.last_check = ConnectionCheck(report, datetime.now(timezone.utc), request.state.identity.name)
        return RedirectResponse("/", status_code=303)

    # --- actions ------------------------------------------------------------------------------

    async def _runs(self) -> tuple[list, list]:
        running = await self._read(dashboard.running)
        return running, await run_in_threadpool(recent_runs, self.engine)

    async def actions(self, request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
        running, recent = await self._runs()
        launched = request.query_params.get("launched")
        return self.pages.render(request, "actions.html", {
            "jobs": launch.launchable_jobs(), "running": running, "recent": recent, "error": error,
            "launched": launched, "launched_url": launch.run_url(self.settings.dagster_url, launched) if launched
            else None, "launched_job": request.query_params.get("job")}, status_code=status_code)

    async def progress(self, request: Request) -> Response:
        running, recent = await self._runs()
        return self.pages.render(request, "progress.html", {"running": running, "recent": recent})

    async def launch(self, request: Request) -> Response:
        form = request.state.form
        job = launch.job_named(form.get("job", ""))
        if job is None:
            return await self.actions(request, error=f"there is no job {form.get('job', '')!r} to launch",
                                      status_code=400)
        dry_run = form.get("dry_run") == "true"
        try:
            run_id = await run_in_threadpool(launch.launch, self.settings.dagster_url, job, dry_run=dry_run,
                                             launched_by=request.state.identity.name)
        except launch.LaunchFailed as exc:
            return await self.actions(request, error=str(exc), status_code=503)
        label = f"{job.name} (dry run)" if dry_run else job.name
        return RedirectResponse("/actions?" + urlencode({"launched": run_id, "job": label}), status_code=303)

    # --- quarantine review ----------------------------------------------------------------------

    async def quarantine(self, request: Request) -> Response:
        def read(conn: sa.Connection) -> tuple[list, list]:
            held = conn.execute(sa.text(
                f"SELECT h.person_id, h.pco_person, h.linked_to, p.first_name, p.last_name"
                f" FROM ({HELD_CANDIDATES}) h JOIN people p ON p.id = h.person_id"
                f" WHERE p.pco_id IS NULL AND h.linked_to IS NOT NULL ORDER BY h.person_id")).all()
            return open_quarantine(conn), list(held)
        rows, held = await self._read(read)
        return self.pages.render(request, "quarantine.html", {"rows": rows, "held": held})

    async def review(self, request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
        quarantine_id = request.path_params["quarantine_id"]
        review = await self._read(lambda conn: load_review(conn, quarantine_id))
        if review is None:
            return self.pages.refusal(request, 404, "Not found", f"there is no quarantine entry {quarantine_id}")
        return self.pages.render(request, "review.html", {"review": review, "error": error,
                                                          "decided": request.query_params.get("decided")},
                                 status_code=status_code)

    async def decide(self, request: Request) -> Response:
        form = request.state.form
        quarantine_id = request.path_params["quarantine_id"]
        person = form.get("person_id", "")
        if person and not person.isdigit():
            return await self.review(request, error=f"person_id must be a church person's id, got {person!r}",
                                     status_code=400)
        try:
            await run_in_threadpool(record_decision, self.engine, quarantine_id, form.get("decision", ""),
                                    person_id=int(person) if person else None, version=form.get("version", ""),
                                    decided_by=request.state.identity.name)
        except DecisionRefused as exc:
            return await self.review(request, error=str(exc), status_code=409)
        return RedirectResponse(f"/quarantine/{quarantine_id}?decided=1", status_code=303)

    async def distinct(self, request: Request) -> Response:
        form = request.state.form
        person_id = request.path_params["person_id"]
        pco_person = form.get("pco_person_id", "").strip()
        try:
            await run_in_threadpool(declare_distinct, self.engine, person_id, pco_person,
                                    decided_by=request.state.identity.name)
        except DecisionRefused as exc:
            return self.pages.refusal(request, 409, "Not recorded", str(exc))
        return RedirectResponse(safe_next(form.get("next")), status_code=303)

    # --- conflicts review --------------------------------------------------------------------------

    async def conflicts(self, request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
        page = await self._read(conflicts_page)
        return self.pages.render(request, "conflicts.html", {
            "page": page, "error": error, "version_of": shown_version,
            "decided_count": request.query_params.get("decided")}, status_code=status_code)

    async def decide_conflicts(self, request: Request) -> Response:
        form = request.state.form
        ids_text = form.get("ids", "")
        if not re.fullmatch(r"[0-9]+(,[0-9]+)*", ids_text):
            return await self.conflicts(request, error=f"ids must be conflict ids separated by commas, got {ids_text!r}",
                                        status_code=400)
        take = form.get("take") or None
        value = form.get("value") if form.get("decision") == "value" else None
        if take not in (None, "church", "pco"):
            return await self.conflicts(request, error=f"take must be church or pco, got {take!r}", status_code=400)
        try:
            decided = await run_in_threadpool(
                decide_conflicts, self.engine, [int(i) for i in ids_text.split(",")], form.get("version", ""),
                decided_by=request.state.identity.name, take=take, value=value)
        except ConflictError as exc:
            return await self.conflicts(request, error=str(exc), status_code=409)
        return RedirectResponse(f"/conflicts?decided={decided}", status_code=303)

    # --- a person's sync page -------------------------------------------------------------------

    async def person(self, request: Request) -> Response:
        person_id = request.path_params["person_id"]
        history = await self._read(lambda conn: person_history(conn, person_id))
        conflicts = await self._read(lambda conn: person_conflicts(conn, person_id))
        if history is None:
            return self.pages.refusal(request, 404, "Not found", f"there is no church person {person_id}")
        return self.pages.render(request, "person.html", {"history": history, "conflicts": conflicts})

    # --- public ----------------------------------------------------------------------------------

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name],
                            headers={"Cache-Control": "public, max-age=3600"})


def create_console_app(database_url: str, settings: ConsoleSettings, *,
                       check: Callable[[], ConnectionReport] = check_connection) -> Starlette:
    """The console on `database_url` (migrated). `check` tests the PCO connection (default: the
    settings in the environment, as `pco-pipeline check-connection`)."""
    engine = make_engine(database_url)
    pages = Pages(dagster_url=settings.dagster_url)
    console = Console(engine, settings, pages, make_url(database_url).render_as_string(hide_password=True), check)
    readers = [SessionReader(engine)]

    def protected(path: str, endpoint, *, methods=("GET",)) -> ConsoleRoute:
        return ConsoleRoute(path, endpoint, required_role=ROUTE_ROLES[path], readers=readers, pages=pages,
                            methods=methods)

    async def ping() -> None:
        await run_in_threadpool(_ping, engine)

    async def close() -> None:
        engine.dispose()

    routes = [
        PublicRoute(LOGIN_PATH, console.login_page, why_public="the sign-in form; shows no church data"),
        PublicRoute(LOGIN_PATH, console.login_submit, methods=("POST",),
                    why_public="checks a password (rate-limited); shows no church data"),
        PublicRoute("/static/{name}", console.static,
                    why_public="the console's stylesheet and htmx (a fixed list of files); no church data"),
        PublicRoute(HEALTH_PATH, health_endpoint(ping, UNAVAILABLE),
                    why_public="says only whether the database answers; no church data"),
        protected("/", console.dashboard),
        protected("/logout", console.logout, methods=("POST",)),
        protected("/connection/test", console.test_connection, methods=("POST",)),
        protected("/actions", console.actions),
        protected("/actions/progress", console.progress),
        protected("/actions/launch", console.launch, methods=("POST",)),
        protected("/quarantine", console.quarantine),
        protected("/quarantine/{quarantine_id:int}", console.review),
        protected("/quarantine/{quarantine_id:int}/decision", console.decide, methods=("POST",)),
        protected("/people/{person_id:int}", console.person),
        protected("/people/{person_id:int}/distinct", console.distinct, methods=("POST",)),
        protected("/conflicts", console.conflicts),
        protected("/conflicts/decision", console.decide_conflicts, methods=("POST",)),
    ]
    check_every_route_declares_access(routes)
    middleware = [
        Middleware(SessionMiddleware, secret_key=settings.session_secret, session_cookie=SESSION_COOKIE,
                   max_age=settings.session_seconds, same_site="strict", https_only=settings.secure_cookies),
        Middleware(CsrfMiddleware, pages=pages),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=database_unavailable_handlers(),
                     lifespan=closing_lifespan(close))


def _ping(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))

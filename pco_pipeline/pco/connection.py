"""The "Test Connection" button: are the PCO settings right, and what can they reach?

`check_connection(environ)` (or `check_client(client)`) answers, without creating or changing
anything in PCO:
- whether credentials are configured, and which setting is missing or wrong;
- the organization's name (`GET /people/v2`), the auth method, the current rate limit (headers);
- for People, Groups, Check-Ins, Calendar and Webhooks: can the credentials **read** (a
  `GET … per_page=1` on a representative collection: 200 yes, 403 no, with PCO's reason) and
  **write**.

Writes cannot be tried without creating data, so they are inferred, and the report says from what:
- a module that cannot be read cannot be written (OAuth scopes and app access cover both);
- People: the connected person's own record (`GET /people/v2/me`): an organization administrator
  or `people_permissions` Editor/Manager can write; Viewer/none cannot;
- Groups: an organization administrator can; otherwise PCO exposes no Groups role we can read
  reliably, so the answer is "unknown" (a push then reports PCO's 403 with the missing access);
- Webhooks: subscriptions belong to the connected user, so whoever can read them can create them;
- Check-Ins and Calendar: "not used" — PCO's Check-Ins API is read-only and this product only
  reads Calendar.
About 7 requests in all, paced by the credential's budget like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.config import PCOConfig, RetryPolicy
from pco_pipeline.pco.errors import (PCOAuthError, PCOConfigError, PCOConnectionError, PCOError,
                                     PCOForbiddenError, PCONotFound)


@dataclass(frozen=True)
class ModuleProbe:
    key: str
    label: str
    path: str
    scope: str


MODULES = (
    ModuleProbe("people", "People", "/people/v2/people", "people"),
    ModuleProbe("groups", "Groups", "/groups/v2/groups", "groups"),
    ModuleProbe("check-ins", "Check-Ins", "/check-ins/v2/events", "check_ins"),
    ModuleProbe("calendar", "Calendar", "/calendar/v2/events", "calendar"),
    ModuleProbe("webhooks", "Webhooks", "/webhooks/v2/webhook_subscriptions", "webhooks"),
)
_NOT_WRITTEN = {"check-ins": "not used (PCO's Check-Ins API is read-only)",
                "calendar": "not used (this product only reads Calendar)"}
# A test of the settings should answer quickly: one retry, not a sync's patient backoff.
QUICK_RETRIES = RetryPolicy(max_retries=1, backoff_base=0.2, max_rate_limit_waits=3)
_AUTH_NAMES = {"basic": "personal access token (HTTP Basic)", "oauth": "OAuth 2 bearer token"}


@dataclass
class ModuleAccess:
    module: str
    read: str    # "yes" | "no" | "error"
    write: str   # "yes" | "no" | "unknown" | "not used"
    detail: str = ""


@dataclass
class ConnectionReport:
    ok: bool = False
    configured: bool = False
    problem: str | None = None      # what is wrong, naming the setting
    base_url: str | None = None
    auth_method: str | None = None
    organization: str | None = None
    organization_id: str | None = None
    rate_limit: str | None = None
    modules: list[ModuleAccess] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report as a person reads it."""
        lines = [f"PCO connection: {'OK' if self.ok else 'NOT WORKING'}"]
        if self.problem:
            lines.append(f"  problem:      {self.problem}")
        for label, value in (("API", self.base_url), ("organization", self._organization_text()),
                             ("auth", self.auth_method), ("rate limit", self.rate_limit)):
            if value:
                lines.append(f"  {label + ':':<13} {value}")
        if self.modules:
            lines.append(f"  {'module':<10} {'read':<6} write")
            for access in self.modules:
                detail = f"  ({access.detail})" if access.detail else ""
                lines.append(f"  {access.module:<10} {access.read:<6} {access.write}{detail}")
        return lines

    def _organization_text(self) -> str | None:
        if self.organization is None:
            return None
        return f"{self.organization} (id {self.organization_id})" if self.organization_id else self.organization

    def modules_markdown(self) -> str:
        rows = ["| module | read | write | detail |", "|---|---|---|---|"]
        rows += [f"| {m.module} | {m.read} | {m.write} | {m.detail} |" for m in self.modules]
        return "\n".join(rows)


def check_connection(environ: Mapping[str, str] | None = None, **client_options) -> ConnectionReport:
    """Check the settings in `environ` (default: the process environment); answers within seconds."""
    try:
        config = PCOConfig.from_env(environ, retry=QUICK_RETRIES).validated()
    except PCOConfigError as exc:
        return ConnectionReport(problem=exc.message)
    with PCOClient(config, **client_options) as client:
        return check_client(client)


def check_client(client: PCOClient) -> ConnectionReport:
    """Probe an existing client (see the module docstring)."""
    report = ConnectionReport(configured=True, base_url=client.config.base_url)
    report.auth_method = _AUTH_NAMES.get(client.auth_method, client.auth_method)
    try:
        response = client.request("GET", "/people/v2")
    except PCOError as exc:
        report.problem = _problem_text(exc, client)
        _note_rate(report, client)
        return report
    organization = (response.data or {}).get("data") or {}
    report.organization = (organization.get("attributes") or {}).get("name")
    report.organization_id = organization.get("id")
    if response.auth_method:
        report.auth_method += f"; PCO says {response.auth_method}"

    me = _me(client)
    for probe in MODULES:
        report.modules.append(_probe(client, probe, me))
    _note_rate(report, client)
    people = report.modules[0]
    report.ok = people.read == "yes"
    if not report.ok:
        report.problem = f"the credentials cannot read People: {people.detail}"
    return report


def _note_rate(report: ConnectionReport, client: PCOClient) -> None:
    if client.rate_limit is not None:
        report.rate_limit = client.rate_limit.describe()


def _problem_text(exc: PCOError, client: PCOClient) -> str:
    if isinstance(exc, PCOAuthError):
        return exc.message
    if isinstance(exc, PCOConnectionError):
        return exc.message
    if isinstance(exc, PCOForbiddenError):
        return f"the credentials are accepted but cannot read the organization: {exc.message}"
    if isinstance(exc, PCONotFound):
        return (f"{client.config.base_url}/people/v2 was not found: check PCO_API_BASE "
                "(it should be the API root, e.g. https://api.planningcenteronline.com)")
    return str(exc)


def _me(client: PCOClient) -> dict[str, Any] | None:
    """The connected person's attributes, or None when PCO does not say (e.g. no /me route)."""
    try:
        data = (client.request("GET", "/people/v2/me").data or {}).get("data") or {}
    except PCOError:
        return None
    return data.get("attributes") if isinstance(data.get("attributes"), dict) else None


def _probe(client: PCOClient, probe: ModuleProbe, me: dict[str, Any] | None) -> ModuleAccess:
    scopes = client.oauth_scopes
    try:
        client.request("GET", probe.path, params=[("per_page", "1")])
    except PCOForbiddenError as exc:
        lacking = f"the OAuth token lacks the '{probe.scope}' scope" if scopes is not None and \
            probe.scope not in scopes else (exc.detail or "access refused")
        return ModuleAccess(probe.label, "no", "no", f"403: {lacking}")
    except PCOError as exc:
        return ModuleAccess(probe.label, "error", "unknown", exc.message)
    write, detail = _write_access(probe.key, me)
    return ModuleAccess(probe.label, "yes", write, detail)


def _write_access(module: str, me: dict[str, Any] | None) -> tuple[str, str]:
    if module in _NOT_WRITTEN:
        return "not used", _NOT_WRITTEN[module].removeprefix("not used (").rstrip(")")
    if module == "webhooks":
        return "yes", "subscriptions belong to the connected user"
    if me is None:
        return "unknown", "PCO did not say who the credentials belong to (GET /people/v2/me)"
    admin = bool(me.get("site_administrator"))
    if module == "people":
        permission = me.get("people_permissions")
        if admin or permission in ("Editor", "Manager"):
            return "yes", "organization administrator" if admin else f"people_permissions={permission}"
        return "no", f"people_permissions={permission or 'none'}: ask an administrator for Editor access"
    if admin:
        return "yes", "organization administrator"
    return "unknown", "not an organization administrator; PCO exposes no readable Groups role"

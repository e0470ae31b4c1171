"""`Sandbox`: one simulated Planning Center organization and everything around it.

    sandbox = Sandbox(SandboxConfig(rate_limit="100/2s"))        # empty organization
    sandbox = Sandbox.seeded(people=2000, seed=1)                 # the synthetic church
    sandbox = Sandbox.open(path, people=2000, seed=1)             # kept in a snapshot file (persistence.py)
    sandbox.load({"people/people": [...], "people/emails": [...]})

    sandbox.app                     # the ASGI app (in-process: httpx.ASGITransport(app=sandbox.app))
    sandbox.client()                # a sync httpx.Client talking to it in-process, authenticated
    with run_sandbox_server(sandbox) as base_url: ...             # real HTTP on loopback (server.py)
    sandbox.controls                # mutate records, merge, clock, faults, logs (controls.py)
    sandbox.webhooks                # subscriptions, deliveries, flush / wait (webhooks.py)

The composition root: it owns the store, the clock, auth, the rate limiter, the faults, the
request log, the writer and the webhook hub, and hands the app, the controls and the snapshot
code only the parts each declares it needs (app.ServedSandbox, controls.ControlledSandbox,
persistence.KeptSandbox), so none of them imports this module. `publish()` turns every change
into webhook deliveries.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from pco_sandbox import persistence
from pco_sandbox.app import SandboxApp
from pco_sandbox.auth import ALL_SCOPES, DEMO_APP_ID, DEMO_SECRET, Auth
from pco_sandbox.clock import Clock
from pco_sandbox.controls import Controls
from pco_sandbox.documents import RenderCache, Renderer
from pco_sandbox.faults import Faults
from pco_sandbox.query import ListQuery, ResultCache
from pco_sandbox.ratelimit import RateLimit, RateLimiter
from pco_sandbox.requestlog import RequestLog
from pco_sandbox.schema import Kind
from pco_sandbox.store import Record, Store
from pco_sandbox.transport import InProcessTransport
from pco_sandbox.webhooks import WebhookHub
from pco_sandbox.writes import Change, Writer

DEFAULT_ORGANIZATION_ID = "1000001"


@dataclass
class SandboxConfig:
    """Everything configurable about a sandbox. Defaults are PCO's (100 requests / 20 s, …)."""

    app_id: str | None = None            # None: env PCO_APP_ID, else the demo pair
    secret: str | None = None            # None: env PCO_SECRET, else the demo pair
    scopes: Iterable[str] = ALL_SCOPES
    rate_limit: str | RateLimit = "100/20s"
    deep_offset_limit: int = 75
    deep_offset_threshold: int = 30_000
    latency_ms: float = 0.0              # added to every request
    fault_rate: float = 0.0              # chance of a 503 per request
    fault_seed: int | None = None
    organization_id: str = DEFAULT_ORGANIZATION_ID
    organization_name: str = "Sandbox Community Church"
    time_zone: str = "America/Los_Angeles"
    country_code: str = "US"
    clock_start: datetime | None = None
    clock_frozen: bool = False
    webhook_time_scale: float = 1.0      # multiplies PCO's retry delays (0.001 for tests)
    webhook_timeout: float = 10.0
    webhook_transport: httpx.BaseTransport | None = None
    public_base_url: str = "https://api.planningcenteronline.com"  # links inside webhook payloads


def resolve_credentials(app_id: str | None, secret: str | None) -> tuple[str, str, str]:
    """(app id, secret, where they came from): arguments, else PCO_APP_ID / PCO_SECRET, else the demo pair."""
    if app_id and secret:
        return app_id, secret, "arguments"
    if app_id or secret:
        raise ValueError("give both --app-id and --secret (or neither)")
    env_id, env_secret = os.environ.get("PCO_APP_ID"), os.environ.get("PCO_SECRET")
    if env_id and env_secret:
        return env_id, env_secret, "environment (PCO_APP_ID / PCO_SECRET)"
    return DEMO_APP_ID, DEMO_SECRET, "demo pair"


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None, data: Mapping[str, Any] | None = None) -> None:
        self.config = config = config or SandboxConfig()
        self.clock = Clock(config.clock_start, frozen=config.clock_frozen)
        self.store = Store()
        self.time_zone = ZoneInfo(config.time_zone)
        self.app_id, self.secret, self.credentials_source = resolve_credentials(config.app_id, config.secret)
        self.auth = Auth(self.clock, self.app_id, self.secret, config.scopes)
        rate = config.rate_limit if isinstance(config.rate_limit, RateLimit) else RateLimit.parse(config.rate_limit)
        self.limiter = RateLimiter(rate, deep_offset_limit=config.deep_offset_limit,
                                   deep_offset_threshold=config.deep_offset_threshold)
        self.faults = Faults(config.fault_seed)
        if config.latency_ms:
            self.faults.add("latency", latency_ms=config.latency_ms)
        if config.fault_rate:
            self.faults.add("error", probability=config.fault_rate, status=503)
        self.requests = RequestLog()
        self.writer = Writer(self.store, self.clock, config.country_code)
        self.results = ResultCache()
        self.render_cache = RenderCache()
        self.public_base_url = config.public_base_url
        self.organization = Record("Organization", config.organization_id, {
            "name": config.organization_name, "time_zone": config.time_zone, "country_code": config.country_code,
            "date_format": "%m/%d/%Y", "created_at": self.clock.timestamp(), "avatar_url": None,
            "church_center_subdomain": "sandbox", "contact_phone_number": None, "contact_website": None}, {})
        self.webhooks = WebhookHub(self.store, self.clock, organization_id=config.organization_id,
                                   render_payload=self._render_payload, time_scale=config.webhook_time_scale,
                                   timeout=config.webhook_timeout, transport=config.webhook_transport)
        self.controls = Controls(self)
        # Called with (kind, rows of the page) after each listing page is served, under the store
        # lock, before its answer leaves (controls.churn_between_pages).
        self.after_listing_page: list[Callable[[Kind, list[Record]], None]] = []
        self._apps: dict[bool, Any] = {}
        if data:
            self.load(data)

    @classmethod
    def seeded(cls, people: int = 2000, seed: int = 1, config: SandboxConfig | None = None) -> "Sandbox":
        """A sandbox holding the deterministic synthetic church's organization (pco_sandbox.seed)."""
        from pco_sandbox.seed import generate_organization

        sandbox = cls(config)
        sandbox.load(generate_organization(people=people, seed=seed, now=sandbox.clock.now()).pco)
        return sandbox

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, people: int = 2000, seed: int = 1,
             config: SandboxConfig | None = None) -> "Sandbox":
        """The sandbox kept in the snapshot file `path`, or, when there is none yet, the seeded church
        (`seeded(people, seed)`) saved there. Raises persistence.SnapshotError naming an unreadable file."""
        source = Path(path)
        config = config or SandboxConfig()
        if not source.exists():
            sandbox = cls.seeded(people=people, seed=seed, config=config)
            persistence.save(sandbox, source)
            return sandbox
        document = persistence.read(source)
        now, frozen = persistence.restored_clock(document)
        sandbox = cls(replace(config, clock_start=now, clock_frozen=frozen))
        try:
            persistence.load_into(sandbox, document, source)
        except BaseException:
            sandbox.close()
            raise
        return sandbox

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write this organization to the snapshot file `path` (atomically, mode 0600; see persistence)."""
        persistence.save(self, path)

    @property
    def country_code(self) -> str:
        return self.config.country_code

    def load(self, data: Mapping[str, Any]) -> None:
        """Add JSON:API resources by "<app>/<collection>" (see store.Store.load). No webhooks fire."""
        self.store.load(data)

    # --- serving --------------------------------------------------------------------------------------

    @property
    def app(self):
        """The ASGI app for in-process use (faults surface as httpx exceptions)."""
        return self.asgi_app(over_http=False)

    def asgi_app(self, *, over_http: bool):
        if over_http not in self._apps:
            self._apps[over_http] = SandboxApp(self, self.controls, over_http=over_http)
        return self._apps[over_http]

    def auth_header(self) -> dict[str, str]:
        """The personal-access-token Authorization header for this sandbox's own credential."""
        token = base64.b64encode(f"{self.app_id}:{self.secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def client(self, *, authenticated: bool = True, base_url: str = "https://api.planningcenteronline.com",
               **kwargs: Any) -> httpx.Client:
        """A sync httpx.Client wired to this sandbox in-process (no sockets)."""
        auth = httpx.BasicAuth(self.app_id, self.secret) if authenticated else None
        return httpx.Client(transport=InProcessTransport(self.app), base_url=base_url, auth=auth, **kwargs)

    def renderer(self, base_url: str, versions: Mapping[str, str] | None = None) -> Renderer:
        return Renderer(self.store, self.organization, base_url, dict(versions or {}), self.render_cache)

    # --- changes ------------------------------------------------------------------------------------

    def publish(self, changes: Iterable[Change]) -> None:
        """Emit the webhooks for changes made through the API or the controls."""
        for change in changes:
            self.webhooks.emit(change.kind, change.record, change.action)

    def _render_payload(self, kind: Kind, record: Record, action: str) -> dict[str, Any]:
        renderer = self.renderer(self.public_base_url)
        if action == "destroyed":
            data: dict[str, Any] = {"type": record.type, "id": record.id}
            relationships = {name: {"data": _ref_json(record.relationships.get(name))}
                             for name, rel in kind.relationships.items()
                             if rel.default and not rel.hidden and rel.source == "stored"}
            if relationships:
                data["relationships"] = relationships
            data["links"] = {"self": renderer.url_for(kind, record)}
            return {"data": data, "meta": {"parent": renderer.organization_ref()}}
        document = renderer.single(kind, record, ListQuery(params={}, per_page=25, offset=0)).to_dict()
        return {"data": document["data"], "included": document.get("included", []), "meta": document["meta"]}

    def close(self) -> None:
        self.webhooks.stop()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ref_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return {"id": value[1], "type": value[0]}
    if isinstance(value, list):
        return [{"id": ref[1], "type": ref[0]} for ref in value]
    return None

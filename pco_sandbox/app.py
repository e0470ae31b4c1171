"""The sandbox's ASGI app: PCO's API under /<app>/v2, OAuth under /oauth, controls under /_sandbox.

One API request goes: faults decide (latency now; an injected error instead of the request) →
authenticate (401) → count against the credential's rate limit (429) → route the app (404) →
scope (403) → X-PCO-API-Version (400) → the resource route → a drop / cut of the response when a
reset, timeout or malformed fault fired (the request itself was processed, as when a real
response is lost). Every response carries the three X-PCO-API-Request-Rate-* headers and an
X-Request-Id; app routes also echo X-PCO-API-Processed-As-Version. No input ends in a traceback:
anything unexpected is logged and answered with a JSON 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Mount, Route

from pco_sandbox import errors
from pco_sandbox.auth import Auth, OAuthError, Principal
from pco_sandbox.clock import Clock
from pco_sandbox.controls import Controls, control_routes
from pco_sandbox.documents import Renderer
from pco_sandbox.errors import ApiError
from pco_sandbox.faults import Faults, Plan, abort_connection
from pco_sandbox.query import Context, ResultCache, paginate, parse_query, ruby_to_i, select
from pco_sandbox.ratelimit import RateLimiter
from pco_sandbox.requestlog import LoggedRequest, RequestLog
from pco_sandbox.schema import APP_SCOPES, APP_VERSIONS, WEBHOOK_SUBSCRIPTION_SINCE, Kind, resolve_version
from pco_sandbox.store import Record, Store
from pco_sandbox.webhooks import WebhookHub
from pco_sandbox.writes import CREATED_UNDER, WRITE_METHODS, Change, Writer, parse_body



class ServedSandbox(Protocol):
    """The parts of a sandbox the app serves from (`core.Sandbox` is one; the app never sees the
    whole sandbox, so it depends on these parts and not on the module that assembles them)."""

    store: Store
    clock: Clock
    auth: Auth
    limiter: RateLimiter
    faults: Faults
    requests: RequestLog
    results: ResultCache
    writer: Writer
    webhooks: WebhookHub
    time_zone: ZoneInfo
    # Called with (kind, rows of the page) after each listing page is served, under the store lock.
    after_listing_page: list[Callable[[Kind, list[Record]], None]]

    def renderer(self, base_url: str, versions: Mapping[str, str] | None = None) -> Renderer: ...

    def publish(self, changes: Iterable[Change]) -> None: ...

log = logging.getLogger(__name__)

JSONAPI = "application/vnd.api+json; charset=utf-8"
PLAIN_JSON = "application/json; charset=utf-8"
SUBSCRIPTIONS = "webhooks/subscriptions"


class _Response:
    __slots__ = ("status", "body", "content_type", "headers", "version", "unrouted")

    def __init__(self, status: int, body: bytes = b"", content_type: str = JSONAPI,
                 headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}
        self.version: str | None = None
        self.unrouted = False


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _error_response(error: ApiError) -> _Response:
    if error.html is not None:
        return _Response(error.status, error.html.encode(), "text/html; charset=utf-8", dict(error.headers))
    content_type = PLAIN_JSON if error.status == 429 else JSONAPI
    return _Response(error.status, _json_bytes(error.body), content_type, dict(error.headers))


class SandboxApp:
    """ASGI callable. `over_http` makes reset/timeout faults act on the real socket."""

    def __init__(self, sandbox: ServedSandbox, controls: Controls, *, over_http: bool) -> None:
        self.sandbox = sandbox
        self.over_http = over_http
        self.side_routes = Starlette(routes=[
            Mount("/_sandbox", routes=control_routes(controls)),
            Route("/oauth/token", self._oauth_token, methods=["POST"]),
            Route("/oauth/authorize", self._oauth_authorize, methods=["GET"]),
        ])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path.startswith("/_sandbox") or path.startswith("/oauth/"):
            if path == "/_sandbox":  # the status page, without Starlette's redirect to the slash
                scope = {**scope, "path": "/_sandbox/", "raw_path": b"/_sandbox/"}
            await self.side_routes(scope, receive, send)
            return
        await self._api(scope, receive, send)

    # --- the PCO API --------------------------------------------------------------------------------

    async def _api(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        sandbox = self.sandbox
        started = time.perf_counter()
        request = Request(scope, receive)
        method = scope["method"]
        path = scope["path"]
        query_string = scope.get("query_string", b"").decode("latin-1")
        request_id = str(uuid.uuid4())
        plan = sandbox.faults.plan(method, path)
        if plan.latency_ms:
            await asyncio.sleep(plan.latency_ms / 1000)
        principal: Principal | None = None
        verdict = None
        rate_key = f"anonymous:{(scope.get('client') or ('?',))[0]}"
        try:
            refused: ApiError | None = None
            try:
                principal = sandbox.auth.authenticate(request.headers.get("authorization"))
                rate_key = principal.rate_key
            except ApiError as error:
                refused = error  # counted too (by client address), then answered
            verdict = sandbox.limiter.hit(rate_key, offset=_offset(query_string), lowered_limit=plan.lowered_limit)
            if not verdict.allowed:
                raise errors.rate_limited(verdict.count, verdict.limit, verdict.period.period_text,
                                          verdict.retry_after)
            if refused is not None:
                raise refused
            assert principal is not None  # authenticate() returned one, or raised `refused`
            if plan.terminal is not None and plan.terminal.kind == "error":
                status = plan.terminal.status
                raise ApiError(status, [errors.error_object(status, "Injected by the sandbox's fault injection.")])
            response = await self._route(request, principal, method, path, query_string)
        except ApiError as error:
            response = _error_response(error)
            if not _is_app_path(path):  # outside every app: Rails' bare 404 (pypco's recorded /bogus)
                response.unrouted = True
                response.content_type = PLAIN_JSON
        except Exception:  # the safety net: never a traceback to the client
            log.exception("sandbox failed on %s %s", method, path)
            response = _error_response(ApiError(500, [errors.error_object(
                500, "The sandbox could not handle this request; its log has the details.")]))
        headers = self._headers(response, verdict, principal, request_id, started, method)
        fault = plan.terminal
        terminal = fault.kind if fault is not None else None
        self._log(method, path, query_string, response.status if terminal not in ("reset", "timeout") else 0,
                  rate_key, started, plan, request_id)
        if terminal == "malformed":
            response.body = response.body[: max(1, len(response.body) // 2)]
            headers["content-length"] = str(len(response.body))
        elif terminal == "reset":
            if self.over_http and abort_connection(send):
                return
            raise httpx.RemoteProtocolError("Server disconnected without sending a response. (sandbox fault)")
        elif fault is not None and terminal == "timeout":
            await self._hang(receive, fault.seconds)
            if self.over_http and abort_connection(send):
                return
            raise httpx.ReadTimeout("The read operation timed out (sandbox fault)")
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else response.body})

    async def _hang(self, receive: Any, seconds: float) -> None:
        """Hold the request until the client disconnects or `seconds` pass."""
        if not self.over_http:
            await asyncio.sleep(seconds)
            return
        try:
            async with asyncio.timeout(seconds):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            pass

    def _headers(self, response: _Response, verdict: Any, principal: Principal | None, request_id: str,
                 started: float, method: str) -> dict[str, str]:
        headers = {"content-type": response.content_type, "content-length": str(len(response.body)),
                   "cache-control": "max-age=0, private, must-revalidate", "x-request-id": request_id,
                   "x-runtime": f"{time.perf_counter() - started:.6f}"}
        if response.status == 200 and method in ("GET", "HEAD"):
            headers["etag"] = f'W/"{hashlib.md5(response.body).hexdigest()}"'
        if verdict is not None:
            wordy = response.status == 429 or response.unrouted
            headers["x-pco-api-request-rate-limit"] = str(verdict.limit)
            headers["x-pco-api-request-rate-period"] = verdict.period.period_text if wordy \
                else verdict.period.period_header
            headers["x-pco-api-request-rate-count"] = str(verdict.count)
        if principal is not None:
            headers["x-pco-api-auth-method"] = principal.auth_method
        if response.version:
            headers["x-pco-api-processed-as-version"] = response.version
        headers.update({k.lower(): v for k, v in response.headers.items()})
        return headers

    def _log(self, method: str, path: str, query: str, status: int, rate_key: str, started: float, plan: Plan,
             request_id: str) -> None:
        self.sandbox.requests.record(LoggedRequest(
            at=self.sandbox.clock.timestamp(), method=method, path=path, query=query, status=status,
            credential=rate_key,
            duration_ms=round((time.perf_counter() - started) * 1000, 3), faults=tuple(plan.names),
            request_id=request_id))

    async def _route(self, request: Request, principal: Principal, method: str, path: str,
                     query_string: str) -> _Response:
        segments = [s for s in path.split("/") if s]
        if not _is_app_path(path):
            raise errors.not_found()
        app = segments[0]
        sandbox = self.sandbox
        sandbox.auth.require_scope(principal, APP_SCOPES[app])
        requested = request.headers.get("x-pco-api-version")
        version = resolve_version(app, requested)
        if version is None:
            raise errors.bad_request(f"{requested!r} is not a supported version of the {app} API; use a date "
                                     f"(YYYY-MM-DD) on or after {APP_VERSIONS[app][0]}",
                                     code="unsupported_version_error")
        if method == "PUT":
            raise errors.html_not_found()
        body = await request.body() if method in ("POST", "PATCH") else b""
        renderer = sandbox.renderer(str(request.base_url).rstrip("/"), {app: version})
        with sandbox.store.lock:
            response = self._resource(renderer, app, version, segments[2:], method, path, query_string, body,
                                      request.headers.get("content-type"), principal)
        response.version = version
        return response

    def _resource(self, renderer: Any, app: str, version: str, rest: list[str], method: str, path: str,
                  query_string: str, body: bytes, content_type: str | None, principal: Principal) -> _Response:
        sandbox = self.sandbox
        store = sandbox.store
        get_like = method in ("GET", "HEAD")
        if not rest:
            if not get_like:
                raise errors.method_not_allowed(method, path)
            return _Response(200, _json_bytes(renderer.organization_document(app)))
        kind = _top_level_kind(store, app, rest[0], version)
        if kind is None:
            raise errors.not_found()
        parent: Record | None = None       # the record a nested collection hangs off
        parent_kind: Kind | None = None
        rel_name: str | None = None
        rows: list[Record] | None = None   # None: the whole top-level collection
        record: Record | None = None
        index = 1
        while index < len(rest):
            segment = rest[index]
            if record is None:
                record = _member(store, kind, rows, segment)
                if record is None:
                    raise errors.not_found()
            else:
                if method == "POST" and index == len(rest) - 1 and segment in _ACTIONS.get(kind.key, ()):
                    return self._action(renderer, kind, record, segment)
                rel = kind.relationships.get(segment)
                if rel is None or not rel.nested or rel.hidden:
                    raise errors.not_found()
                target_kind, value, targets = renderer.resolve(kind, record, segment)
                if rel.source == "organization":
                    if index != len(rest) - 1 or not get_like:
                        raise errors.not_found()
                    return _Response(200, _json_bytes(renderer.organization_document(app)))
                if target_kind is None:
                    raise errors.not_found()
                if rel.to_many:
                    parent, parent_kind, rel_name = record, kind, segment
                    rows = sorted(targets, key=lambda r: r.sort_key)
                    kind, record = target_kind, None
                else:
                    if not targets:
                        raise errors.not_found()
                    kind, record = target_kind, targets[0]
                    parent = parent_kind = rel_name = None
                    rows = None
            index += 1
        parent_meta = {"id": parent.id, "type": parent.type} if parent is not None else None
        if record is None:
            if get_like:
                return self._list(renderer, kind, rows, parent, parent_kind, rel_name, parent_meta, path,
                                  query_string)
            if method == "POST":
                return self._create(renderer, kind, parent, parent_kind, body, content_type, principal, path)
            raise errors.method_not_allowed(method, path)
        if get_like:
            query = parse_query(query_string)
            return _Response(200, renderer.single(kind, record, query, parent_meta).to_bytes())
        if method == "PATCH":
            return self._update(renderer, kind, record, body, content_type, parent_meta, path)
        if method == "DELETE":
            return self._delete(kind, record, path)
        raise errors.method_not_allowed(method, path)

    def _list(self, renderer: Any, kind: Kind, rows: list[Record] | None, parent: Record | None,
              parent_kind: Kind | None, rel_name: str | None, parent_meta: dict[str, str] | None, path: str,
              query_string: str) -> _Response:
        sandbox = self.sandbox
        query = parse_query(query_string, per_page_default=kind.per_page_default, per_page_max=kind.per_page_max)
        rel = parent_kind.relationships[rel_name] if parent_kind is not None and rel_name else None
        can_filter = rel.filters if rel is not None and rel.filters is not None else kind.filters
        source = rows if rows is not None else sandbox.store.all(kind.key)
        ctx = Context(sandbox.store, sandbox.time_zone, sandbox.clock.now(), parent=parent, params=query.params,
                      allowed_filters=can_filter)
        scope = (parent_kind.key, parent.id, rel_name) if parent is not None and parent_kind is not None else ()
        selected = sandbox.results.get_or_select(sandbox.store.version, kind, scope, query,
                                                 lambda: select(kind, source, query, ctx))
        page = paginate(selected, query)
        body = renderer.collection(kind, page, query, path, parent_meta, can_filter).to_bytes()
        for hook in sandbox.after_listing_page:
            hook(kind, page.rows)
        return _Response(200, body)

    def _create(self, renderer: Any, kind: Kind, parent: Record | None, parent_kind: Kind | None, body: bytes,
                content_type: str | None, principal: Principal, path: str) -> _Response:
        sandbox = self.sandbox
        if kind.key == SUBSCRIPTIONS:
            data = parse_body(body, content_type)
            _check_subscription_type(renderer, kind, data)
            record = sandbox.webhooks.create_from_api(data, principal.application_id)
            return _Response(201, renderer.single(kind, record, parse_query("")).to_bytes())
        expected_parent = CREATED_UNDER.get(kind.key)
        if "POST" not in WRITE_METHODS.get(kind.key, ()) or (expected_parent is not None and (
                parent_kind is None or parent_kind.key != expected_parent[0])) or \
                (expected_parent is None and parent is not None):
            raise errors.method_not_allowed("POST", path)
        data = parse_body(body, content_type)
        record, changes = sandbox.writer.create(kind, data, parent)
        sandbox.publish(changes)
        parent_meta = {"id": parent.id, "type": parent.type} if parent is not None else None
        return _Response(201, renderer.single(kind, record, parse_query(""), parent_meta).to_bytes())

    def _update(self, renderer: Any, kind: Kind, record: Record, body: bytes, content_type: str | None,
                parent_meta: dict[str, str] | None, path: str) -> _Response:
        sandbox = self.sandbox
        if kind.key == SUBSCRIPTIONS:
            data = parse_body(body, content_type)
            _check_subscription_type(renderer, kind, data)
            updated = sandbox.webhooks.update_from_api(record, data)
            return _Response(200, renderer.single(kind, updated, parse_query("")).to_bytes())
        if "PATCH" not in WRITE_METHODS.get(kind.key, ()):
            raise errors.method_not_allowed("PATCH", path)
        data = parse_body(body, content_type)
        updated, changes = sandbox.writer.update(kind, record, data)
        sandbox.publish(changes)
        return _Response(200, renderer.single(kind, updated, parse_query(""), parent_meta).to_bytes())

    def _delete(self, kind: Kind, record: Record, path: str) -> _Response:
        sandbox = self.sandbox
        if kind.key == SUBSCRIPTIONS:
            sandbox.webhooks.delete_subscription(record)
            return _Response(204)
        if "DELETE" not in WRITE_METHODS.get(kind.key, ()):
            raise errors.method_not_allowed("DELETE", path)
        sandbox.publish(sandbox.writer.delete(kind, record))
        return _Response(204)

    def _action(self, renderer: Any, kind: Kind, record: Record, action: str) -> _Response:
        hub = self.sandbox.webhooks
        if action == "rotate_secret":
            return _Response(200, renderer.single(kind, hub.rotate_secret(record), parse_query("")).to_bytes())
        if action == "redeliver":
            hub.redeliver(record)
        else:
            hub.ignore(record)
        return _Response(204)

    # --- OAuth ----------------------------------------------------------------------------------------

    async def _oauth_token(self, request: Request) -> JSONResponse:
        raw = await request.body()
        form: dict[str, str] = {}
        if "json" in request.headers.get("content-type", ""):
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError:
                parsed = {}
            form = {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
        else:  # application/x-www-form-urlencoded, as OAuth clients send it
            form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            body = self.sandbox.auth.token(form, request.headers.get("authorization"))
        except OAuthError as error:
            return JSONResponse(error.body, status_code=error.status)
        return JSONResponse(body, headers={"cache-control": "no-store"})

    async def _oauth_authorize(self, request: Request) -> Any:
        params = request.query_params
        redirect_uri = params.get("redirect_uri")
        if params.get("response_type") != "code" or not redirect_uri:
            return JSONResponse({"error": "invalid_request",
                                 "error_description": "response_type=code and a redirect_uri are required."},
                                status_code=400)
        try:
            code = self.sandbox.auth.authorize(params.get("client_id", ""), params.get("scope", "people"),
                                               redirect_uri)
        except OAuthError as error:
            return JSONResponse(error.body, status_code=error.status)
        separator = "&" if "?" in redirect_uri else "?"
        state = f"&state={params['state']}" if params.get("state") else ""
        return RedirectResponse(f"{redirect_uri}{separator}code={code}{state}", status_code=302)


_ACTIONS = {"webhooks/subscriptions": ("rotate_secret",), "webhooks/events": ("redeliver", "ignore")}


def _is_app_path(path: str) -> bool:
    segments = [s for s in path.split("/") if s]
    return len(segments) >= 2 and segments[0] in APP_VERSIONS and segments[1] == "v2"


def _offset(query_string: str) -> int:
    for part in query_string.split("&"):
        if part.startswith("offset="):
            return ruby_to_i(part[7:])
    return 0


def _top_level_kind(store: Any, app: str, collection: str, version: str) -> Kind | None:
    if app == "webhooks" and collection in ("subscriptions", "webhook_subscriptions"):
        wanted = "webhook_subscriptions" if version >= WEBHOOK_SUBSCRIPTION_SINCE else "subscriptions"
        return store.kind(SUBSCRIPTIONS) if collection == wanted else None
    kind = store.kind(f"{app}/{collection}")
    return kind if kind is not None and kind.top_level else None


def _member(store: Any, kind: Kind, rows: list[Record] | None, resource_id: str) -> Record | None:
    """The record with this id in the current collection (nested collections hold only their own)."""
    if rows is None:
        return store.get(kind.key, resource_id)
    return next((r for r in rows if r.id == resource_id), None)


def _check_subscription_type(renderer: Any, kind: Kind, data: dict[str, Any]) -> None:
    expected = ("WebhookSubscription" if renderer.versions["webhooks"] >= WEBHOOK_SUBSCRIPTION_SINCE
                else "Subscription")
    if data.get("type") not in (None, expected):
        raise errors.unprocessable([errors.error_object(
            422, f"data.type {data['type']!r} is not {expected!r}, the type this endpoint writes",
            code="invalid_resource_type")])

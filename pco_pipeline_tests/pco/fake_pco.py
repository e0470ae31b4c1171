"""A small in-test PCO for the client's unit tests (the full simulator is `pco_sandbox`).

It reproduces the live behaviours the client must cope with, as recorded in the spec and the
golden files: rate headers on every response (period "20" or "20 seconds"), 429 + Retry-After
with rejected requests still counted, sliding or fixed windows, a stricter deep-offset limit,
`per_page` clamped while `links.next` echoes the requested value, `per_page=0` returning a
`next` to the same page, JSON:API envelopes with `included`, HTML error pages, and injected
faults (5xx, timeouts after the server processed the request, connection resets, refused
connections). Served through `httpx.MockTransport`, so it runs in the caller's thread: the
client's worker threads really do hit it concurrently.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

BASE = "https://pco.test"


@dataclass
class Fault:
    kind: str               # 429 | 500 | 503 | html502 | timeout | reset | connect | garbage | 401
    path_contains: str = ""
    method: str | None = None
    retry_after: str = "0.05"


@dataclass
class Arrival:
    at: float  # when the rate limiter counted it
    method: str
    path: str
    query: dict[str, str]
    status: int
    credential: str
    headers: dict[str, str] = field(default_factory=dict)
    rate_count: int = 0  # the X-PCO-API-Request-Rate-Count the server answered with


class FakePCO:
    def __init__(self, *, people: int = 250, emails_per_person: int = 2, limit: int = 10, period: float = 1.0,
                 period_style: str = "plain", window: str = "sliding", max_per_page: int = 100,
                 latency: float = 0.0, deep_offset_limit: int | None = None, credentials: dict[str, str] | None = None,
                 forbidden_modules: tuple[str, ...] = (), total_count_cap: int | None = None,
                 me_permissions: str | None = "Manager"):
        self.lock = threading.RLock()
        self.people: dict[int, dict[str, Any]] = {}
        self.emails: dict[int, dict[str, Any]] = {}
        next_email = 5000
        for i in range(1, people + 1):
            pid = 1000 + i
            self.people[pid] = {"first_name": f"First{i}", "last_name": f"Last{i % 37}", "remote_id": None}
            for _ in range(emails_per_person):
                next_email += 1
                self.emails[next_email] = {"address": f"p{i}.{next_email}@example.test", "person_id": pid}
        self.limit, self.period, self.period_style, self.window = limit, period, period_style, window
        self.max_per_page, self.latency = max_per_page, latency
        self.deep_offset_limit = deep_offset_limit
        self.credentials = credentials if credentials is not None else {"app": "secret"}
        self.forbidden_modules = forbidden_modules
        self.total_count_cap = total_count_cap
        self.me_permissions = me_permissions
        self.faults: deque[Fault] = deque()
        self.arrivals: list[Arrival] = []
        self.usage: dict[str, deque[float]] = {}
        self.window_start: dict[str, float] = {}
        self.window_count: dict[str, int] = {}
        # OAuth
        self.oauth_clients: dict[str, str] = {}
        self.refresh_tokens: set[str] = set()
        self.access_tokens: dict[str, float] = {}  # token -> expires (monotonic)
        self.token_requests = 0
        self.token_lifetime = 7200
        self.next_id = 900000
        self.in_flight = 0
        self.max_in_flight = 0
        self.broken_records: set[int] = set()
        self.slow_offsets: dict[int, float] = {}  # offset -> extra seconds before answering

    # ------------------------------------------------------------ helpers for tests

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def fail_next(self, kind: str, times: int = 1, path_contains: str = "", method: str | None = None,
                  retry_after: str = "0.05") -> None:
        with self.lock:
            for _ in range(times):
                self.faults.append(Fault(kind, path_contains, method, retry_after))

    def add_oauth_client(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        self.oauth_clients[client_id] = client_secret
        self.refresh_tokens.add(refresh_token)

    def issue_access_token(self, lifetime: float | None = None) -> str:
        token = f"at-{uuid.uuid4().hex}"
        self.access_tokens[token] = time.monotonic() + (lifetime if lifetime is not None else self.token_lifetime)
        return token

    def revoke_access_tokens(self) -> None:
        self.access_tokens.clear()

    def max_in_window(self, credential: str | None = None, statuses: tuple[int, ...] | None = None) -> int:
        """Most requests that arrived within any `period`-long interval."""
        times = sorted(a.at for a in self.arrivals if a.path != "/oauth/token"
                       and (credential is None or a.credential == credential)
                       and (statuses is None or a.status in statuses))
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= self.period:
                start += 1
            best = max(best, end - start + 1)
        return best

    def most_counted(self) -> int:
        """The highest request count the server answered with: the limit as the server enforces it
        (with sliding windows the same as `max_in_window`; with fixed windows requests on both
        sides of a reset may fall within one period)."""
        return max((a.rate_count for a in self.arrivals if a.path != "/oauth/token"), default=0)

    def count(self, status: int | None = None, path_contains: str = "") -> int:
        return sum(1 for a in self.arrivals if (status is None or a.status == status) and path_contains in a.path)

    # ------------------------------------------------------------ the server

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency / 2)
            time.sleep(self.slow_offsets.get(int(request.url.params.get("offset", "0") or 0), 0))
            fault = self._take_fault(request)
            if fault is not None and fault.kind == "connect":
                raise httpx.ConnectError("connection refused", request=request)
            response = self._serve(request, fault)
            if fault is not None and fault.kind == "timeout":
                raise httpx.ReadTimeout("timed out reading the response", request=request)
            if fault is not None and fault.kind == "reset":
                raise httpx.RemoteProtocolError("peer closed connection without sending complete message body",
                                                request=request)
            if self.latency:
                time.sleep(self.latency / 2)
            return response
        finally:
            with self.lock:
                self.in_flight -= 1

    def _take_fault(self, request: httpx.Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if request.url.path == "/oauth/token" and "oauth" not in fault.path_contains:
                    continue
                if fault.path_contains in request.url.path and fault.method in (None, request.method):
                    self.faults.remove(fault)
                    return fault
        return None

    def _credential(self, request: httpx.Request) -> tuple[str | None, str]:
        """(credential key or None when refused, auth method name)."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                app_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return None, "HTTPBasic"
            return (f"basic:{app_id}" if self.credentials.get(app_id) == secret else None), "HTTPBasic"
        if header.startswith("Bearer "):
            token = header[7:]
            expires = self.access_tokens.get(token)
            return ("oauth:user" if expires is not None and expires > time.monotonic() else None), "OAuth2"
        return None, "none"

    def _rate(self, credential: str, offset: int, now: float) -> tuple[dict[str, str], bool]:
        limit = self.limit
        if self.deep_offset_limit is not None and offset > 30_000:
            limit = self.deep_offset_limit
        if self.window == "fixed":
            start = self.window_start.get(credential)
            if start is None or now - start >= self.period:
                self.window_start[credential], self.window_count[credential] = now, 0
            self.window_count[credential] += 1
            count = self.window_count[credential]
            reset_in = self.period - (now - self.window_start[credential])
        else:
            arrivals = self.usage.setdefault(credential, deque())
            while arrivals and now - arrivals[0] >= self.period:
                arrivals.popleft()
            arrivals.append(now)
            count = len(arrivals)
            # the excess must age out before a request is accepted again
            reset_in = self.period - (now - arrivals[count - limit]) if count > limit else 0
        period = f"{self.period:g} seconds" if self.period_style == "seconds" else f"{self.period:g}"
        headers = {"X-PCO-API-Request-Rate-Limit": str(limit), "X-PCO-API-Request-Rate-Period": period,
                   "X-PCO-API-Request-Rate-Count": str(count)}
        if count > limit:
            headers["Retry-After"] = str(max(1, math.ceil(reset_in)) if self.period >= 2 else round(reset_in, 3))
        return headers, count > limit

    def _serve(self, request: httpx.Request, fault: Fault | None) -> httpx.Response:
        path = request.url.path
        query = dict(request.url.params.multi_items())
        request_id = uuid.uuid4().hex
        if path == "/oauth/token":
            return self._token(request, request_id)
        with self.lock:
            credential, auth_method = self._credential(request)
            offset = int(query.get("offset", "0") or 0)
            counted_at = time.monotonic()
            headers, limited = self._rate(credential or "anonymous", offset, counted_at)
            headers.update({"X-Request-Id": request_id, "X-PCO-API-Auth-Method": auth_method,
                            "X-PCO-API-Processed-As-Version": request.headers.get("X-PCO-API-Version", "2018-08-01")})
            status, body, content_type = self._route(request, path, query, credential, limited, fault, headers)
            self.arrivals.append(Arrival(counted_at, request.method, path, query, status,
                                         credential or "anonymous", dict(request.headers),
                                         int(headers["X-PCO-API-Request-Rate-Count"])))
        if isinstance(body, (dict, list)):
            content = json.dumps(body).encode()
        else:
            content = body.encode() if isinstance(body, str) else body
        return httpx.Response(status, headers={**headers, "Content-Type": content_type}, content=content)

    def _route(self, request, path, query, credential, limited, fault, headers):
        jsonapi = "application/vnd.api+json; charset=utf-8"
        if limited or (fault is not None and fault.kind == "429"):
            if not limited:
                headers["Retry-After"] = fault.retry_after
            detail = (f"Rate limit exceeded: {headers['X-PCO-API-Request-Rate-Count']} of "
                      f"{headers['X-PCO-API-Request-Rate-Limit']} requests per {self.period:g} seconds")
            return 429, {"errors": [{"code": "429", "title": "Too Many Requests", "detail": detail}]}, "application/json"
        if credential is None or (fault is not None and fault.kind == "401"):
            return 401, {"errors": [{"status": "401", "title": "Unauthorized",
                                     "detail": "Please provide valid credentials (BABOON)"}]}, "application/json"
        if fault is not None and fault.kind in ("500", "503"):
            return int(fault.kind), {"errors": [{"status": fault.kind, "title": "Internal Server Error"}]}, jsonapi
        if fault is not None and fault.kind == "html502":
            return 502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "text/html"
        if fault is not None and fault.kind == "garbage":
            return 200, '{"data": [{"type": "Per', jsonapi
        module = path.strip("/").split("/", 1)[0]
        if module in self.forbidden_modules:
            return 403, {"errors": [{"status": "403", "title": "Forbidden",
                                     "detail": f"The token lacks the {module} scope (PELICAN)"}]}, jsonapi
        parts = path.strip("/").split("/")
        if parts[:2] == ["people", "v2"]:
            return self._people(request, parts[2:], query)
        if len(parts) == 3 and parts[1] == "v2" and parts[0] in ("groups", "check-ins", "calendar", "webhooks"):
            kind = {"groups": "Group", "check-ins": "Event", "calendar": "Event", "webhooks": "WebhookSubscription"}
            return 200, self._collection(f"/{'/'.join(parts)}", kind[parts[0]], [
                (str(i), {"name": f"{parts[2]} {i}"}, {}) for i in range(1, 4)], query, {}), jsonapi
        return 404, ("<!DOCTYPE html><html><head><title>The page you were looking for doesn't exist (404)"
                     "</title></head><body></body></html>"), "text/html; charset=utf-8"

    def _people(self, request, rest, query):
        jsonapi = "application/vnd.api+json; charset=utf-8"
        if not rest:
            return 200, {"data": {"type": "Organization", "id": "1", "attributes": {"name": "Fake Church"}},
                         "included": [], "meta": {}}, jsonapi
        if rest == ["me"]:
            return 200, {"data": {"type": "Person", "id": "1001", "attributes": {
                "first_name": "Admin", "people_permissions": self.me_permissions,
                "site_administrator": self.me_permissions == "Manager"}}, "included": [], "meta": {}}, jsonapi
        if rest == ["people"] and request.method == "GET":
            includes = [i for i in query.get("include", "").split(",") if i]
            rows = []
            for pid in sorted(self.people):
                if "where[last_name]" in query and self.people[pid]["last_name"].lower() != query["where[last_name]"].lower():
                    continue
                rows.append((str(pid), self.people[pid], {"emails": [("Email", str(e)) for e in sorted(self.emails)
                                                                     if self.emails[e]["person_id"] == pid]}))
            meta = {"can_include": ["emails", "phone_numbers", "addresses", "households"],
                    "can_order_by": ["first_name", "last_name", "updated_at", "created_at"],
                    "can_query_by": ["first_name", "last_name", "updated_at", "created_at", "remote_id"],
                    "can_filter": ["created_since"]}
            return 200, self._collection("/people/v2/people", "Person", rows, query, meta,
                                         include_emails="emails" in includes), jsonapi
        if rest == ["people"] and request.method == "POST":
            attributes = json.loads(request.content)["data"]["attributes"]
            if "bogus" in attributes:
                return 422, {"errors": [{"status": "422", "title": "Forbidden Attribute",
                                         "detail": "bogus cannot be assigned", "source": {"pointer": "/data/attributes/bogus"}}]}, jsonapi
            self.next_id += 1
            self.people[self.next_id] = {"first_name": None, "last_name": None, "remote_id": None, **attributes}
            return 201, {"data": self._person(self.next_id)}, jsonapi
        if len(rest) == 2 and rest[0] == "people" and rest[1].isdigit() and request.method != "PUT":
            pid = int(rest[1])
            if pid not in self.people:
                return 404, {"errors": [{"status": "404", "title": "Not Found",
                                         "detail": "The resource you requested could not be found"}]}, jsonapi
            if request.method == "DELETE":
                del self.people[pid]
                return 204, b"", jsonapi
            if request.method == "PATCH":
                attributes = json.loads(request.content)["data"]["attributes"]
                if "bogus" in attributes:
                    return 422, {"errors": [{"status": "422", "title": "Forbidden Attribute",
                                             "detail": "bogus cannot be assigned"}]}, jsonapi
                self.people[pid].update(attributes)
            return 200, {"data": self._person(pid), "included": [], "meta": {}}, jsonapi
        return 404, ("<!DOCTYPE html><html><head><title>The page you were looking for doesn't exist (404)"
                     "</title></head><body></body></html>"), "text/html; charset=utf-8"

    def _person(self, pid: int) -> dict[str, Any]:
        return {"type": "Person", "id": str(pid), "attributes": dict(self.people[pid]), "relationships": {},
                "links": {"self": f"{BASE}/people/v2/people/{pid}"}}

    def _collection(self, path, kind, rows, query, meta, include_emails=False):
        requested = int(query.get("per_page", "25"))
        per_page = max(0, min(requested, self.max_per_page))
        offset = int(query.get("offset", "0") or 0)
        page = rows[offset:offset + per_page]
        data, included, seen = [], [], set()
        for rid, attributes, relationships in page:
            item = {"type": kind, "id": rid, "attributes": dict(attributes), "links": {}}
            if int(rid) in self.broken_records:
                item = {"type": kind, "attributes": "not an object"}
            if include_emails:
                item["relationships"] = {name: {"data": [{"type": t, "id": i} for t, i in refs]}
                                         for name, refs in relationships.items()}
                for _, email_id in relationships.get("emails", []):
                    if email_id not in seen:
                        seen.add(email_id)
                        email = self.emails[int(email_id)]
                        included.append({"type": "Email", "id": email_id, "attributes": {"address": email["address"]},
                                         "relationships": {"person": {"data": {"type": "Person", "id": str(email["person_id"])}}}})
            data.append(item)
        params = {k: v for k, v in query.items() if k != "offset"}
        links = {"self": f"{BASE}{path}?{urlencode(sorted(query.items()))}"}
        total = len(rows) if self.total_count_cap is None else min(len(rows), self.total_count_cap)
        document_meta = {"total_count": total, "count": len(data), **meta}
        more = offset + per_page < len(rows) or per_page == 0
        if more:
            next_offset = offset + per_page
            links["next"] = f"{BASE}{path}?{urlencode(sorted({**params, 'offset': next_offset}.items()))}"
            document_meta["next"] = {"offset": next_offset}
        return {"links": links, "data": data, "included": included, "meta": document_meta}

    def _token(self, request: httpx.Request, request_id: str) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        with self.lock:
            self.token_requests += 1
            self.arrivals.append(Arrival(time.monotonic(), "POST", "/oauth/token", {}, 0, "oauth"))
            good_client = self.oauth_clients.get(form.get("client_id", "")) == form.get("client_secret")
            if form.get("grant_type") != "refresh_token" or not good_client \
                    or form.get("refresh_token") not in self.refresh_tokens:
                body = {"error": "invalid_grant", "error_description": "The provided authorization grant is "
                        "invalid, expired, revoked, does not match the redirection URI used in the authorization "
                        "request, or was issued to another client."}
                return httpx.Response(400, json=body, headers={"X-Request-Id": request_id})
            self.refresh_tokens.discard(form["refresh_token"])  # refresh tokens rotate
            new_refresh = f"rt-{uuid.uuid4().hex}"
            self.refresh_tokens.add(new_refresh)
            access = self.issue_access_token()
        return httpx.Response(200, json={"access_token": access, "token_type": "bearer", "expires_in": self.token_lifetime,
                                         "refresh_token": new_refresh, "scope": "people groups",
                                         "created_at": int(time.time())}, headers={"X-Request-Id": request_id})

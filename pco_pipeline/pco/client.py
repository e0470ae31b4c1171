"""The PCO API client: paced by the credential's shared rate budget, retried, streaming.

    client = PCOClient.from_env()            # PCO_API_BASE, PCO_APP_ID/PCO_SECRET or PCO_OAUTH_*
    for person in client.iter_records("/people/v2/people", include=["emails"],
                                      where={"updated_at": {"gte": since}}, order="updated_at"):
        person["first_name"], [e["address"] for e in person.related_list("emails")]
    created = client.post("/people/v2/people", resource_body("Person", {"first_name": "Ann"}))
    client.counters.snapshot()               # requests, 429s, retries, pages, records, bytes, waits

What happens to a request (`request`):
- a GET whose `where` / `order` / `include` / `filter` / `per_page` PCO would silently ignore on
  that route (by PCO's reference, `pco_reference`) is refused with PCOQueryError
  before anything is sent: on every path, listings and single reads alike;
- it waits for the credential's rate budget (`ratelimit.py`), then carries the module's pinned
  `X-PCO-API-Version`, our User-Agent and the authorization header;
- 429: everyone waits `Retry-After`, then it is sent again (a run never fails on a 429; only a
  server that keeps refusing past `RetryPolicy.max_rate_limit_waits` raises PCORateLimited);
- 401 with OAuth: the token is refreshed once and the request sent again;
- timeouts, connection errors, 5xx and unreadable 2xx bodies: retried with exponential backoff
  and jitter, `RetryPolicy.max_retries` times — except a POST that may have reached PCO, which
  raises PCOWriteOutcomeUnknown instead (a POST that never left, e.g. connection refused, is
  retried). A DELETE retried after a lost answer that then gets 404 has succeeded. A listing
  decodes its pages in the thread that consumes them; a page whose body is not JSON is
  requested once more from there, with the same retries;
- any other error status raises the typed error of `errors.py`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from pco_pipeline.pco.auth import BasicAuthenticator, OAuthSession, TokenSet
from pco_pipeline.pco.config import PCOConfig, module_of
from pco_pipeline.pco.counters import Counters
from pco_pipeline.pco.errors import (PCOConnectionError, PCOError, PCOWriteOutcomeUnknown,
                                     error_for_response)
from pco_pipeline.pco.jsonapi import BodyNotJSON, DocumentError, RecordError, Resource, parse_body, parse_document
from pco_pipeline.pco.pagination import Page, build_query, check_accepted, check_query, iterate_pages
from pco_pipeline.pco.ratelimit import RateBudget, RateLimitStatus, budget_for, tier_for_offset
from pco_reference import route_for

log = logging.getLogger(__name__)

# Transport failures that prove the request never left this machine (safe to resend a POST).
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True, slots=True)
class PCOResponse:
    """A successful answer: status, headers, body, and what the rate headers said."""

    method: str
    path: str
    status: int
    headers: httpx.Headers
    content: bytes
    rate: RateLimitStatus
    data: Any = None  # decoded JSON body (None for 204 / empty bodies)

    @property
    def request_id(self) -> str | None:
        return self.headers.get("X-Request-Id")

    @property
    def auth_method(self) -> str | None:
        """PCO's `X-PCO-API-Auth-Method` (e.g. `HTTPBasic`, `OAuth2`) when it sent one."""
        return self.headers.get("X-PCO-API-Auth-Method")


def resource_body(type: str, attributes: Mapping[str, Any] | None = None, *,
                  relationships: Mapping[str, Any] | None = None, id: str | None = None) -> dict[str, Any]:
    """A JSON:API write body. `relationships={"person": ("Person", "12")}` (or a list of refs)."""
    data: dict[str, Any] = {"type": type, "attributes": dict(attributes or {})}
    if id is not None:
        data["id"] = str(id)
    if relationships:
        rendered = {}
        for name, ref in relationships.items():
            if isinstance(ref, list):
                rendered[name] = {"data": [{"type": t, "id": str(i)} for t, i in ref]}
            else:
                rendered[name] = {"data": None if ref is None else {"type": ref[0], "id": str(ref[1])}}
        data["relationships"] = rendered
    return {"data": data}


class PCOClient:
    """Thread-safe client for one credential. Use as a context manager or call `close()`."""

    def __init__(self, config: PCOConfig, *, transport: httpx.BaseTransport | None = None,
                 on_tokens: Callable[[TokenSet], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep, budget: RateBudget | None = None):
        self.config = config.validated()
        self.counters = Counters()
        self.budget = budget if budget is not None else budget_for(self.config.budget_key())
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.config.base_url, transport=transport,
            verify=_tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")),
            timeout=httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout),
            limits=httpx.Limits(max_connections=self.config.prefetch + 4,
                                max_keepalive_connections=self.config.prefetch + 4),
            headers={"User-Agent": self.config.user_agent, "Accept": "application/vnd.api+json"},
            follow_redirects=False)
        if self.config.oauth is not None:
            self._auth: BasicAuthenticator | OAuthSession = OAuthSession(
                self.config.oauth, token_url=f"{self.config.base_url}/oauth/token",
                post_form=self._post_token_form, on_tokens=on_tokens)
        else:
            assert self.config.basic is not None, "validated(): a config without OAuth has a personal access token"
            self._auth = BasicAuthenticator(self.config.basic)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs) -> "PCOClient":
        """A client configured from the environment (PCO_API_BASE, PCO_APP_ID, PCO_SECRET, PCO_OAUTH_*)."""
        return cls(PCOConfig.from_env(environ), **kwargs)

    def __repr__(self) -> str:
        return f"PCOClient(base_url={self.config.base_url!r}, auth={self.auth_method!r})"

    def __enter__(self) -> "PCOClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def auth_method(self) -> str:
        return self._auth.method

    @property
    def oauth_scopes(self) -> tuple[str, ...] | None:
        """Scopes granted to the OAuth token (known after a refresh); None for a PAT."""
        return self._auth.scopes

    @property
    def rate_limit(self) -> RateLimitStatus | None:
        """The rate headers of the latest response for this credential."""
        return self.budget.last_status

    # ---------------------------------------------------------------- requests

    def _relative(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            base = urlsplit(self.config.base_url)
            target = urlsplit(path)
            if (target.scheme, target.netloc) != (base.scheme, base.netloc):
                raise ValueError(f"refusing to send PCO credentials to {target.scheme}://{target.netloc}")
            path = target.path + (f"?{target.query}" if target.query else "")
        return path if path.startswith("/") else f"/{path}"

    def _post_token_form(self, url: str, form: dict[str, str]) -> httpx.Response:
        return self._http.post(url, data=form, headers={"Accept": "application/json"})

    def request(self, method: str, path: str, *, params: Sequence[tuple[str, str]] | Mapping[str, Any] | None = None,
                json_body: Any = None, cancel: threading.Event | None = None,
                decode: bool = True) -> PCOResponse:
        """Send one API request with pacing, retries and typed errors (see the module docstring).

        `cancel` (set by an abandoned listing) stops a request still waiting for the budget.
        `decode=False` returns a 2xx body undecoded (`data` None) for a caller that decodes it
        in another thread; that caller must request it again if it is not JSON.
        """
        method = method.upper()
        path = self._relative(path)
        module = module_of(path)
        query: list[tuple[str, Any]] = list(params.items()) if isinstance(params, Mapping) else list(params or [])
        if method == "GET":
            _refuse_ignored_parameters(path, query)
        headers = {}
        version = self.config.api_versions.get(module or "")
        if version:
            headers["X-PCO-API-Version"] = version
        content = None
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        offset = next((int(v) for k, v in query if k == "offset" and str(v).isdigit()), None)
        tier = tier_for_offset(offset)
        policy = self.config.retry
        failures = rate_waits = 0
        refreshed = False
        attempt = 0
        while True:
            if attempt:
                self.counters.add(retries=1)
            attempt += 1
            authorization = self._auth.authorization()
            slot = self.budget.acquire(tier, cancel)
            self.counters.add(requests=1, wait_seconds=slot.waited)
            try:
                response = self._http.request(method, path, params=query, content=content,
                                              headers={**headers, "Authorization": authorization})
            except httpx.TransportError as exc:
                self.budget.release(slot)
                self._raise_unless_retryable(exc, method, path, failures)
                self._back_off(failures, method, path, type(exc).__name__)
                failures += 1
                continue
            status = RateLimitStatus.from_headers(response.headers)
            self.budget.release(slot, status)
            self.counters.add(bytes_received=len(response.content))
            code = response.status_code

            if code == 429:
                self.counters.add(rate_limited=1)
                if rate_waits >= policy.max_rate_limit_waits:
                    raise self._error(response, method, path, module)
                rate_waits += 1
                wait = status.retry_after if status.retry_after is not None else self.budget.period
                log.info("PCO rate limit reached on %s %s; waiting %.1f s (Retry-After)", method, path, wait)
                self.budget.close_for(wait)
                continue
            if code == 401 and not refreshed and self._auth.refresh_after_401(authorization):
                refreshed = True
                continue
            if 200 <= code < 300 and not decode:
                return PCOResponse(method, path, code, response.headers, response.content, status)
            if 200 <= code < 300:
                data, readable = _decoded(code, response.content)
                if readable:
                    return PCOResponse(method, path, code, response.headers, response.content, status, data)
            elif code < 500:
                if method == "DELETE" and code == 404 and failures:
                    # an earlier attempt deleted it; only its answer was lost
                    return PCOResponse(method, path, 204, response.headers, b"", status, None)
                raise self._error(response, method, path, module)
            # 5xx, or a 2xx whose body is not the JSON it claims to be
            if method == "POST":
                raise PCOWriteOutcomeUnknown(
                    f"PCO answered the POST with {code} and no usable body: it may or may not have created "
                    "the record; look it up (e.g. by remote_id) before creating it again",
                    status=code, method=method, path=path, request_id=response.headers.get("X-Request-Id"))
            if failures >= policy.max_retries:
                if code < 300:
                    raise PCOError(f"PCO answered {code} with a body that is not JSON, {failures + 1} times",
                                   status=code, method=method, path=path,
                                   request_id=response.headers.get("X-Request-Id"))
                raise self._error(response, method, path, module)
            self._back_off(failures, method, path, f"status {code}", floor=status.retry_after or 0.0)
            failures += 1

    def _raise_unless_retryable(self, exc: httpx.TransportError, method: str, path: str, failures: int) -> None:
        """A transport failure: raise unless it may be retried (never a POST that may have arrived)."""
        reason = type(exc).__name__
        if method == "POST" and not isinstance(exc, _NOT_SENT):
            raise PCOWriteOutcomeUnknown(
                f"the POST reached PCO but no answer came back ({reason}): PCO may have created the "
                "record; look it up (e.g. by remote_id) before creating it again", method=method, path=path) from exc
        if failures >= self.config.retry.max_retries:
            raise PCOConnectionError(
                f"PCO did not answer after {failures + 1} attempts ({reason}): check PCO_API_BASE "
                f"({self.config.base_url}) and the network", method=method, path=path) from exc

    def _error(self, response: httpx.Response, method: str, path: str, module: str | None) -> PCOError:
        return error_for_response(
            response.status_code, response.content, response.headers.get("content-type", ""),
            method=method, path=path, request_id=response.headers.get("X-Request-Id"),
            auth_method=self.auth_method, module=module)

    def _back_off(self, failures: int, method: str, path: str, reason: str, floor: float = 0.0) -> None:
        delay = max(floor, self.config.retry.backoff(failures))
        log.warning("PCO %s %s failed (%s); retry %d in %.2f s", method, path, reason, failures + 1, delay)
        self.counters.add(backoff_seconds=delay)
        self._sleep(delay)

    # ---------------------------------------------------------------- resources

    def get(self, path: str, *, include: Iterable[str] | str | None = None,
            params: Mapping[str, Any] | None = None) -> Any:
        """GET and return the decoded JSON document."""
        return self.request("GET", path, params=build_query(include=include, params=params, per_page=None)).data

    def get_resource(self, path: str, *, include: Iterable[str] | str | None = None) -> Resource:
        """GET one resource (e.g. `/people/v2/people/1`) with its includes resolved."""
        document = _parse(self.get(path, include=include), "GET", path)
        if not document.records:
            reason = document.errors[0].reason if document.errors else "no data"
            raise PCOError(f"PCO returned no readable resource ({reason})", method="GET", path=path)
        return document.records[0]

    def post(self, path: str, body: Mapping[str, Any]) -> Resource:
        """Create; returns the created resource. See PCOWriteOutcomeUnknown for lost answers."""
        return self._write("POST", path, body)

    def patch(self, path: str, body: Mapping[str, Any]) -> Resource:
        return self._write("PATCH", path, body)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def _write(self, method: str, path: str, body: Mapping[str, Any]) -> Resource:
        response = self.request(method, path, json_body=body)
        document = _parse(response.data, method, path)
        if not document.records:
            raise PCOError(f"PCO answered the {method} without a readable resource", status=response.status,
                           method=method, path=path, request_id=response.request_id)
        return document.records[0]

    # ---------------------------------------------------------------- listings

    def iter_pages(self, path: str, *, include: Iterable[str] | str | None = None,
                   where: Mapping[str, Any] | None = None, order: Iterable[str] | str | None = None,
                   filter: Iterable[str] | str | None = None, params: Mapping[str, Any] | None = None,
                   per_page: int = 100, offset: int = 0, prefetch: int | None = None,
                   check_params: bool = True, overlap: int = 0) -> Iterator[Page]:
        """Stream a collection page by page (see `pagination.py`); each Page lists its RecordErrors.

        Parameters PCO's reference says the route ignores are always refused (`request`);
        `check_params` also judges them by the first page's `meta.can_*` lists, which covers
        routes the reference table does not describe (PCOQueryError before any record).
        `overlap` > 0 lists a set that may change while it is read without missing a record that
        existed throughout, each record once (see `pagination.py`).
        """
        path = self._relative(path)
        paging = {"offset", "per_page"} & set(params or {})
        if paging:
            raise ValueError(f"pass {', '.join(sorted(paging))} as arguments of the listing, not in params")
        query = build_query(include=include, where=where, order=order, filter=filter, params=params,
                            per_page=per_page)

        def fetch(page_offset: int, cancel: threading.Event | None) -> Callable[[], Page]:
            params = [*query, ("offset", str(page_offset))]
            response = self.request("GET", path, params=params, cancel=cancel, decode=False)
            return lambda: read(page_offset, params, response)

        def read(page_offset: int, params: list[tuple[str, str]], response: PCOResponse) -> Page:
            try:
                document = parse_body(response.content)
            except BodyNotJSON:
                log.warning("PCO answered GET %s offset %d with a body that is not JSON; reading it again",
                            path, page_offset)
                self.counters.add(retries=1)
                document = _parse(self.request("GET", path, params=params).data, "GET", path)
            except DocumentError as exc:
                raise _not_jsonapi(exc, "GET", path) from None
            page = Page.from_document(path, page_offset, document)
            self.counters.add(pages=1, records=len(page.records), record_errors=len(page.errors))
            for error in page.errors:
                log.warning("unreadable record on %s offset %d: %s", path, page_offset, error.reason)
            return page

        validate = (lambda first: check_query(query, first.meta)) if check_params else None
        yield from iterate_pages(fetch, start_offset=offset, prefetch=prefetch or self.config.prefetch,
                                 on_first_page=validate, wake=self.budget.wake_all, overlap=overlap)

    def iter_records(self, path: str, *, on_record_error: Callable[[RecordError], None] | None = None,
                     **listing) -> Iterator[Resource]:
        """Stream a collection record by record (`iter_pages` arguments).

        Malformed records are passed to `on_record_error` (and always logged and counted in
        `counters.record_errors`); the listing goes on.
        """
        for page in self.iter_pages(path, **listing):
            if on_record_error is not None:
                for error in page.errors:
                    on_record_error(error)
            yield from page.records


_json = msgspec.json.Decoder()


def _refuse_ignored_parameters(path: str, query: list[tuple[str, Any]]) -> None:
    """PCOQueryError when PCO's reference says this GET route would silently ignore a parameter."""
    route = route_for(path)
    if route is not None:
        check_accepted([(name, str(value)) for name, value in query], route.accepts(),
                       f"GET {path.split('?', 1)[0]} (PCO's reference: {route.capability.reference})")


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's default verifying TLS context (it reads SSL_CERT_FILE / SSL_CERT_DIR, hence the
    key), built once per process: reading the CA bundle takes 15-30 ms, and every run creates
    its clients anew. A context is safe to share between clients and threads."""
    return httpx.create_ssl_context()


def _decoded(status: int, content: bytes) -> tuple[Any, bool]:
    """A 2xx body decoded, and whether it was readable (204 and empty bodies decode to None)."""
    if status == 204 or not content.strip():
        return None, True
    try:
        return _json.decode(content), True
    except msgspec.DecodeError:
        return None, False


def _parse(data: Any, method: str, path: str):
    try:
        return parse_document(data)
    except DocumentError as exc:
        raise _not_jsonapi(exc, method, path) from None


def _not_jsonapi(exc: DocumentError, method: str, path: str) -> PCOError:
    return PCOError(f"PCO answered with something that is not a JSON:API document ({exc})", method=method, path=path)

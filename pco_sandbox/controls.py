"""Test controls: the Python API (`sandbox.controls`) and the same over HTTP under /_sandbox/.

Outside PCO's namespace and without authentication (the sandbox serves loopback only). Changes
made here behave like edits in PCO's web UI: they bump updated_at under the same rules as the API
and emit the same webhooks.

HTTP (JSON bodies and answers):
    GET    /_sandbox                                  status: collections, clock, limits, faults
    POST   /_sandbox/records/{app}/{collection}       {"attributes", "parent_id"?, "relationships"?}
    PATCH  /_sandbox/records/{app}/{collection}/{id}  {"attributes", "touch"?: true|false}
    DELETE /_sandbox/records/{app}/{collection}/{id}
    POST   /_sandbox/people                           {"attributes": {...}}    (create a person)
    DELETE /_sandbox/people/{id}
    POST   /_sandbox/merge                            {"keep": id, "remove": id}
    GET    /_sandbox/clock    POST /_sandbox/clock/advance {"seconds"}   POST /_sandbox/clock/set {"now"}
    GET|POST|DELETE /_sandbox/faults                  POST: {"kind", "probability"?, "count"?, ...}
    DELETE /_sandbox/faults/{id}
    POST   /_sandbox/rate_limit                       {"rate_limit": "10/20s"}
    GET    /_sandbox/requests?limit=N   GET /_sandbox/counters   DELETE /_sandbox/requests
    POST   /_sandbox/webhooks/subscribe               {"name"|"names"|"all": true, "url"}
    GET    /_sandbox/webhooks/deliveries   POST /_sandbox/webhooks/flush
    POST   /_sandbox/webhooks/wait                    {"timeout": s} → {"idle": bool}
    POST   /_sandbox/oauth/revoke_all

Python only: `churn_between_pages(key, …)` changes a collection while a client pages through it
(records removed from the page just served and new ones added, after each page is served and
before its answer leaves), to test readers against a set that moves under them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pco_sandbox.auth import Auth
from pco_sandbox.clock import Clock
from pco_sandbox.errors import ApiError
from pco_sandbox.faults import Fault, Faults
from pco_sandbox.ratelimit import RateLimit, RateLimiter
from pco_sandbox.requestlog import RequestLog
from pco_sandbox.schema import Kind
from pco_sandbox.store import Record, Store, person_display_name
from pco_sandbox.webhooks import WebhookHub
from pco_sandbox.writes import CONTACT_KINDS, CREATED_UNDER, Change, Writer, derive_phone_fields

_SILENT_PERSON_FIELDS = frozenset({"medical_notes", "passed_background_check"})


class ControlError(ValueError):
    """A control request that cannot be carried out (bad option); HTTP 400."""

    status = 400


class UnknownRecord(ControlError):
    """The record or collection named does not exist; HTTP 404."""

    status = 404


@dataclass
class ListingChurn:
    """A running `churn_between_pages`: which ids it removed and added; `stop()` ends it."""

    key: str
    remove_per_page: int
    add_per_page: int
    pages_left: int
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    stopped: bool = False

    def stop(self) -> None:
        self.stopped = True


class ControlledSandbox(Protocol):
    """The parts of a sandbox the controls act on (`core.Sandbox` is one; the controls never see
    the whole sandbox, so they depend on these parts and not on the module that assembles them)."""

    store: Store
    clock: Clock
    auth: Auth
    limiter: RateLimiter
    faults: Faults
    requests: RequestLog
    writer: Writer
    webhooks: WebhookHub
    organization: Record
    # Called with (kind, rows of the page) after each listing page is served (churn_between_pages).
    after_listing_page: list[Callable[[Kind, list[Record]], None]]

    @property
    def country_code(self) -> str: ...

    def publish(self, changes: Iterable[Change]) -> None: ...


class Controls:
    def __init__(self, sandbox: ControlledSandbox) -> None:
        self.sandbox = sandbox

    # --- records ----------------------------------------------------------------------------------

    def _kind(self, key: str) -> Kind:
        kind = self.sandbox.store.kind(key)
        if kind is None:
            raise UnknownRecord(f"no collection {key!r}")
        return kind

    def _record(self, key: str, resource_id: str) -> tuple[Kind, Record]:
        kind = self._kind(key)
        record = self.sandbox.store.get(key, str(resource_id))
        if record is None:
            raise UnknownRecord(f"no {key} record {resource_id}")
        return kind, record

    def update_record(self, key: str, resource_id: str, attributes: dict[str, Any], *,
                      touch: bool | None = None) -> Record:
        """Edit any record's attributes as PCO's UI would, without API validation.

        `touch`: None applies PCO's rules (a person's medical notes / background check do not move
        updated_at; contact edits move the person's), True always bumps, False never does (a change
        `updated_at` misses). Webhooks fire when updated_at moves.
        """
        sandbox = self.sandbox
        kind, record = self._record(key, resource_id)
        with sandbox.store.lock:
            updated = record.copy()
            updated.attributes.update(attributes)
            if key == "people/people":
                updated.attributes["name"] = person_display_name(updated.attributes)
            if key == "people/phone_numbers" and "number" in attributes:
                updated.attributes.update(derive_phone_fields(str(attributes["number"]), sandbox.country_code))
            changed = {k for k, v in attributes.items() if record.attributes.get(k) != v}
            if touch is None:
                touch = bool(changed) and not (key == "people/people" and changed <= _SILENT_PERSON_FIELDS) \
                    and kind.timestamps
            if touch and "updated_at" in kind.attributes:
                updated.attributes["updated_at"] = sandbox.clock.timestamp()
            sandbox.store.replace(key, updated)
            changes = [Change(kind, updated, "updated")] if touch else []
            if touch and key in CONTACT_KINDS:
                changes += sandbox.writer.touch_person(next(iter(updated.rel_ids("person")), None))
        sandbox.publish(changes)
        return updated

    def create(self, key: str, attributes: dict[str, Any], *, parent_id: str | None = None,
               relationships: dict[str, Any] | None = None) -> Record:
        """Create a record through the write rules (validation, derived fields, webhooks)."""
        sandbox = self.sandbox
        kind = self._kind(key)
        parent = None
        if key in CREATED_UNDER:
            if parent_id is None:
                raise ControlError(f"{key} records are created under a {CREATED_UNDER[key][0]} (give parent_id)")
            _, parent = self._record(CREATED_UNDER[key][0], parent_id)
        data = {"type": kind.type, "attributes": dict(attributes), "relationships": dict(relationships or {})}
        record, changes = sandbox.writer.create(kind, data, parent)
        sandbox.publish(changes)
        return record

    def create_person(self, **attributes: Any) -> Record:
        return self.create("people/people", attributes)

    def delete(self, key: str, resource_id: str) -> None:
        kind, record = self._record(key, resource_id)
        self.sandbox.publish(self.sandbox.writer.delete(kind, record))

    def delete_person(self, person_id: str) -> None:
        self.delete("people/people", person_id)

    def merge_people(self, keep_id: str, remove_id: str) -> Record:
        """Merge two people as PCO's merge tool does; returns the PersonMerger.

        The removed person's emails, phones, addresses, field data, household and group memberships
        move to the kept person; the removed id disappears; a PersonMerger is written; webhooks:
        person_merger.created and person.updated (the kept person's updated_at moves).
        """
        sandbox = self.sandbox
        store = sandbox.store
        keep_kind, keep = self._record("people/people", keep_id)
        _, remove = self._record("people/people", remove_id)
        if keep.id == remove.id:
            raise ControlError("cannot merge a person into themselves")
        with store.lock:
            for key, via in (("people/emails", "person"), ("people/phone_numbers", "person"),
                             ("people/addresses", "person"), ("people/field_data", "customizable"),
                             ("groups/memberships", "person"), ("people/household_memberships", "person")):
                for child in list(store.children(key, via, remove.id)):
                    if key == "people/household_memberships" and any(
                            ref[1] == keep.id for ref in store.household_people(child.rel_ids("household")[0])):
                        store.delete(key, child.id)
                        continue
                    moved = child.copy()
                    moved.relationships[via] = ("Person", keep.id)
                    if key == "people/household_memberships":
                        moved.attributes["person_name"] = keep.attributes.get("name")
                    store.replace(key, moved)
            for household in store.all("people/households"):
                if household.rel_ids("primary_contact") == [remove.id]:
                    updated = household.copy()
                    updated.relationships["primary_contact"] = ("Person", keep.id)
                    store.replace("people/households", updated)
                    sandbox.writer.recount_household(household.id)
            store.delete("people/people", remove.id)
            merger_kind = self._kind("people/person_mergers")
            now = sandbox.clock.timestamp()
            merger = store.insert("people/person_mergers", Record(
                "PersonMerger", store.next_id("people/person_mergers"),
                {"created_at": now, "person_to_keep_id": keep.id, "person_to_remove_id": remove.id},
                {"person_to_keep": ("Person", keep.id), "person_to_remove": ("Person", remove.id)}))
            kept = keep.copy()
            kept.attributes["updated_at"] = now
            store.replace("people/people", kept)
        sandbox.publish([Change(merger_kind, merger, "created"), Change(keep_kind, kept, "updated")])
        return merger

    def churn_between_pages(self, key: str, *, remove: int = 1, add: int = 1, pages: int = 1_000_000
                            ) -> ListingChurn:
        """Change `key` under a client listing it: after each listing page of `key` is served (top
        level or nested, before its answer leaves), delete the first `remove` records of that page
        — ones the client has just read, so the rest shift towards it — and add `add` records with
        new ids (copies of the page's last record, created and updated now), for `pages` pages.

        Records are deleted and inserted directly, as PCO's own data changes, without webhooks.
        """
        churn = ListingChurn(key, remove, add, pages)
        sandbox = self.sandbox

        def after_page(kind: Kind, page_rows: list[Record]) -> None:
            if churn.stopped or kind.key != key or churn.pages_left <= 0 or not page_rows:
                return
            churn.pages_left -= 1
            store = sandbox.store
            now = sandbox.clock.timestamp()
            template = page_rows[-1]
            for record in page_rows[:remove]:
                if store.delete(key, record.id) is not None:
                    churn.removed.append(record.id)
            for _ in range(add):
                copy = template.copy()
                for stamp in ("created_at", "updated_at"):
                    if stamp in copy.attributes:
                        copy.attributes[stamp] = now
                new_id = store.next_id(key)
                store.insert(key, Record(copy.type, new_id, copy.attributes, copy.relationships))
                churn.added.append(new_id)

        sandbox.after_listing_page.append(after_page)
        return churn

    # --- clock, limits, faults ------------------------------------------------------------------------

    def advance_clock(self, seconds: float) -> datetime:
        return self.sandbox.clock.advance(seconds)

    def set_clock(self, moment: datetime) -> None:
        self.sandbox.clock.set(moment)

    def set_rate_limit(self, rate: str | RateLimit) -> RateLimit:
        """Change the limit for every credential (windows restart)."""
        rate = rate if isinstance(rate, RateLimit) else RateLimit.parse(rate)
        self.sandbox.limiter.set_rate(rate)
        return rate

    def inject_fault(self, kind: str, **options: Any) -> Fault:
        return self.sandbox.faults.add(kind, **options)

    def clear_faults(self) -> None:
        self.sandbox.faults.clear()

    # --- observation --------------------------------------------------------------------------------

    def request_log(self, limit: int | None = None) -> list[dict[str, Any]]:
        return [entry.as_dict() for entry in self.sandbox.requests.entries(limit)]

    def counters(self) -> dict[str, Any]:
        return self.sandbox.requests.counters()

    def reset_request_log(self) -> None:
        self.sandbox.requests.reset()

    def status(self) -> dict[str, Any]:
        sandbox = self.sandbox
        rate = sandbox.limiter.rate
        return {"organization": {"id": sandbox.organization.id, "name": sandbox.organization.attributes["name"]},
                "clock": sandbox.clock.timestamp(),
                "rate_limit": {"limit": rate.limit, "period_seconds": rate.period},
                "collections": {kind.key: sandbox.store.count(kind.key) for kind in sandbox.store.kinds()},
                "faults": [fault.as_dict() for fault in sandbox.faults.active()],
                "webhooks_pending": sandbox.webhooks.pending(),
                "requests": sandbox.requests.counters()["requests"]}


def control_routes(controls: Controls) -> list[Route]:
    """The /_sandbox/ HTTP routes (sync handlers: Starlette runs them in its thread pool)."""
    sandbox = controls.sandbox

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            try:
                body: dict[str, Any] = {}
                if request.method in ("POST", "PATCH", "PUT"):
                    raw = await request.body()
                    body = _json_object(raw)
                result = await run_in_threadpool(handler, request, body)
            except ControlError as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            except KeyError as exc:
                return JSONResponse({"error": f"missing field {exc}"}, status_code=400)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except ApiError as error:
                return JSONResponse(error.body, status_code=error.status)
            if isinstance(result, Response):
                return result
            return JSONResponse(result)
        return endpoint

    def record_json(record: Record) -> dict[str, Any]:
        return {"type": record.type, "id": record.id, "attributes": record.attributes,
                "relationships": {k: _ref(v) for k, v in record.relationships.items()}}

    def status(request: Request, body: dict) -> Any:
        return controls.status()

    def create_record(request: Request, body: dict) -> Any:
        key = f"{request.path_params['app']}/{request.path_params['collection']}"
        record = controls.create(key, body.get("attributes") or {}, parent_id=body.get("parent_id"),
                                 relationships=body.get("relationships"))
        return JSONResponse(record_json(record), status_code=201)

    def record_item(request: Request, body: dict) -> Any:
        key = f"{request.path_params['app']}/{request.path_params['collection']}"
        if request.method == "DELETE":
            controls.delete(key, request.path_params["id"])
            return Response(status_code=204)
        record = controls.update_record(key, request.path_params["id"], body.get("attributes") or {},
                                        touch=body.get("touch"))
        return record_json(record)

    def create_person(request: Request, body: dict) -> Any:
        return JSONResponse(record_json(controls.create_person(**(body.get("attributes") or {}))), status_code=201)

    def delete_person(request: Request, body: dict) -> Any:
        controls.delete_person(request.path_params["id"])
        return Response(status_code=204)

    def merge(request: Request, body: dict) -> Any:
        return JSONResponse(record_json(controls.merge_people(str(body["keep"]), str(body["remove"]))),
                            status_code=201)

    def clock(request: Request, body: dict) -> Any:
        return {"now": sandbox.clock.timestamp(), "frozen": sandbox.clock.frozen}

    def clock_advance(request: Request, body: dict) -> Any:
        controls.advance_clock(float(body["seconds"]))
        return clock(request, body)

    def clock_set(request: Request, body: dict) -> Any:
        controls.set_clock(datetime.fromisoformat(str(body["now"])))
        return clock(request, body)

    def faults(request: Request, body: dict) -> Any:
        if request.method == "POST":
            options = dict(body)
            fault = controls.inject_fault(options.pop("kind"), **options)
            return JSONResponse(fault.as_dict(), status_code=201)
        if request.method == "DELETE":
            controls.clear_faults()
            return Response(status_code=204)
        return [fault.as_dict() for fault in sandbox.faults.active()]

    def fault_item(request: Request, body: dict) -> Any:
        if not sandbox.faults.remove(int(request.path_params["id"])):
            raise UnknownRecord(f"no fault {request.path_params['id']}")
        return Response(status_code=204)

    def rate_limit(request: Request, body: dict) -> Any:
        rate = controls.set_rate_limit(str(body["rate_limit"]))
        return {"limit": rate.limit, "period_seconds": rate.period}

    def requests_log(request: Request, body: dict) -> Any:
        if request.method == "DELETE":
            controls.reset_request_log()
            return Response(status_code=204)
        limit = request.query_params.get("limit")
        return controls.request_log(int(limit) if limit else None)

    def counters(request: Request, body: dict) -> Any:
        return controls.counters()

    def subscribe(request: Request, body: dict) -> Any:
        url = str(body["url"])
        if body.get("all"):
            records = sandbox.webhooks.subscribe_all(url)
        else:
            names = body.get("names") or [body["name"]]
            records = [sandbox.webhooks.subscribe(str(name), url) for name in names]
        return JSONResponse([record_json(r) for r in records], status_code=201)

    def deliveries(request: Request, body: dict) -> Any:
        return [{"event_name": d.event_name, "url": d.url, "attempt": d.attempt, "status": d.status,
                 "event_id": d.event_id, "subscription_id": d.subscription_id, "headers": d.headers,
                 "body": d.body.decode()} for d in sandbox.webhooks.deliveries()]

    def flush(request: Request, body: dict) -> Any:
        sandbox.webhooks.flush()
        return {"pending": sandbox.webhooks.pending()}

    def wait(request: Request, body: dict) -> Any:
        return {"idle": sandbox.webhooks.wait_idle(float(body.get("timeout", 10.0)))}

    def revoke_all(request: Request, body: dict) -> Any:
        sandbox.auth.revoke_all_tokens()
        return Response(status_code=204)

    return [
        Route("/", guarded(status), methods=["GET"]),
        Route("/records/{app}/{collection}", guarded(create_record), methods=["POST"]),
        Route("/records/{app}/{collection}/{id}", guarded(record_item), methods=["PATCH", "POST", "DELETE"]),
        Route("/people", guarded(create_person), methods=["POST"]),
        Route("/people/{id}", guarded(delete_person), methods=["DELETE"]),
        Route("/merge", guarded(merge), methods=["POST"]),
        Route("/clock", guarded(clock), methods=["GET"]),
        Route("/clock/advance", guarded(clock_advance), methods=["POST"]),
        Route("/clock/set", guarded(clock_set), methods=["POST"]),
        Route("/faults", guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route("/faults/{id}", guarded(fault_item), methods=["DELETE"]),
        Route("/rate_limit", guarded(rate_limit), methods=["POST", "PUT"]),
        Route("/requests", guarded(requests_log), methods=["GET", "DELETE"]),
        Route("/counters", guarded(counters), methods=["GET"]),
        Route("/webhooks/subscribe", guarded(subscribe), methods=["POST"]),
        Route("/webhooks/deliveries", guarded(deliveries), methods=["GET"]),
        Route("/webhooks/flush", guarded(flush), methods=["POST"]),
        Route("/webhooks/wait", guarded(wait), methods=["POST"]),
        Route("/oauth/revoke_all", guarded(revoke_all), methods=["POST"]),
    ]


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ControlError("the request body must be a JSON object")
    return value


def _ref(value: Any) -> Any:
    if isinstance(value, tuple):
        return {"type": value[0], "id": value[1]}
    if isinstance(value, list):
        return [{"type": ref[0], "id": ref[1]} for ref in value]
    return None

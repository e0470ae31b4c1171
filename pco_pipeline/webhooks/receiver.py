"""`POST /api/pco/webhook`: PCO's signed deliveries → `webhook_inbox`, stored before the 200.

Status codes are chosen for how PCO reacts to them: 200 means "stored (or already held)"; any
other status makes PCO retry later (16 times over ~5 days), which is what a database outage
needs, so that answers 503. 410 would deactivate the subscription and is never sent. A request
that is not PCO's (bad signature 401) or cannot be read whole (too large 413) is refused without
storing anything.

An authentic body the pipeline cannot use (not an EventDelivery, nested too deep, an id the
database cannot hold, values the database refuses) is kept in `webhook_rejections` with the
reason and answered 200 `{"stored": 0, "duplicates": 0, "rejected": reason}`: PCO would resend
exactly the same content on any other status, for five days, and it could never succeed; the
reason is in the answer for PCO's delivery log, and `webhooks status` counts what was kept.

Secrets: those of `ReceiverSettings`, plus the ones `webhooks subscribe` stored. A delivery
that matches none of them makes the receiver read the stored ones again (at most once every
RELOAD_SECONDS, so forged deliveries cannot flood the database), so a subscription created while
the receiver runs is accepted without a restart.

Logs name the event, delivery id, attempt and size only; a payload is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from pco_pipeline.webhooks.authenticity import SIGNATURE_HEADER, is_authentic
from pco_pipeline.webhooks.database import ConnectionPool, describe_failure
from pco_pipeline.webhooks.envelope import EnvelopeError, decimal_or_none, parse_deliveries
from pco_pipeline.webhooks.inbox import DeliveryRefused, InboxUnavailable, store_deliveries, store_rejection
from pco_pipeline.webhooks.responses import error_response, service_unavailable
from pco_pipeline.webhooks.settings import ReceiverSettings

log = logging.getLogger(__name__)

DELIVERY_ID_HEADER = "X-PCO-Webhooks-Event"
RELOAD_SECONDS = 5.0
ATTEMPT_HEADER = "X-PCO-Webhooks-Attempt"


class BodyTooLarge(Exception):
    pass


async def read_bounded(request: Request, limit: int) -> bytes:
    """The request body, refusing (BodyTooLarge) as soon as it exceeds `limit` bytes.

    A declared Content-Length over the limit is refused before reading anything; a chunked body
    is read only up to the limit, so memory per request stays bounded either way.
    """
    declared = decimal_or_none(request.headers.get("content-length", ""))
    if declared is not None and declared > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise BodyTooLarge
        body += chunk
    return bytes(body)


class WebhookReceiver:
    """The webhook endpoint, bound to a connection pool and the receiver settings.

    `stored_secrets` (blocking; run in a thread) reads the secrets `webhooks subscribe` stored.
    """

    def __init__(self, pool: ConnectionPool, settings: ReceiverSettings,
                 stored_secrets: Callable[[], tuple[str, ...]] | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self._read_stored = stored_secrets
        self._stored: tuple[str, ...] = ()
        self._read_at = float("-inf")
        self._reading = asyncio.Lock()

    async def _authentic(self, body: bytes, signature: str | None) -> bool:
        """Whether the signature matches under a known secret, reading the stored ones again on a
        mismatch when they were last read over RELOAD_SECONDS ago (deliveries that arrive during a
        read wait for it and are checked against what it found)."""
        if is_authentic(body, signature, (*self.settings.secrets, *self._stored)):
            return True
        if self._read_stored is None or not signature:
            return False
        async with self._reading:
            if time.monotonic() - self._read_at >= RELOAD_SECONDS:
                self._read_at = time.monotonic()
                self._stored = await asyncio.to_thread(self._read_stored)
        return is_authentic(body, signature, (*self.settings.secrets, *self._stored))

    async def handle(self, request: Request) -> Response:
        limit = self.settings.max_body_bytes
        try:
            body = await read_bounded(request, limit)
        except ClientDisconnect:  # nothing was answered, so the sender retries
            log.info("a webhook sender disconnected before its body was complete")
            return Response(status_code=400)
        except BodyTooLarge:
            log.warning("refused a webhook delivery: body over the %d-byte limit", limit)
            return error_response(413, "Payload Too Large", f"the body exceeds the {limit}-byte limit")

        signature = request.headers.get(SIGNATURE_HEADER)
        if not await self._authentic(body, signature):
            if not (self.settings.secrets or self._stored):
                log.warning("refused a webhook delivery (%d bytes): no webhook secrets are configured "
                            "(PCO_WEBHOOK_SECRETS)", len(body))
            else:
                log.warning("refused a webhook delivery (%d bytes): %s signature", len(body),
                            "bad" if signature else "missing")
            detail = (f"the {SIGNATURE_HEADER} header is missing" if not signature
                      else "the signature does not match the body under any configured secret")
            return error_response(401, "Unauthorized", detail)

        try:
            deliveries = parse_deliveries(body, header_delivery_id=request.headers.get(DELIVERY_ID_HEADER),
                                          header_attempt=request.headers.get(ATTEMPT_HEADER))
        except EnvelopeError as exc:
            return await self._reject(body, f"not an EventDelivery: {exc.reason}")

        try:
            result = await store_deliveries(self.pool, deliveries, body)
        except DeliveryRefused as exc:
            return await self._reject(body, exc.reason)
        except InboxUnavailable as exc:
            log.error("could not store webhook deliveries %s (%d bytes), answered 503 so PCO retries: %s",
                      ", ".join(d.delivery_id for d in deliveries), len(body), describe_failure(exc.__cause__))
            return service_unavailable("the webhook inbox cannot be written right now")

        stored = set(result.stored)
        for delivery in deliveries:
            log.info("%s webhook %s delivery %s attempt %d (%d bytes)",
                     "stored" if delivery.delivery_id in stored else "duplicate",
                     delivery.event_name, delivery.delivery_id, delivery.attempt, len(body))
        return JSONResponse({"stored": len(result.stored), "duplicates": len(result.duplicates)})

    async def _reject(self, body: bytes, reason: str) -> Response:
        """Keep an authentic body the pipeline cannot use in `webhook_rejections`, and say why
        (see the module doc for why that is a 200). `reason` never quotes the body."""
        try:
            await store_rejection(self.pool, body, reason)
        except InboxUnavailable as exc:
            log.error("could not keep a rejected webhook delivery (%d bytes), answered 503 so PCO retries: %s",
                      len(body), describe_failure(exc.__cause__))
            return service_unavailable("the webhook inbox cannot be written right now")
        log.warning("rejected a webhook delivery (%d bytes), kept in webhook_rejections: %s", len(body), reason)
        return JSONResponse({"stored": 0, "duplicates": 0, "rejected": reason})

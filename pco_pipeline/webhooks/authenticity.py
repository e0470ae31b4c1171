"""PCO's webhook signature: `X-PCO-Webhooks-Authenticity` = lowercase hex HMAC-SHA256 of the raw body.

The key is the subscription's `authenticity_secret`; the message is the exact bytes PCO sent,
so verification must run on the raw body, never on re-serialized JSON.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_HEADER = "X-PCO-Webhooks-Authenticity"


def sign(body: bytes, secret: str) -> str:
    """The signature PCO sends for `body` under `secret`."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_authentic(body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """Whether `signature` is `body`'s signature under any of `secrets`, compared in constant time.

    Every secret is tried even after a match, so the time taken does not tell which one matched.
    """
    if not signature:
        return False
    # Header values arrive as latin-1 text; comparing bytes keeps compare_digest total.
    given = signature.strip().encode("latin-1", errors="replace")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret).encode(), given)
    return matched

"""The webhook receiver (HMAC → inbox) and the read-only /api/pco/* endpoints."""

-- Authentic (correctly signed) webhook bodies the pipeline cannot use: not an EventDelivery,
-- nested too deep, an id or event name the database cannot hold, values the database refused.
-- They are kept with the reason, so nothing PCO signed is lost and staff can see what arrived;
-- the receiver answers them 200 with the reason, because a retry of the same body could never
-- succeed (see pco_pipeline/webhooks/receiver.py).
CREATE TABLE webhook_rejections (
    id           BIGSERIAL PRIMARY KEY,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    reason       TEXT NOT NULL,          -- names the field and the problem, never quotes the body
    raw_body     BYTEA NOT NULL,         -- the exact bytes that were signed
    body_sha256  BYTEA NOT NULL GENERATED ALWAYS AS (sha256(raw_body)) STORED
);
-- The same bytes sent twice (a request whose answer was lost) are kept once.
CREATE UNIQUE INDEX webhook_rejections_body_key ON webhook_rejections (body_sha256);

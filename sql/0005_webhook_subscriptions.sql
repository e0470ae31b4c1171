-- Real time: the PCO webhook subscriptions this pipeline created, with their secrets, and what
-- applying the webhook inbox needs to look up quickly.

-- One row per PCO subscription (one event name + one URL + its own authenticity secret). The
-- receiver verifies deliveries against these secrets in addition to PCO_WEBHOOK_SECRETS.
-- A secret is a credential: it is never printed, logged or copied into run metadata.
CREATE TABLE webhook_subscriptions (
    pco_id              TEXT PRIMARY KEY,          -- the subscription's id in PCO
    event_name          TEXT NOT NULL,             -- e.g. people.v2.events.person.updated
    url                 TEXT NOT NULL,             -- where PCO delivers
    active              BOOLEAN NOT NULL,
    authenticity_secret TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (event_name, url)
);

-- The monotonic guard asks "what is the newest event already applied to this record?".
CREATE INDEX webhook_inbox_applied_resource_idx ON webhook_inbox (resource_type, resource_id, event_time)
    WHERE status = 'applied';
-- Retries are found by when they are due.
CREATE INDEX webhook_inbox_due_idx ON webhook_inbox (next_try_at) WHERE status IN ('pending', 'failed');

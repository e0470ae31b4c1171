-- Bookkeeping for the sync itself: run history, incremental cursors, the webhook inbox.

CREATE TABLE pco_sync_log (
    id              BIGSERIAL PRIMARY KEY,
    run_id          TEXT,                          -- the Dagster run id, when run through Dagster
    sync_type       TEXT NOT NULL,                 -- people, families, groups, checkins, calendar, full, ...
    direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'webhook')),
    status          TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'success', 'failed', 'partial')),
    started_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ,
    created_count   INTEGER NOT NULL DEFAULT 0,
    updated_count   INTEGER NOT NULL DEFAULT 0,
    skipped_count   INTEGER NOT NULL DEFAULT 0,
    failed_count    INTEGER NOT NULL DEFAULT 0,
    requests_used   INTEGER NOT NULL DEFAULT 0,
    error_message   TEXT,
    CHECK (finished_at IS NULL OR finished_at >= started_at)
);
CREATE INDEX pco_sync_log_started_idx ON pco_sync_log (started_at DESC);
CREATE INDEX pco_sync_log_run_idx ON pco_sync_log (run_id);

-- One high-water mark per incrementally synced PCO resource, committed in the same
-- transaction as the rows it covers.
CREATE TABLE sync_cursor (
    resource        TEXT PRIMARY KEY,              -- e.g. people/people, check-ins/check_ins
    cursor_value    TIMESTAMPTZ,                   -- max updated_at landed so far
    -- ids already landed at exactly cursor_value: timestamps have one-second resolution,
    -- so the next run re-reads that second (gte) and skips these.
    ids_at_cursor   TEXT[] NOT NULL DEFAULT '{}',
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE webhook_inbox (
    id              BIGSERIAL PRIMARY KEY,
    event_name      TEXT NOT NULL,                 -- e.g. people.v2.events.person.updated
    delivery_id     TEXT NOT NULL,                 -- EventDelivery id
    attempt         INTEGER NOT NULL DEFAULT 1,
    idempotency_token TEXT,                        -- payload meta.idempotency_token, when present
    event_time      TIMESTAMPTZ,                   -- payload meta.event_time, when present
    resource_type   TEXT,
    resource_id     TEXT,
    raw_body        BYTEA NOT NULL,                -- the exact bytes that were signed
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'applied', 'ignored', 'failed', 'quarantined')),
    status_reason   TEXT,
    tries           INTEGER NOT NULL DEFAULT 0,
    next_try_at     TIMESTAMPTZ,
    processed_at    TIMESTAMPTZ
);
CREATE UNIQUE INDEX webhook_inbox_delivery_key ON webhook_inbox (delivery_id);
CREATE UNIQUE INDEX webhook_inbox_idempotency_key ON webhook_inbox (idempotency_token)
    WHERE idempotency_token IS NOT NULL;
CREATE INDEX webhook_inbox_pending_idx ON webhook_inbox (id) WHERE status IN ('pending', 'failed');

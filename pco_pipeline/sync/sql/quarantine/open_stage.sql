-- This transaction's stage of rejects, shared by the loads it runs and keyed by entity (see
-- sync/quarantine.py).
CREATE TEMP TABLE IF NOT EXISTS quarantine_stage (
    entity TEXT NOT NULL,
    record_key TEXT NOT NULL,
    pco_id TEXT,
    local_id BIGINT,
    reason_code TEXT NOT NULL,
    reason TEXT NOT NULL,
    details JSONB NOT NULL DEFAULT '{}',
    record JSONB
) ON COMMIT DROP

-- Outbox rows in :status, oldest first, at most :row_limit: what changed, how often it was tried,
-- when it is due again, and why it is where it is.
SELECT
    id,
    table_name,
    row_key,
    operation,
    changed_columns,
    changed_at,
    status,
    attempts,
    next_attempt_at,
    run_id,
    status_reason,
    finished_at
FROM church_outbox
WHERE status = :status
ORDER BY id
LIMIT :row_limit

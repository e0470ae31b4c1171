-- Take the open rows of :ids nobody holds, for :lease; the attempt is counted now, so a run that
-- dies holding them still used one. What an earlier run read of their records is not this run's.
UPDATE church_outbox
SET
    attempts = attempts + 1,
    next_attempt_at = now() + cast(:lease AS INTERVAL),
    run_id = :run_id,
    pco_read_at = NULL
WHERE
    id = any(:ids)
    AND status IN ('pending', 'failed')
    AND (next_attempt_at IS NULL OR next_attempt_at <= now())
RETURNING id, table_name, row_key, operation, attempts, status_reason

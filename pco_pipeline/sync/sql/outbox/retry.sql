-- Staff ask the rows :ids (failed or quarantined) to be pushed again: waiting, a fresh set of
-- tries, due at once (the sensor's retry query hands them out at its next tick). Other rows are
-- left as they are; the ids changed are returned.
UPDATE church_outbox
SET
    status = 'pending',
    attempts = 0,
    next_attempt_at = now(),
    run_id = NULL,
    pco_read_at = NULL,
    finished_at = NULL,
    status_reason = :reason
WHERE id = any(:ids) AND status IN ('failed', 'quarantined')
RETURNING id

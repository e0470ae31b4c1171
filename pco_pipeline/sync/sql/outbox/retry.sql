-- Staff ask the rows :ids in :statuses (failed, quarantined) to be pushed again: waiting, fresh
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
WHERE id = any(:ids) AND status = any(:statuses)
RETURNING id

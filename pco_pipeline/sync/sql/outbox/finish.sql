-- Rows of :ids end :status (sent or quarantined) with :reason.
UPDATE church_outbox
SET status = :status, status_reason = :reason, next_attempt_at = NULL, finished_at = now()
WHERE id = any(:ids)

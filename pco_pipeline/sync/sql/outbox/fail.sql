-- Rows of :ids failed: due again after :wait.
UPDATE church_outbox
SET status = 'failed', status_reason = :reason, next_attempt_at = now() + cast(:wait AS INTERVAL)
WHERE id = any(:ids)

-- Outbox rows after the sensor's cursor that are waiting and held by no run, oldest first.
SELECT id
FROM church_outbox
WHERE
    id > :after_id
    AND status IN ('pending', 'failed')
    AND (next_attempt_at IS NULL OR next_attempt_at <= now())
ORDER BY id
LIMIT :row_limit

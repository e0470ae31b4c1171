-- Open outbox rows at or before :up_to_id to hand out again: a failed try whose backoff ended, a
-- run's lease that expired (it died holding them), or a row waiting unclaimed for :unclaimed_for
-- (handed to a run that never started, or committed after the sensor's cursor had passed its id).
-- `due` (when each became due) names the batch: a later failure moves it.
SELECT
    id,
    coalesce(next_attempt_at, changed_at) AS due
FROM church_outbox
WHERE
    id <= :up_to_id
    AND status IN ('pending', 'failed')
    AND (
        next_attempt_at <= now()
        OR (next_attempt_at IS NULL AND changed_at <= now() - cast(:unclaimed_for AS INTERVAL))
    )
ORDER BY id
LIMIT :row_limit

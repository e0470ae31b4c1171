-- The outbox's backlog per church table: rows waiting (pending: new, or held by a run until its
-- lease ends), failed (due again at their next attempt), quarantined (given up, or the push holds
-- the record), needing action in PCO; the oldest open change and the earliest next retry.
-- Sent rows are not counted (the open-row index and the status index answer the rest).
SELECT
    table_name,
    count(*) FILTER (WHERE status = 'pending') AS pending,
    count(*) FILTER (WHERE status = 'pending' AND next_attempt_at > now()) AS held,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE status = 'quarantined') AS quarantined,
    count(*) FILTER (WHERE status = 'needs_action') AS needs_action,
    min(changed_at) FILTER (WHERE status IN ('pending', 'failed')) AS oldest_open,
    min(next_attempt_at) FILTER (WHERE status = 'failed') AS next_retry
FROM church_outbox
WHERE status <> 'sent'
GROUP BY table_name
ORDER BY table_name

-- For outbox rows whose push ran: the reason the push holds each one's record in the outbound
-- quarantine (entity push_<table>, the record or one of its fields), NULL when it holds none.
SELECT
    o.id,
    (
        SELECT q.reason
        FROM sync_quarantine AS q
        WHERE
            q.entity = 'push_' || o.table_name
            AND q.resolved_at IS NULL
            AND (
                q.record_key = o.row_key
                OR q.record_key LIKE o.row_key || '#%'
                OR q.local_id = cast(split_part(o.row_key, ':', 1) AS BIGINT)
            )
        ORDER BY q.last_seen_at DESC
        LIMIT 1
    ) AS quarantined_because
FROM church_outbox AS o
WHERE o.id = any(:ids)

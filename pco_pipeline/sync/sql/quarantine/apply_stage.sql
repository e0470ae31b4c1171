-- The staged rejects of `entity` into the quarantine: open rows seen again are refreshed, the
-- others opened (one per record key). Returns how many records are quarantined by this run.
WITH one_per_key AS (
    SELECT DISTINCT ON (record_key) *
    FROM quarantine_stage
    WHERE entity = :entity
    ORDER BY record_key ASC
),

refreshed AS (
    UPDATE sync_quarantine AS q
    SET
        last_seen_at = now(),
        seen_count = q.seen_count + 1,
        reason_code = s.reason_code,
        reason = s.reason,
        details = s.details,
        record = s.record,
        pco_id = s.pco_id,
        local_id = s.local_id
    FROM one_per_key AS s
    WHERE q.entity = :entity AND q.record_key = s.record_key AND q.resolved_at IS NULL
    RETURNING q.record_key
),

opened AS (
    INSERT INTO sync_quarantine (
        entity, direction, record_key, pco_id, local_id, reason_code, reason, details, record
    )
    SELECT
        :entity AS entity,
        :direction AS direction,
        s.record_key,
        s.pco_id,
        s.local_id,
        s.reason_code,
        s.reason,
        s.details,
        s.record
    FROM one_per_key AS s
    WHERE s.record_key NOT IN (SELECT refreshed.record_key FROM refreshed)
    RETURNING record_key
)

SELECT (SELECT count(*) FROM refreshed) + (SELECT count(*) FROM opened) AS quarantined

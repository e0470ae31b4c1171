-- Open quarantine rows of `entity` this run looked at (every record, or the record keys in
-- `scope`) and did not reject again are resolved.
UPDATE sync_quarantine AS q
SET resolved_at = now()
WHERE
    q.entity = :entity
    AND q.resolved_at IS NULL
    AND (CAST(:scope AS TEXT[]) IS NULL OR q.record_key = ANY(CAST(:scope AS TEXT[])))
    AND NOT EXISTS (
        SELECT 1 FROM quarantine_stage AS s
        WHERE s.entity = :entity AND s.record_key = q.record_key
    )

-- One batch of the retention purge (sync/retention.py states the rule): at most :batch_size
-- church_outbox rows sent before :finished_before, the oldest first, through the partial index
-- of sent rows (sql/0024). Rows another transaction holds are skipped, never waited for.
DELETE FROM church_outbox
WHERE id IN (
    SELECT id
    FROM church_outbox
    WHERE status = 'sent' AND finished_at < :finished_before
    ORDER BY finished_at
    LIMIT :batch_size
    FOR UPDATE SKIP LOCKED
)

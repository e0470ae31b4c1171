-- One batch of the retention purge (sync/retention.py states the rule): at most :batch_size
-- webhook_inbox rows applied or ignored before :finished_before, the oldest first, through the
-- partial index of those rows (sql/0024). Rows another transaction holds are skipped, never
-- waited for.
DELETE FROM webhook_inbox
WHERE id IN (
    SELECT id
    FROM webhook_inbox
    WHERE status IN ('applied', 'ignored') AND processed_at < :finished_before
    ORDER BY processed_at
    LIMIT :batch_size
    FOR UPDATE SKIP LOCKED
)

-- What the retention purge would delete (its dry run): the rows of church_outbox_purge.sql and
-- webhook_inbox_purge.sql, counted.
SELECT
    (
        SELECT count(*) FROM church_outbox
        WHERE status = 'sent' AND finished_at < :finished_before
    ) AS church_outbox,
    (
        SELECT count(*) FROM webhook_inbox
        WHERE status IN ('applied', 'ignored') AND processed_at < :finished_before
    ) AS webhook_inbox

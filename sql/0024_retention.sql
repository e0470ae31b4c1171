-- Retention of finished church_outbox and webhook_inbox rows (sync/retention.py states the
-- rule): the purge finds the rows finished before a time through these partial indexes, so each
-- batch reads only the rows it deletes, and a purge with nothing to delete reads nothing.
-- Forward-only: never edit this file once applied; add a new numbered file instead.
CREATE INDEX church_outbox_sent_idx ON church_outbox (finished_at) WHERE status = 'sent';
CREATE INDEX webhook_inbox_finished_idx ON webhook_inbox (processed_at) WHERE status IN ('applied', 'ignored');

-- The run holding the rows :ids read PCO's current record of everything they name (or found
-- nothing to read: a create): the people push's hold trusts those records as read.
UPDATE church_outbox
SET pco_read_at = clock_timestamp()
WHERE id = any(:ids) AND run_id IS NOT DISTINCT FROM cast(:run_id AS TEXT)

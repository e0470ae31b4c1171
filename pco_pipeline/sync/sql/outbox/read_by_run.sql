-- The open outbox rows run :run_id holds whose records it read from PCO before its push.
SELECT id
FROM church_outbox
WHERE
    run_id = :run_id
    AND pco_read_at IS NOT NULL
    AND status IN ('pending', 'failed')
ORDER BY id

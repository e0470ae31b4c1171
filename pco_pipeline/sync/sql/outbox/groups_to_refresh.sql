-- The PCO groups the outbox rows :ids name (a linked group the church renamed or described
-- anew; the triggers capture only linked PCO groups). A group removed from PCO is not read.
SELECT
    g.pco_id,
    NULL AS parent_pco_id
FROM church_outbox AS o
INNER JOIN church_group AS g
    ON
        g.id = CASE
            WHEN o.table_name = 'church_group' THEN cast(o.row_key AS BIGINT)
        END
WHERE
    o.id = any(:ids)
    AND o.table_name = 'church_group'
    AND g.level = 3
    AND g.pco_id IS NOT NULL
    AND g.pco_removed_at IS NULL
ORDER BY g.pco_id

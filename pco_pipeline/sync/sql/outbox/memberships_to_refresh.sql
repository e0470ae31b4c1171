-- The PCO group memberships (with their group) the outbox rows :ids name. A membership without
-- a pco_id is a create: PCO has nothing to read. A deleted one is not read: PCO's API cannot
-- remove a membership (needs action in PCO), so its deletion sends nothing to overwrite.
SELECT
    gm.pco_id,
    g.pco_id AS parent_pco_id
FROM church_outbox AS o
INNER JOIN group_membership AS gm
    ON
        gm.id = CASE
            WHEN o.table_name = 'group_membership' THEN cast(o.row_key AS BIGINT)
        END
INNER JOIN church_group AS g ON gm.group_id = g.id
WHERE
    o.id = any(:ids)
    AND o.table_name = 'group_membership'
    AND gm.pco_id IS NOT NULL
    AND g.pco_id IS NOT NULL
ORDER BY gm.pco_id

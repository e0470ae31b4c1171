-- The PCO households of the families the outbox rows :ids name: a family, or the family of a
-- family member ("family_id:person_id"); for a family the church deleted, the PCO id
-- church_deletions keeps. A family without a pco_id is a create: PCO has nothing to read.
WITH named AS (
    SELECT
        o.table_name,
        CASE
            WHEN o.table_name IN ('families', 'family_members')
                THEN cast(split_part(o.row_key, ':', 1) AS BIGINT)
        END AS family_id
    FROM church_outbox AS o
    WHERE o.id = any(:ids)
)

SELECT
    f.pco_id,
    NULL AS parent_pco_id
FROM named AS n
INNER JOIN families AS f ON n.family_id = f.id
WHERE f.pco_id IS NOT NULL
UNION
SELECT
    d.pco_id,
    NULL AS parent_pco_id
FROM named AS n
INNER JOIN church_deletions AS d
    ON d.local_table = 'families' AND n.family_id = d.local_id AND d.pushed_at IS NULL
WHERE n.table_name = 'families'
ORDER BY pco_id

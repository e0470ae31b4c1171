-- The PCO ids of the linked people the outbox rows :ids name: a person, or the person of an
-- email or phone; for a row the church deleted, the PCO id church_deletions keeps (a contact's
-- person through the landing). A person without a pco_id is a create: PCO has nothing to read.
WITH named AS (
    SELECT
        o.table_name,
        -- Only people, emails and phones are keyed by a bare id (family_members is "a:b").
        CASE
            WHEN o.table_name IN ('people', 'person_emails', 'person_phones')
                THEN cast(o.row_key AS BIGINT)
        END AS local_id
    FROM church_outbox AS o
    WHERE o.id = any(:ids)
),

contacts AS (
    SELECT
        'person_emails' AS table_name,
        id,
        person_id
    FROM person_emails
    UNION ALL
    SELECT
        'person_phones' AS table_name,
        id,
        person_id
    FROM person_phones
)

SELECT
    p.pco_id,
    NULL AS parent_pco_id
FROM named AS n
INNER JOIN people AS p ON n.table_name = 'people' AND n.local_id = p.id
WHERE p.pco_id IS NOT NULL
UNION
SELECT
    p.pco_id,
    NULL AS parent_pco_id
FROM named AS n
INNER JOIN contacts AS c ON n.table_name = c.table_name AND n.local_id = c.id
INNER JOIN people AS p ON c.person_id = p.id
WHERE p.pco_id IS NOT NULL
UNION
SELECT
    CASE WHEN n.table_name = 'people' THEN d.pco_id ELSE l.parent_pco_id END AS pco_id,
    NULL AS parent_pco_id
FROM named AS n
INNER JOIN church_deletions AS d
    ON n.table_name = d.local_table AND n.local_id = d.local_id AND d.pushed_at IS NULL
LEFT JOIN pco_landing AS l
    ON
        l.resource = CASE n.table_name
            WHEN 'person_emails' THEN 'people/emails'
            WHEN 'person_phones' THEN 'people/phone_numbers'
        END
        AND d.pco_id = l.pco_id
WHERE CASE WHEN n.table_name = 'people' THEN d.pco_id ELSE l.parent_pco_id END IS NOT NULL
ORDER BY pco_id

-- The PCO ids of the people an incremental people load looks at: everything that can change
-- what the load writes for a person (their landed record, emails or phones; the church's rows;
-- a base, a church deletion, a conflict or a quarantine entry of the person or of one of their
-- contacts) changed at or after :since, plus every person an unapplied conflict or an open
-- quarantine entry names (deciding or re-checking them is every run's work). Each part reads an
-- index (sql/0019) or a small table (sync_records_named_since: sql/0021).
WITH named AS (
    -- Records by entity: a person, or a contact (whose person is the one PCO lists it under).
    SELECT
        n.entity,
        n.pco_id
    FROM
        sync_records_named_since(
            ARRAY['people', 'person_emails', 'person_phones'],
            ARRAY['people', 'person_emails', 'person_phones'],
            :since
        ) AS n
)

SELECT named.pco_id FROM named
WHERE named.entity = 'people'
UNION
SELECT l.parent_pco_id FROM named
INNER JOIN pco_landing AS l
    ON
        l.resource
        = CASE named.entity WHEN 'person_emails' THEN 'people/emails' ELSE 'people/phone_numbers' END
        AND named.pco_id = l.pco_id
WHERE named.entity <> 'people' AND l.parent_pco_id IS NOT NULL
UNION
SELECT l.pco_id FROM pco_landed_since('people/people', :since) AS l
UNION
SELECT l.parent_pco_id FROM pco_landed_since('people/emails', :since) AS l
WHERE l.parent_pco_id IS NOT NULL
UNION
SELECT l.parent_pco_id FROM pco_landed_since('people/phone_numbers', :since) AS l
WHERE l.parent_pco_id IS NOT NULL
UNION
SELECT p.pco_id FROM people AS p
WHERE p.updated_at >= :since AND p.pco_id IS NOT NULL
UNION
SELECT p.pco_id FROM person_emails AS c INNER JOIN people AS p ON c.person_id = p.id
WHERE c.updated_at >= :since AND p.pco_id IS NOT NULL
UNION
SELECT p.pco_id FROM person_phones AS c INNER JOIN people AS p ON c.person_id = p.id
WHERE c.updated_at >= :since AND p.pco_id IS NOT NULL

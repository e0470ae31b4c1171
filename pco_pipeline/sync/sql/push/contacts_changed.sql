-- The emails (:table 'person_emails', :resource 'people/emails') or phones ('person_phones',
-- 'people/phone_numbers') an incremental push looks at besides push/common_changed: the church
-- row changed at or after :since (updated_at or an outbox row; a row unlinked since by the PCO
-- id its base names), the contact PCO changed or removed since, and the contacts of a person
-- PCO changed, removed or merged away since (PCO's side holds only contacts of people it has).
-- The part of the other table is pruned by its constant condition.
SELECT c.pco_id FROM person_emails AS c
WHERE :table = 'person_emails' AND c.updated_at >= :since AND c.pco_id IS NOT NULL
UNION
SELECT c.pco_id FROM person_phones AS c
WHERE :table = 'person_phones' AND c.updated_at >= :since AND c.pco_id IS NOT NULL
UNION
SELECT b.pco_id FROM person_emails AS c
INNER JOIN sync_base AS b ON b.entity = 'person_emails' AND c.id = b.local_id
WHERE :table = 'person_emails' AND c.updated_at >= :since
UNION
SELECT b.pco_id FROM person_phones AS c
INNER JOIN sync_base AS b ON b.entity = 'person_phones' AND c.id = b.local_id
WHERE :table = 'person_phones' AND c.updated_at >= :since
UNION
SELECT c.pco_id FROM church_outbox AS o
INNER JOIN person_emails AS c ON CASE WHEN o.table_name = 'person_emails' THEN CAST(o.row_key AS BIGINT) END = c.id
WHERE :table = 'person_emails' AND o.table_name = :table AND o.changed_at >= :since AND c.pco_id IS NOT NULL
UNION
SELECT c.pco_id FROM church_outbox AS o
INNER JOIN person_phones AS c ON CASE WHEN o.table_name = 'person_phones' THEN CAST(o.row_key AS BIGINT) END = c.id
WHERE :table = 'person_phones' AND o.table_name = :table AND o.changed_at >= :since AND c.pco_id IS NOT NULL
UNION
SELECT l.pco_id FROM pco_landing AS l
WHERE l.resource = :resource AND (l.changed_at >= :since OR l.removed_at >= :since)
UNION
SELECT c.pco_id FROM pco_landing AS c
WHERE
    c.resource = :resource
    AND c.parent_pco_id IN (
        SELECT p.pco_id FROM pco_landing AS p
        WHERE p.resource = 'people/people' AND (p.changed_at >= :since OR p.removed_at >= :since)
        UNION
        SELECT m.normalized ->> 'person_to_remove_id' FROM pco_landing AS m
        WHERE m.resource = 'people/person_mergers' AND (m.changed_at >= :since OR m.removed_at >= :since)
    )

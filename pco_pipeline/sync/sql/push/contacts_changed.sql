-- The emails (:table 'person_emails', :resource 'people/emails') or phones ('person_phones',
-- 'people/phone_numbers') an incremental push looks at besides push/common_changed: the church
-- rows changed at or after :since, by the PCO id they hold and the one their base names
-- (sql/0025's push_church_rows_since), the contact PCO changed or removed since, and the
-- contacts of a person PCO changed, removed or merged away since (PCO's side holds only
-- contacts of people it has).
SELECT r.pco_id FROM push_church_rows_since(:entity, :table, :since) AS r
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

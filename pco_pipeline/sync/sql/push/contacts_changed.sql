-- The emails (:table 'person_emails', :resource 'people/emails') or phones ('person_phones',
-- 'people/phone_numbers') an incremental push looks at besides push/common_changed: the church
-- rows changed at or after :since, by the PCO id they hold and the one their base names
-- (sql/0025's push_church_rows_since), the contact PCO changed or removed since, and the
-- contacts of a person PCO changed, removed or merged away since (PCO's side holds only
-- contacts of people it has; what PCO changed: sql/0023's pco_landed_since).
SELECT r.pco_id FROM push_church_rows_since(:entity, :table, :since) AS r
UNION
SELECT l.pco_id FROM pco_landed_since(:resource, :since) AS l
UNION
SELECT c.pco_id FROM pco_landing AS c
WHERE
    c.resource = :resource
    AND c.parent_pco_id IN (
        SELECT p.pco_id FROM pco_landed_since('people/people', :since) AS p
        UNION
        SELECT m.normalized ->> 'person_to_remove_id' FROM pco_landed_since('people/person_mergers', :since) AS m
    )

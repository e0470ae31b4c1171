-- The people an incremental push looks at besides push/common_changed: the church rows changed
-- at or after :since, by the PCO id they hold and the one their base names (sql/0025's
-- push_church_rows_since, :entity's church table :table), and the people PCO changed, removed
-- or merged away since (sql/0023's pco_landed_since).
SELECT r.pco_id FROM push_church_rows_since(:entity, :table, :since) AS r
UNION
SELECT l.pco_id FROM pco_landed_since('people/people', :since) AS l
UNION
SELECT l.normalized ->> 'person_to_remove_id' FROM pco_landed_since('people/person_mergers', :since) AS l
WHERE l.normalized ->> 'person_to_remove_id' IS NOT NULL

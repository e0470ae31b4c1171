-- The people an incremental push looks at besides push/common_changed: the church rows changed
-- at or after :since, by the PCO id they hold and the one their base names (sql/0025's
-- push_church_rows_since, :entity's church table :table), and the people PCO changed, removed
-- or merged away since.
SELECT r.pco_id FROM push_church_rows_since(:entity, :table, :since) AS r
UNION
SELECT l.pco_id FROM pco_landing AS l
WHERE l.resource = 'people/people' AND (l.changed_at >= :since OR l.removed_at >= :since)
UNION
SELECT l.normalized ->> 'person_to_remove_id' FROM pco_landing AS l
WHERE
    l.resource = 'people/person_mergers'
    AND (l.changed_at >= :since OR l.removed_at >= :since)
    AND l.normalized ->> 'person_to_remove_id' IS NOT NULL

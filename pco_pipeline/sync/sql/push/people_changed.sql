-- The people an incremental push looks at besides push/common_changed: the church row changed
-- at or after :since (its updated_at, or an outbox row, which a writer stating an older
-- updated_at still leaves), including a row unlinked or re-linked since (the base still names
-- the PCO id it had), and the people PCO changed, removed or merged away since.
SELECT p.pco_id FROM people AS p
WHERE p.updated_at >= :since AND p.pco_id IS NOT NULL
UNION
SELECT b.pco_id FROM people AS p
INNER JOIN sync_base AS b ON b.entity = 'people' AND p.id = b.local_id
WHERE p.updated_at >= :since
UNION
SELECT p.pco_id FROM church_outbox AS o
INNER JOIN people AS p ON CASE WHEN o.table_name = 'people' THEN CAST(o.row_key AS BIGINT) END = p.id
WHERE o.table_name = 'people' AND o.changed_at >= :since AND p.pco_id IS NOT NULL
UNION
SELECT l.pco_id FROM pco_landing AS l
WHERE l.resource = 'people/people' AND (l.changed_at >= :since OR l.removed_at >= :since)
UNION
SELECT l.normalized ->> 'person_to_remove_id' FROM pco_landing AS l
WHERE
    l.resource = 'people/person_mergers'
    AND (l.changed_at >= :since OR l.removed_at >= :since)
    AND l.normalized ->> 'person_to_remove_id' IS NOT NULL

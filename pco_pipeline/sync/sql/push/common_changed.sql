-- The records of :entity (church table :table) an incremental push looks at whatever the entity:
-- those two-way sync's bookkeeping names since :since (their base moved, their church row was
-- deleted, a conflict about them is not yet applied or was applied since, a quarantine entry:
-- sql/0021's sync_records_named_since, the start of every incremental load's scope too), and
-- those the last comparison found not in sync (push_unsettled, sql/0022). What the church
-- changed in the entity's rows is each entity statement's part (most through sql/0025's
-- push_church_rows_since).
SELECT n.pco_id FROM sync_records_named_since(ARRAY[:entity], ARRAY[:table], :since) AS n
UNION
SELECT u.pco_id FROM push_unsettled AS u
WHERE u.entity = :entity

-- The PCO ids of the memberships an incremental memberships load looks at: everything that can
-- change what the load writes for a membership (its landed record; the church's row, or a church
-- row of the same person in the same group it may link; the church row of its person, e.g. a
-- person linked since; a base, a church deletion, a conflict or a quarantine entry of it)
-- changed at or after :since, plus every membership an unapplied conflict or an open quarantine
-- entry names; and with each, every landed membership of the same person in the same group (the
-- load keeps one of them and quarantines the others as repeats). A group only comes to the church
-- through the groups load, so a membership of a group new there waited in the quarantine. Each
-- part reads an index (sql/0019, sql/0021) or a small table.
WITH changed AS (
    SELECT n.pco_id
    FROM sync_records_named_since(ARRAY['group_memberships'], ARRAY['group_membership'], :since) AS n
    UNION
    SELECT l.pco_id FROM pco_landed_since('groups/memberships', :since) AS l
    UNION
    SELECT gm.pco_id FROM group_membership AS gm
    WHERE gm.updated_at >= :since AND gm.pco_id IS NOT NULL
    UNION
    -- PCO's memberships of a person who changed (and of a church membership that changed).
    SELECT m.pco_id
    FROM (
        SELECT p.pco_id FROM people AS p
        WHERE p.updated_at >= :since AND p.pco_id IS NOT NULL
        UNION
        SELECT p.pco_id FROM group_membership AS gm
        INNER JOIN people AS p ON gm.person_id = p.id
        WHERE gm.updated_at >= :since AND p.pco_id IS NOT NULL
    ) AS changed_people
    INNER JOIN pco_landing AS m
        ON
            m.resource = 'groups/memberships'
            AND (m.relationships ->> 'person') = changed_people.pco_id
)

SELECT changed.pco_id FROM changed
UNION
SELECT same.pco_id FROM changed
INNER JOIN pco_landing AS m
    ON m.resource = 'groups/memberships' AND changed.pco_id = m.pco_id
INNER JOIN pco_landing AS same
    ON
        same.resource = 'groups/memberships'
        AND (same.relationships ->> 'person') = (m.relationships ->> 'person')
        AND coalesce(same.parent_pco_id, same.relationships ->> 'group')
        = coalesce(m.parent_pco_id, m.relationships ->> 'group')

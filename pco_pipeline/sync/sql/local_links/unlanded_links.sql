-- PCO ids of the landing resource `resource` that active church rows, unchanged since `before`,
-- link to and that have no landed row at all (removed or not); sorted. See sync/local_links.py.
-- `links` holds, per landing resource, the church rows mirroring a record of it, with their PCO
-- id in the landing's id space (group areas are 'group_type:<id>' locally, check-in events
-- 'check-ins:<id>'); the filter on `resource` reaches each branch.
WITH links AS (
    SELECT
        'people/people' AS resource,
        pco_id,
        updated_at
    FROM people
    WHERE pco_id IS NOT NULL AND is_active
    UNION ALL
    SELECT
        'people/households' AS resource,
        pco_id,
        updated_at
    FROM families
    WHERE pco_id IS NOT NULL AND pco_removed_at IS NULL
    UNION ALL
    SELECT
        'groups/group_types' AS resource,
        substr(pco_id, length('group_type:') + 1) AS pco_id,
        updated_at
    FROM church_group
    WHERE
        level = 2
        AND pco_removed_at IS NULL
        AND pco_id <> 'group_type:none'
        AND starts_with(pco_id, 'group_type:')
    UNION ALL
    SELECT
        'groups/groups' AS resource,
        pco_id,
        updated_at
    FROM church_group
    WHERE level = 3 AND pco_id IS NOT NULL AND pco_removed_at IS NULL
    UNION ALL
    SELECT
        'groups/memberships' AS resource,
        pco_id,
        updated_at
    FROM group_membership
    WHERE pco_id IS NOT NULL
    UNION ALL
    SELECT
        'check-ins/check_ins' AS resource,
        pco_id,
        updated_at
    FROM checkins
    WHERE source = 'pco'
    UNION ALL
    SELECT
        'check-ins/events' AS resource,
        substr(pco_id, length('check-ins:') + 1) AS pco_id,
        updated_at
    FROM events
    WHERE source = 'check-ins' AND pco_removed_at IS NULL AND starts_with(pco_id, 'check-ins:')
    UNION ALL
    SELECT
        'check-ins/locations' AS resource,
        pco_id,
        updated_at
    FROM locations
    WHERE pco_id IS NOT NULL AND pco_removed_at IS NULL
    UNION ALL
    SELECT
        'calendar/event_instances' AS resource,
        pco_id,
        updated_at
    FROM events
    WHERE source = 'calendar' AND pco_id IS NOT NULL AND pco_removed_at IS NULL
)

SELECT DISTINCT
    c.pco_id,
    length(c.pco_id) AS id_length
FROM links AS c
WHERE
    c.resource = :resource
    AND c.updated_at < :before
    AND NOT EXISTS (SELECT 1 FROM pco_landing AS l WHERE l.resource = :resource AND l.pco_id = c.pco_id)
ORDER BY id_length ASC, c.pco_id ASC

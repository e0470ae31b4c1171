-- What staff decided for a member's primary-contact conflict with `conflicts resolve --take pco`
-- or a value, for the memberships this load classified (three_way_family_members): written into
-- the member's flag. (A side a policy chose is the classification's own outcome.)
UPDATE family_members AS fm
SET is_primary_contact = CAST(sc.resolution_value #>> '{}' AS BOOLEAN), updated_at = now()
FROM sync_conflicts AS sc, families AS f, people AS p
WHERE
    sc.entity = 'family_members'
    AND sc.field = 'is_primary_contact'
    AND sc.decided_at IS NOT NULL
    AND sc.applied_at IS NULL
    AND sc.resolution_side IN ('pco', 'value')
    AND sc.resolution_value IS NOT NULL
    AND sc.decided_by NOT LIKE 'policy %'
    AND sc.pco_id IN (SELECT d.pco_id FROM three_way_family_members AS d)
    AND fm.family_id = f.id
    AND fm.person_id = p.id
    AND f.pco_id || ':' || p.pco_id = sc.pco_id
    AND fm.is_primary_contact IS DISTINCT FROM CAST(sc.resolution_value #>> '{}' AS BOOLEAN)

-- The household memberships (keyed '<household>:<person>') an incremental push looks at besides
-- push/common_changed: the church's members of a family or person whose row changed at or after
-- :since (updated_at; the membership row itself, or an outbox row of it), the church's members
-- of a household PCO changed or removed since (its member list and primary contact), and the
-- memberships whose base names a family or person unlinked since. A membership neither the
-- church lists nor a base remembers is not a record the push compares (two_way_entities).
WITH families_changed AS (
    SELECT f.id FROM families AS f
    WHERE f.updated_at >= :since
    UNION
    SELECT f.id FROM pco_landing AS l
    INNER JOIN families AS f ON l.pco_id = f.pco_id
    WHERE l.resource = 'people/households' AND (l.changed_at >= :since OR l.removed_at >= :since)
),

members AS (
    SELECT
        fm.family_id,
        fm.person_id
    FROM family_members AS fm
    WHERE fm.updated_at >= :since
    UNION
    SELECT
        fm.family_id,
        fm.person_id
    FROM families_changed AS c
    INNER JOIN family_members AS fm ON c.id = fm.family_id
    UNION
    SELECT
        fm.family_id,
        fm.person_id
    FROM people AS p
    INNER JOIN family_members AS fm ON p.id = fm.person_id
    WHERE p.updated_at >= :since
    UNION
    SELECT
        CAST(split_part(o.row_key, ':', 1) AS BIGINT) AS family_id,
        CAST(split_part(o.row_key, ':', 2) AS BIGINT) AS person_id
    FROM church_outbox AS o
    WHERE o.table_name = 'family_members' AND o.changed_at >= :since
)

SELECT f.pco_id || ':' || p.pco_id FROM members AS m
INNER JOIN families AS f ON m.family_id = f.id
INNER JOIN people AS p ON m.person_id = p.id
WHERE f.pco_id IS NOT NULL AND p.pco_id IS NOT NULL
UNION
SELECT b.pco_id FROM families_changed AS c
INNER JOIN sync_base AS b ON b.entity = 'family_members' AND c.id = b.local_id
UNION
SELECT b.pco_id FROM people AS p
INNER JOIN sync_base AS pb ON pb.entity = 'people' AND p.id = pb.local_id
INNER JOIN sync_base AS b ON b.entity = 'family_members' AND split_part(b.pco_id, ':', 2) = pb.pco_id
WHERE p.updated_at >= :since

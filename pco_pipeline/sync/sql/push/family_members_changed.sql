-- The household memberships (keyed '<household>:<person>') an incremental push looks at besides
-- push/common_changed: the church's members of a family or person whose row changed at or after
-- :since (sql/0025's push_church_rows_since, which also gives the PCO id a changed row's base
-- names), of a membership row changed since (updated_at, or an outbox row of it), and of a
-- household PCO changed or removed since (its member list and primary contact: sql/0023's
-- pco_landed_since); and the memberships whose base names a family or person changed since
-- (unlinked or re-linked). A membership neither the church lists nor a base remembers is not a
-- record the push compares (two_way_entities).
WITH families_changed AS (
    SELECT r.local_id AS id FROM push_church_rows_since('families', 'families', :since) AS r
    UNION
    SELECT f.id FROM pco_landed_since('people/households', :since) AS l
    INNER JOIN families AS f ON l.pco_id = f.pco_id
),

people_changed AS MATERIALIZED (
    SELECT
        r.local_id,
        r.pco_id
    FROM push_church_rows_since('people', 'people', :since) AS r
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
    FROM people_changed AS c
    INNER JOIN family_members AS fm ON c.local_id = fm.person_id
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
SELECT b.pco_id FROM people_changed AS c
INNER JOIN sync_base AS b ON b.entity = 'family_members' AND split_part(b.pco_id, ':', 2) = c.pco_id

-- The families an incremental push looks at besides push/common_changed: the church rows
-- changed at or after :since, by the PCO id they hold and the one their base names (sql/0025's
-- push_church_rows_since), the household PCO changed or removed since, and the households of a
-- person whose PCO address changed since (PCO's family address is one of its members'
-- addresses): the households the church or PCO lists them in (sql/0021's index of PCO's
-- household members). What PCO changed: sql/0023's pco_landed_since.
WITH moved AS MATERIALIZED (
    SELECT a.parent_pco_id AS person_pco_id FROM pco_landed_since('people/addresses', :since) AS a
    WHERE a.parent_pco_id IS NOT NULL
)

SELECT r.pco_id FROM push_church_rows_since(:entity, :table, :since) AS r
UNION
SELECT l.pco_id FROM pco_landed_since('people/households', :since) AS l
UNION
SELECT f.pco_id FROM moved
INNER JOIN people AS p ON moved.person_pco_id = p.pco_id
INNER JOIN family_members AS fm ON p.id = fm.person_id
INNER JOIN families AS f ON fm.family_id = f.id
WHERE f.pco_id IS NOT NULL
UNION
SELECT h.pco_id FROM moved
INNER JOIN pco_landing AS h
    ON
        h.resource = 'people/households'
        AND h.relationships -> 'people' @> jsonb_build_array(moved.person_pco_id)

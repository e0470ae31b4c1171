-- 3. First name, last name and birthdate all equal (birthdate present on both sides), among
-- local people without a pco_id that no earlier step matched.
INSERT INTO person_match (pco_id, person_id, method, candidates)
WITH candidates AS (
    SELECT
        s.pco_id,
        p.id AS person_id
    FROM stage_people AS s
    INNER JOIN people AS p
        ON
            p.pco_id IS NULL
            AND s.birthdate = p.birthdate
            AND lower(btrim(s.first_name)) = lower(btrim(p.first_name))
            AND lower(btrim(s.last_name)) = lower(btrim(p.last_name))
    WHERE
        s.birthdate IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM person_match AS m WHERE m.pco_id = s.pco_id)
        AND NOT EXISTS (SELECT 1 FROM person_match AS m WHERE m.person_id = p.id)
),

decided AS (
    SELECT
        pco_id,
        array_agg(person_id ORDER BY person_id) AS ids
    FROM candidates
    GROUP BY pco_id
)

SELECT
    pco_id,
    CASE WHEN cardinality(ids) = 1 THEN ids[1] END AS person_id,
    CASE WHEN cardinality(ids) = 1 THEN 'name_birthdate' ELSE 'ambiguous_name_birthdate' END AS method,
    CASE WHEN cardinality(ids) > 1 THEN ids END AS candidates
FROM decided

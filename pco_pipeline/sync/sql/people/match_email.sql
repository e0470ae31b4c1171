-- 2. Email: the PCO person's counting addresses (normalized, held by no other PCO person) name
-- local people without a pco_id. One candidate matches; several are narrowed by first name.
INSERT INTO person_match (pco_id, person_id, method, candidates)
WITH shared AS (
    SELECT address_normalized
    FROM pco_state_person_emails
    WHERE address_normalized IS NOT NULL
    GROUP BY address_normalized
    HAVING count(DISTINCT person_pco_id) > 1
),

pco_addresses AS (
    SELECT DISTINCT
        s.pco_id,
        lower(btrim(s.first_name)) AS first_key,
        e.normalized ->> 'address_normalized' AS address
    FROM stage_people AS s
    INNER JOIN pco_landing AS e
        ON
            e.resource = 'people/emails'
            AND s.pco_id = e.parent_pco_id
            AND e.removed_at IS NULL
    WHERE
        e.normalized ->> 'address_normalized' IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM person_match AS m WHERE m.pco_id = s.pco_id)
        AND e.normalized ->> 'address_normalized' NOT IN (SELECT shared.address_normalized FROM shared)
),

candidates AS (
    SELECT DISTINCT
        a.pco_id,
        p.id AS person_id,
        lower(btrim(p.first_name)) = a.first_key AS same_first
    FROM pco_addresses AS a
    INNER JOIN person_emails AS le
        ON coalesce(le.address_normalized, lower(btrim(le.address))) = a.address
    INNER JOIN people AS p ON le.person_id = p.id AND p.pco_id IS NULL
    -- a local person staff chose for another PCO person is no one else's candidate
    WHERE NOT EXISTS (SELECT 1 FROM person_match AS m WHERE m.person_id = p.id)
),

decided AS (
    SELECT
        pco_id,
        array_agg(person_id ORDER BY person_id) AS all_ids,
        array_agg(person_id ORDER BY person_id) FILTER (WHERE same_first) AS same_first_ids
    FROM candidates
    GROUP BY pco_id
)

SELECT
    pco_id,
    CASE
        WHEN cardinality(all_ids) = 1 THEN all_ids[1]
        WHEN cardinality(same_first_ids) = 1 THEN same_first_ids[1]
    END AS person_id,
    CASE
        WHEN cardinality(all_ids) = 1 OR cardinality(same_first_ids) = 1 THEN 'email'
        ELSE 'ambiguous_email'
    END AS method,
    CASE WHEN cardinality(all_ids) > 1 AND cardinality(same_first_ids) > 1 THEN same_first_ids END AS candidates
FROM decided
WHERE cardinality(all_ids) = 1 OR cardinality(same_first_ids) >= 1

-- Staff decided in the console's quarantine review (the newest match_decisions row of the PCO
-- person): link it to the local person chosen while that person is still free, create a new
-- one, or keep it held. A link whose person was linked or merged away meanwhile decides nothing:
-- the rules below do.
INSERT INTO person_match (pco_id, person_id, method, candidates)
SELECT
    s.pco_id,
    CASE WHEN d.decision = 'link' THEN d.person_id END AS person_id,
    CASE d.decision
        WHEN 'link' THEN 'staff_link'
        WHEN 'create' THEN 'create'
        ELSE 'staff_hold'
    END AS method,
    CASE WHEN d.decision = 'hold' THEN d.candidates END AS candidates
FROM stage_people AS s
INNER JOIN LATERAL (
    SELECT
        n.decision,
        n.person_id,
        n.candidates
    FROM match_decisions AS n
    WHERE n.pco_person_id = s.pco_id
    ORDER BY n.decided_at DESC, n.id DESC
    LIMIT 1
) AS d ON TRUE
LEFT JOIN people AS p ON d.person_id = p.id
WHERE
    NOT EXISTS (SELECT 1 FROM person_match AS m WHERE m.pco_id = s.pco_id)
    AND (d.decision <> 'link' OR (p.pco_id IS NULL AND p.merged_into_id IS NULL))

-- A claim lost in an earlier run stays lost while the winner still holds that local person:
-- the cause (PCO has the person twice) is fixed in PCO or by hand, not by the next run.
INSERT INTO person_match (pco_id, person_id, method, candidates, claimed_by)
SELECT
    s.pco_id,
    NULL AS person_id,
    'ambiguous_claim' AS method,
    ARRAY[p.id] AS candidates,
    p.pco_id AS claimed_by
FROM stage_people AS s
INNER JOIN sync_quarantine AS q
    ON
        q.entity = 'people'
        AND s.pco_id = q.record_key
        AND q.resolved_at IS NULL
        AND q.details ->> 'rule' = 'ambiguous_claim'
INNER JOIN people AS p
    ON
        p.id = CAST(q.details -> 'candidates' ->> 0 AS BIGINT)
        AND p.pco_id = q.details ->> 'claimed_by'
WHERE NOT EXISTS (SELECT 1 FROM person_match AS m WHERE m.pco_id = s.pco_id)

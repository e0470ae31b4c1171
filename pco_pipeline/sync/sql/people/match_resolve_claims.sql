-- Within one step (the bound `method`), the PCO person created first (then the lowest id) keeps a local
-- person several matched; the others become ambiguous_claim, naming the winner.
WITH ranked AS (
    SELECT
        m.pco_id,
        m.person_id,
        row_number() OVER claim AS rank,
        first_value(m.pco_id) OVER claim AS winner
    FROM person_match AS m
    INNER JOIN stage_people AS s ON m.pco_id = s.pco_id
    WHERE m.method = :method  -- noqa: RF02 (a bind parameter, not a column)
    WINDOW claim AS (
        PARTITION BY m.person_id
        ORDER BY s.pco_created_at ASC NULLS LAST, length(m.pco_id) ASC, m.pco_id ASC
    )
)

UPDATE person_match AS m
SET
    method = 'ambiguous_claim',
    candidates = ARRAY[r.person_id],
    claimed_by = r.winner,
    person_id = NULL
FROM ranked AS r
WHERE r.pco_id = m.pco_id AND r.rank > 1

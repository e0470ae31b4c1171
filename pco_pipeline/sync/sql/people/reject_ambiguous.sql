-- Staged PCO people the matcher found ambiguous move to the quarantine stage, with the
-- candidates staff choose from (in the console's quarantine review, or by setting pco_id on the
-- right local person); and those staff decided to keep held.
WITH rejected AS (
    DELETE FROM stage_people AS s
    WHERE
        EXISTS (
            SELECT 1 FROM person_match AS m
            WHERE
                m.pco_id = s.pco_id
                AND m.method = ANY(CAST(:ambiguous_methods AS TEXT[]))
        )
    RETURNING s.pco_id
)

INSERT INTO quarantine_stage (entity, record_key, pco_id, reason_code, reason, details, record)
SELECT
    'people' AS entity,
    r.pco_id AS record_key,
    r.pco_id,
    :reason_code AS reason_code,  -- noqa: RF02 (a bind parameter, not a column)
    CASE m.method
        WHEN 'ambiguous_email'
            THEN
                'PCO person ' || r.pco_id || ' shares an email and first name with local people '
                || array_to_string(m.candidates, ', ') || ', none linked to PCO: set pco_id on the right one'
        WHEN 'ambiguous_name_birthdate'
            THEN
                'PCO person ' || r.pco_id || ' has the name and birthdate of local people '
                || array_to_string(m.candidates, ', ') || ', none linked to PCO: set pco_id on the right one'
        WHEN 'staff_hold'
            THEN
                'PCO person ' || r.pco_id || ' is held by staff (a decision in the console''s quarantine review)'
                || ' between local people ' || array_to_string(m.candidates, ', ')
                || ': link it or create it there when you know who it is'
        ELSE
            'PCO person ' || r.pco_id || ' matches local person ' || array_to_string(m.candidates, ', ')
            || ', which PCO person ' || m.claimed_by || ' also matches: merge the duplicates in PCO'
            || ' or link them by hand'
    END AS reason,
    jsonb_build_object('rule', m.method, 'candidates', to_jsonb(m.candidates), 'claimed_by', m.claimed_by) AS details,
    (SELECT l.attributes FROM pco_landing AS l WHERE l.resource = 'people/people' AND l.pco_id = r.pco_id) AS record
FROM rejected AS r
INNER JOIN person_match AS m ON r.pco_id = m.pco_id

-- The primary contact is one per household, though each member's pair carries its own flag: when
-- the church chose one member as primary contact (send_church of true) and PCO another (take_pco
-- of true) since the two sides agreed, neither flag alone conflicts, yet the household does. Both
-- members' flags become conflicts, decided together by the policy (:outcome, or for 'newest' the
-- side whose latest change in the household is later; equal or unknown times hold it).
WITH chosen AS (
    SELECT
        split_part(d.pco_id, ':', 1) AS household,
        max(d.church_changed_at) AS church_changed_at,
        max(d.pco_changed_at) AS pco_changed_at
    FROM three_way_family_members AS d
    GROUP BY split_part(d.pco_id, ':', 1)
    HAVING
        bool_or(d.is_primary_contact__outcome = 'send_church' AND d.is_primary_contact__church)
        AND bool_or(d.is_primary_contact__outcome = 'take_pco' AND d.is_primary_contact__pco)
)

UPDATE three_way_family_members AS d
SET
    is_primary_contact__outcome = CASE
        WHEN :outcome <> 'newest' THEN :outcome
        WHEN c.church_changed_at > c.pco_changed_at THEN 'conflict_church_wins'
        WHEN c.pco_changed_at > c.church_changed_at THEN 'conflict_pco_wins'
        ELSE 'conflict_held'
    END
FROM chosen AS c
WHERE
    split_part(d.pco_id, ':', 1) = c.household
    AND d.is_primary_contact__outcome IN ('send_church', 'take_pco')

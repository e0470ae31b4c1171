-- Households whose family the church deleted (church_deletions) are not loaded: PCO keeps them
-- until staff delete them there (the families push records a needs-action row in sync_conflicts),
-- and the load must not bring the family back, nor quarantine its members as orphans.
WITH deleted AS (
    DELETE FROM stage_families AS s
    WHERE
        EXISTS (
            SELECT 1 FROM church_deletions AS d
            WHERE d.local_table = 'families' AND d.pco_id = s.pco_id
        )
    RETURNING s.pco_id
)

DELETE FROM stage_household_people AS m
WHERE m.family_pco_id IN (SELECT deleted.pco_id FROM deleted)

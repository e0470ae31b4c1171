-- Memberships PCO no longer has (not staged, not quarantined; of the memberships in :scope, an
-- incremental load's, or every one when NULL): the sync's own rows go; the church's rows stay, no
-- longer linked to the PCO membership that is gone (a later push may create it again: memberships
-- are the church's). Returns each one's PCO id and source ('pco': removed, 'local': unlinked).
WITH gone AS (
    SELECT
        gm.id,
        gm.pco_id,
        gm.source
    FROM group_membership AS gm
    WHERE
        gm.pco_id IS NOT NULL
        AND (CAST(:scope AS TEXT[]) IS NULL OR gm.pco_id = any(CAST(:scope AS TEXT[])))
        AND NOT EXISTS (SELECT 1 FROM stage_memberships AS s WHERE s.pco_id = gm.pco_id)
        AND NOT EXISTS (
            SELECT 1 FROM quarantine_stage AS q
            WHERE q.entity = 'group_memberships' AND q.record_key = gm.pco_id
        )
),

removed AS (
    DELETE FROM group_membership AS gm
    USING gone AS g
    WHERE gm.id = g.id AND g.source = 'pco'
    RETURNING gm.id
),

unlinked AS (
    UPDATE group_membership AS gm
    SET pco_id = NULL, updated_at = now()
    FROM gone AS g
    WHERE gm.id = g.id AND g.source = 'local'
    RETURNING gm.id
)

SELECT
    g.pco_id,
    g.source
FROM gone AS g
WHERE
    g.id IN (SELECT removed.id FROM removed)
    OR g.id IN (SELECT unlinked.id FROM unlinked)

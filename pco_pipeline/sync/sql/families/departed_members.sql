-- The church's PCO-linked members whom a present, valid household PCO listed in this load no
-- longer holds, as pairs "<household>:<person>": those the two sides had agreed on (a base), and
-- every one of a household whose members never had a base (the first load after upgrading: PCO's
-- membership, as before two-way sync). A member the church added and PCO never listed is not
-- one: the push adds them.
WITH known_households AS (
    SELECT DISTINCT split_part(b.pco_id, ':', 1) AS household
    FROM sync_base AS b
    WHERE b.entity = 'family_members'
)

SELECT f.pco_id || ':' || p.pco_id AS pco_id
FROM family_members AS fm
INNER JOIN families AS f ON fm.family_id = f.id
INNER JOIN people AS p ON fm.person_id = p.id
INNER JOIN stage_families AS sf ON f.pco_id = sf.pco_id
WHERE
    p.pco_id IS NOT NULL
    AND NOT EXISTS (
        SELECT 1 FROM stage_family_members AS s
        WHERE s.family_id = fm.family_id AND s.person_id = fm.person_id
    )
    AND (
        EXISTS (
            SELECT 1 FROM sync_base AS b
            WHERE b.entity = 'family_members' AND b.pco_id = f.pco_id || ':' || p.pco_id
        )
        OR NOT EXISTS (SELECT 1 FROM known_households AS k WHERE k.household = f.pco_id)
    )

-- New households take over the family the church entered itself (no pco_id) that holds their
-- members, when exactly one such family does, no other household's members are in it, and all
-- of its PCO-linked members are in the household (see sync/load_families.py). Returns the ids of
-- the families linked.
WITH church_members AS (  -- the PCO-linked people of the families the church entered
    SELECT
        fm.family_id,
        p.pco_id AS person_pco_id
    FROM family_members AS fm
    INNER JOIN families AS f ON fm.family_id = f.id AND f.pco_id IS NULL
    INNER JOIN people AS p ON fm.person_id = p.id AND p.pco_id IS NOT NULL
),

candidates AS (
    SELECT DISTINCT
        hp.family_pco_id AS household,
        cm.family_id
    FROM stage_household_people AS hp
    INNER JOIN stage_families AS s ON hp.family_pco_id = s.pco_id
    INNER JOIN church_members AS cm ON hp.person_pco_id = cm.person_pco_id
    WHERE NOT EXISTS (SELECT 1 FROM families AS g WHERE g.pco_id = hp.family_pco_id)
),

counted AS (
    SELECT
        household,
        family_id,
        count(*) OVER (PARTITION BY household) AS families_of_household,
        count(*) OVER (PARTITION BY family_id) AS households_of_family
    FROM candidates
),

would_leave AS (  -- pairs where a PCO-linked member of the family is not in the household
    SELECT DISTINCT
        c.household,
        c.family_id
    FROM candidates AS c
    INNER JOIN church_members AS cm ON c.family_id = cm.family_id
    LEFT JOIN stage_household_people AS hp
        ON
            c.household = hp.family_pco_id
            AND cm.person_pco_id = hp.person_pco_id
    WHERE hp.family_pco_id IS NULL
),

unique_pairs AS (
    SELECT
        c.household,
        c.family_id
    FROM counted AS c
    LEFT JOIN would_leave AS w ON c.household = w.household AND c.family_id = w.family_id
    WHERE c.families_of_household = 1 AND c.households_of_family = 1 AND w.family_id IS NULL
)

UPDATE families AS f
SET pco_id = u.household, updated_at = now()
FROM unique_pairs AS u
WHERE f.id = u.family_id
RETURNING f.id

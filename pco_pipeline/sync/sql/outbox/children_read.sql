-- The landed records of :resources (a person's emails, phone numbers) that belong to the PCO
-- people :people: read with their person (its includes), removed ones too.
SELECT
    resource,
    pco_id
FROM pco_landing
WHERE
    resource = any(:resources)
    AND parent_pco_id = any(:people)

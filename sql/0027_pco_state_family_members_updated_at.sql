-- PCO's change time on the household memberships view, as sql/0026 gave the contact and
-- membership views theirs: a (household, person) record changes when its household does, and
-- the families load and the push's comparison looked the household's `updated_at` up again in
-- pco_landing for every member, though the view reads that very row. Added as the view's last
-- column (CREATE OR REPLACE VIEW keeps the others as they are).
-- Forward-only: never edit this file once applied; add a new numbered file instead.
CREATE OR REPLACE VIEW pco_state_family_members AS
SELECT
    h.pco_id || ':' || member.person_pco_id AS pco_id,
    h.pco_id AS family_pco_id,
    member.person_pco_id,
    coalesce(
        member.person_pco_id
        = coalesce(h.relationships ->> 'primary_contact', h.attributes ->> 'primary_contact_id'),
        FALSE
    ) AS is_primary_contact,
    nullif(h.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems,
    h.pco_updated_at
FROM pco_landing AS h
CROSS JOIN
    LATERAL (
        SELECT DISTINCT m.person_pco_id
        FROM jsonb_array_elements_text(
            CASE jsonb_typeof(h.relationships -> 'people')
                WHEN 'array' THEN h.relationships -> 'people'
                ELSE CAST('[]' AS JSONB)
            END
        ) AS m (person_pco_id)
    ) AS member
WHERE h.resource = 'people/households' AND h.removed_at IS NULL;

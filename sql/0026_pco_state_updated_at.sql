-- PCO's change time on the contact and membership views (issue 17: full-refresh figures no worse
-- than before): the three-way comparison of emails, phones and group memberships needs each
-- record's PCO `updated_at`, which these views did not carry, so every comparison looked it up
-- again in pco_landing, one index probe per record (the views read the same landed row already).
-- Added as each view's last column (CREATE OR REPLACE VIEW keeps the others as they are).
-- Forward-only: never edit this file once applied; add a new numbered file instead.
CREATE OR REPLACE VIEW pco_state_person_contacts AS
SELECT
    c.resource,
    c.pco_id,
    c.parent_pco_id AS person_pco_id,
    c.normalized,
    c.normalized ->> 'location' AS location,
    CAST(c.normalized ->> 'is_primary' AS BOOLEAN) AS is_primary,
    nullif(c.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems,
    c.pco_updated_at
FROM pco_landing AS c
INNER JOIN pco_state_people AS p ON c.parent_pco_id = p.pco_id
WHERE c.resource IN ('people/emails', 'people/phone_numbers') AND c.removed_at IS NULL;

CREATE OR REPLACE VIEW pco_state_person_emails AS
SELECT
    pco_id,
    person_pco_id,
    normalized ->> 'address' AS address,
    normalized ->> 'address_normalized' AS address_normalized,
    location,
    is_primary,
    problems,
    pco_updated_at
FROM pco_state_person_contacts
WHERE resource = 'people/emails';

CREATE OR REPLACE VIEW pco_state_person_phones AS
SELECT
    pco_id,
    person_pco_id,
    normalized ->> 'number' AS number,
    normalized ->> 'e164' AS e164,
    location,
    is_primary,
    problems,
    pco_updated_at
FROM pco_state_person_contacts
WHERE resource = 'people/phone_numbers';

CREATE OR REPLACE VIEW pco_state_group_memberships AS
SELECT
    m.pco_id,
    coalesce(m.parent_pco_id, m.relationships ->> 'group') AS group_pco_id,
    m.relationships ->> 'person' AS person_pco_id,
    m.normalized ->> 'leader_type' AS leader_type,
    CAST(m.normalized ->> 'joined_at' AS TIMESTAMPTZ) AS joined_at,
    nullif(m.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems,
    m.pco_updated_at
FROM pco_landing AS m
WHERE m.resource = 'groups/memberships' AND m.removed_at IS NULL;

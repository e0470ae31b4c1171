-- PCO's state as the church tables should mirror it, computed from the landing table: one view
-- per church entity, with the local column names and values and the PCO ids of the rows it
-- points at. The loads stage these rows and write them, reconciliation compares them with the
-- church tables, and anyone can read them with psql: one definition, in the database.
--
-- Every view yields only records PCO still has, and a `problems` column (JSON array, NULL when
-- the record is fine): records with problems are quarantined rather than loaded.
--
-- The local prefixes are stated in sync/pco_state.py too: 'group_type:' (areas mirroring PCO
-- group types; 'group_type:none' holds the groups without one) and 'check-ins:' (check-in
-- events, apart from calendar event instances in `events`).

-- People PCO still has: landed, not removed, and not named as merged away by a person merger
-- (PCO drops the merged person at once; a complete listing would only notice it later).
CREATE VIEW pco_state_people AS
SELECT
    l.pco_id,
    l.normalized ->> 'first_name' AS first_name,
    l.normalized ->> 'last_name' AS last_name,
    l.normalized ->> 'nickname' AS nickname,
    l.normalized ->> 'middle_name' AS middle_name,
    l.normalized ->> 'gender' AS gender,
    CAST(l.normalized ->> 'birthdate' AS DATE) AS birthdate,
    CAST(l.normalized ->> 'child' AS BOOLEAN) AS child,
    CAST(l.normalized ->> 'grade' AS SMALLINT) AS grade,
    l.normalized ->> 'status' AS status,
    l.normalized ->> 'membership' AS membership,
    l.pco_updated_at,
    l.pco_created_at,
    nullif(l.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS l
WHERE
    l.resource = 'people/people'
    AND l.removed_at IS NULL
    AND NOT EXISTS (
        SELECT 1 FROM pco_landing AS m
        WHERE
            m.resource = 'people/person_mergers'
            AND m.removed_at IS NULL
            AND m.normalized ->> 'person_to_remove_id' = l.pco_id
    );

-- Contacts (emails, phone numbers) of people PCO still has; the two views below name their values.
CREATE VIEW pco_state_person_contacts AS
SELECT
    c.resource,
    c.pco_id,
    c.parent_pco_id AS person_pco_id,
    c.normalized,
    c.normalized ->> 'location' AS location,
    CAST(c.normalized ->> 'is_primary' AS BOOLEAN) AS is_primary,
    nullif(c.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS c
INNER JOIN pco_state_people AS p ON c.parent_pco_id = p.pco_id
WHERE c.resource IN ('people/emails', 'people/phone_numbers') AND c.removed_at IS NULL;

CREATE VIEW pco_state_person_emails AS
SELECT
    pco_id,
    person_pco_id,
    normalized ->> 'address' AS address,
    normalized ->> 'address_normalized' AS address_normalized,
    location,
    is_primary,
    problems
FROM pco_state_person_contacts
WHERE resource = 'people/emails';

CREATE VIEW pco_state_person_phones AS
SELECT
    pco_id,
    person_pco_id,
    normalized ->> 'number' AS number,
    normalized ->> 'e164' AS e164,
    location,
    is_primary,
    problems
FROM pco_state_person_contacts
WHERE resource = 'people/phone_numbers';

-- Every PCO person merged away (directly or through a chain, at most 50 long) and the person
-- finally kept.
CREATE VIEW pco_state_merge_survivors AS
WITH RECURSIVE mergers AS (
    SELECT
        normalized ->> 'person_to_remove_id' AS removed,
        normalized ->> 'person_to_keep_id' AS kept
    FROM pco_landing
    WHERE
        resource = 'people/person_mergers'
        AND removed_at IS NULL
        AND normalized ->> 'person_to_remove_id' IS NOT NULL
        AND normalized ->> 'person_to_keep_id' IS NOT NULL
),

chain (removed, kept, depth) AS (
    SELECT
        removed,
        kept,
        1
    FROM mergers
    UNION ALL
    SELECT
        c.removed,
        m.kept,
        c.depth + 1
    FROM chain AS c
    INNER JOIN mergers AS m ON c.kept = m.removed
    WHERE c.depth < 50
)

SELECT DISTINCT ON (removed)
    removed,
    kept
FROM chain
ORDER BY removed ASC, depth DESC;

-- A household's members are its `people` relationship; its primary contact the relationship of
-- that name (or the attribute, which PCO also sends).
CREATE VIEW pco_state_family_members AS
SELECT
    h.pco_id || ':' || member.person_pco_id AS pco_id,
    h.pco_id AS family_pco_id,
    member.person_pco_id,
    coalesce(
        member.person_pco_id
        = coalesce(h.relationships ->> 'primary_contact', h.attributes ->> 'primary_contact_id'),
        FALSE
    ) AS is_primary_contact,
    nullif(h.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
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

-- The family address is PCO's address of a member: the primary contact's primary address, else
-- any member's primary address, else any address of the primary contact, else of any member
-- (lowest ids first, so the choice is stable).
CREATE VIEW pco_state_families AS
SELECT
    h.pco_id,
    h.normalized ->> 'name' AS name,
    a.street_line_1,
    a.street_line_2,
    a.city,
    a.state,
    a.zip,
    a.country_code,
    h.pco_updated_at,
    coalesce(
        h.relationships ->> 'primary_contact', h.attributes ->> 'primary_contact_id'
    ) AS primary_contact_pco_id,
    nullif(h.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS h
LEFT JOIN LATERAL (
    SELECT
        ad.normalized ->> 'street_line_1' AS street_line_1,
        ad.normalized ->> 'street_line_2' AS street_line_2,
        ad.normalized ->> 'city' AS city,
        ad.normalized ->> 'state' AS state,
        ad.normalized ->> 'zip' AS zip,
        ad.normalized ->> 'country_code' AS country_code
    FROM
        jsonb_array_elements_text(
            CASE jsonb_typeof(h.relationships -> 'people')
                WHEN 'array' THEN h.relationships -> 'people'
                ELSE CAST('[]' AS JSONB)
            END
        ) AS member (person_pco_id)
    INNER JOIN pco_landing AS ad
        ON
            ad.resource = 'people/addresses'
            AND member.person_pco_id = ad.parent_pco_id
            AND ad.removed_at IS NULL
    ORDER BY
        (
            member.person_pco_id
            = coalesce(h.relationships ->> 'primary_contact', h.attributes ->> 'primary_contact_id')
            AND coalesce(CAST(ad.normalized ->> 'is_primary' AS BOOLEAN), FALSE)
        ) DESC,
        coalesce(CAST(ad.normalized ->> 'is_primary' AS BOOLEAN), FALSE) DESC,
        (
            member.person_pco_id
            = coalesce(h.relationships ->> 'primary_contact', h.attributes ->> 'primary_contact_id')
        ) DESC,
        length(member.person_pco_id) ASC,
        member.person_pco_id ASC,
        length(ad.pco_id) ASC,
        ad.pco_id ASC
    LIMIT 1
) AS a ON TRUE
WHERE h.resource = 'people/households' AND h.removed_at IS NULL;

CREATE VIEW pco_state_group_areas AS
SELECT
    'group_type:' || t.pco_id AS pco_id,
    t.normalized ->> 'name' AS name,
    t.normalized ->> 'description' AS description,
    nullif(t.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS t
WHERE t.resource = 'groups/group_types' AND t.removed_at IS NULL
UNION ALL
SELECT
    'group_type:none' AS pco_id,
    'Other PCO groups' AS name,
    NULL AS description,
    NULL AS problems
WHERE EXISTS (
    SELECT 1 FROM pco_landing AS g
    WHERE
        g.resource = 'groups/groups'
        AND g.removed_at IS NULL
        AND g.relationships ->> 'group_type' IS NULL
);

CREATE VIEW pco_state_groups AS
SELECT
    g.pco_id,
    g.normalized ->> 'name' AS name,
    g.normalized ->> 'description' AS description,
    g.normalized ->> 'meeting_day' AS meeting_day,
    NOT coalesce(CAST(g.normalized ->> 'archived' AS BOOLEAN), FALSE) AS is_active,
    coalesce('group_type:' || (g.relationships ->> 'group_type'), 'group_type:none') AS area_pco_id,
    nullif(g.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS g
WHERE g.resource = 'groups/groups' AND g.removed_at IS NULL;

CREATE VIEW pco_state_group_memberships AS
SELECT
    m.pco_id,
    coalesce(m.parent_pco_id, m.relationships ->> 'group') AS group_pco_id,
    m.relationships ->> 'person' AS person_pco_id,
    m.normalized ->> 'leader_type' AS leader_type,
    CAST(m.normalized ->> 'joined_at' AS TIMESTAMPTZ) AS joined_at,
    nullif(m.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS m
WHERE m.resource = 'groups/memberships' AND m.removed_at IS NULL;

-- Calendar event instances; their name and description come from their calendar event.
CREATE VIEW pco_state_events AS
SELECT
    i.pco_id,
    ev.normalized ->> 'name' AS name,
    ev.normalized ->> 'description' AS description,
    CAST(i.normalized ->> 'starts_at' AS TIMESTAMPTZ) AS starts_at,
    CAST(i.normalized ->> 'ends_at' AS TIMESTAMPTZ) AS ends_at,
    CAST(i.normalized ->> 'all_day' AS BOOLEAN) AS all_day,
    i.normalized ->> 'location' AS location,
    coalesce(i.parent_pco_id, i.relationships ->> 'event') AS event_pco_id,
    (ev.pco_id IS NOT NULL AND ev.removed_at IS NULL) AS has_event,
    nullif(
        coalesce(i.normalized -> 'problems', CAST('[]' AS JSONB))
        || CASE
            WHEN ev.removed_at IS NULL THEN coalesce(ev.normalized -> 'problems', CAST('[]' AS JSONB))
            ELSE CAST('[]' AS JSONB)
        END,
        CAST('[]' AS JSONB)
    ) AS problems
FROM pco_landing AS i
LEFT JOIN pco_landing AS ev
    ON
        ev.resource = 'calendar/events'
        AND ev.pco_id = coalesce(i.parent_pco_id, i.relationships ->> 'event')
WHERE i.resource = 'calendar/event_instances' AND i.removed_at IS NULL;

CREATE VIEW pco_state_checkin_events AS
SELECT
    'check-ins:' || e.pco_id AS pco_id,
    e.normalized ->> 'name' AS name,
    nullif(e.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS e
WHERE e.resource = 'check-ins/events' AND e.removed_at IS NULL;

CREATE VIEW pco_state_locations AS
SELECT
    l.pco_id,
    l.normalized ->> 'name' AS name,
    l.normalized ->> 'kind' AS kind,
    CAST(l.normalized ->> 'age_min_months' AS INTEGER) AS age_min_months,
    CAST(l.normalized ->> 'age_max_months' AS INTEGER) AS age_max_months,
    CAST(l.normalized ->> 'grade_min' AS SMALLINT) AS grade_min,
    CAST(l.normalized ->> 'grade_max' AS SMALLINT) AS grade_max,
    CAST(l.normalized ->> 'capacity' AS INTEGER) AS capacity,
    -- A parent folder PCO does not list (not landed, or gone) leaves the location at the top.
    (
        SELECT parent.pco_id FROM pco_landing AS parent
        WHERE
            parent.resource = 'check-ins/locations'
            AND parent.pco_id = l.relationships ->> 'parent'
            AND parent.removed_at IS NULL
    ) AS parent_pco_id,
    nullif(l.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS l
WHERE l.resource = 'check-ins/locations' AND l.removed_at IS NULL;

-- Service times of check-in events; the event is named the way pco_state_checkin_events names it.
CREATE VIEW pco_state_event_times AS
SELECT
    t.pco_id,
    'check-ins:' || coalesce(t.parent_pco_id, t.relationships ->> 'event') AS event_pco_id,
    t.normalized ->> 'name' AS name,
    CAST(t.normalized ->> 'starts_at' AS TIMESTAMPTZ) AS starts_at,
    CAST(t.normalized ->> 'regular_count' AS INTEGER) AS regular_count,
    CAST(t.normalized ->> 'guest_count' AS INTEGER) AS guest_count,
    CAST(t.normalized ->> 'volunteer_count' AS INTEGER) AS volunteer_count,
    nullif(t.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS t
WHERE t.resource = 'check-ins/event_times' AND t.removed_at IS NULL;

-- Headcounts, named by their attendance type (side-loaded with them).
CREATE VIEW pco_state_headcounts AS
SELECT
    h.pco_id,
    coalesce(h.parent_pco_id, h.relationships ->> 'event_time') AS event_time_pco_id,
    a.normalized ->> 'name' AS attendance_type,
    CAST(h.normalized ->> 'total' AS INTEGER) AS total,
    nullif(h.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS h
LEFT JOIN pco_landing AS a
    ON
        a.resource = 'check-ins/attendance_types'
        AND a.pco_id = h.relationships ->> 'attendance_type'
WHERE h.resource = 'check-ins/headcounts' AND h.removed_at IS NULL;

CREATE VIEW pco_state_checkins AS
SELECT
    c.pco_id,
    c.relationships ->> 'person' AS person_pco_id,
    'check-ins:' || (c.relationships ->> 'event') AS event_pco_id,
    CASE jsonb_typeof(c.relationships -> 'locations')
        WHEN 'array' THEN c.relationships -> 'locations' ->> 0
    END AS location_pco_id,
    CASE jsonb_typeof(c.relationships -> 'event_times')
        WHEN 'array' THEN c.relationships -> 'event_times' ->> 0
    END AS event_time_pco_id,
    c.normalized ->> 'first_name' AS first_name,
    c.normalized ->> 'last_name' AS last_name,
    c.normalized ->> 'kind' AS kind,
    c.normalized ->> 'security_code' AS security_code,
    CAST(c.normalized ->> 'checked_in_at' AS TIMESTAMPTZ) AS checked_in_at,
    CAST(c.normalized ->> 'checked_out_at' AS TIMESTAMPTZ) AS checked_out_at,
    nullif(c.normalized -> 'problems', CAST('[]' AS JSONB)) AS problems
FROM pco_landing AS c
WHERE c.resource = 'check-ins/check_ins' AND c.removed_at IS NULL;

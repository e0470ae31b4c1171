"""PCO's state as the church tables should mirror it, computed from the landing table in SQL.

One SELECT per church entity, with the local column names and values and the PCO ids of the
rows it points at. The loads stage these rows and write them; reconciliation compares them
with what the church tables hold. One definition serves both, so the mapping lives here once.

Every query yields only records PCO still has, and a `problems` column (JSON array, NULL when
the record is fine): records with problems are quarantined rather than loaded.
"""

from __future__ import annotations

# The local auto-created root of all PCO groups, and the pco_id prefixes of the church rows
# that mirror something other than a plain PCO record.
PCO_GROUPS_DEPARTMENT = "pco_groups"
PCO_GROUPS_DEPARTMENT_NAME = "PCO Groups"
GROUP_TYPE_PREFIX = "group_type:"
UNTYPED_GROUPS_AREA = "group_type:none"
UNTYPED_GROUPS_AREA_NAME = "Other PCO groups"
CHECKIN_EVENT_PREFIX = "check-ins:"


def _problems(alias: str) -> str:
    return f"NULLIF({alias}.normalized->'problems', '[]'::jsonb)"


def _text(alias: str, key: str, column: str | None = None) -> str:
    return f"{alias}.normalized->>'{key}' AS {column or key}"


def _typed(alias: str, key: str, sql_type: str, column: str | None = None) -> str:
    return f"CAST({alias}.normalized->>'{key}' AS {sql_type}) AS {column or key}"


# People PCO still has: landed, not removed, and not named as merged away by a person merger
# (PCO drops the merged person at once; a complete listing would only notice it later).
PEOPLE = f"""
SELECT l.pco_id,
       {_text('l', 'first_name')}, {_text('l', 'last_name')}, {_text('l', 'nickname')},
       {_text('l', 'middle_name')}, {_text('l', 'gender')}, {_typed('l', 'birthdate', 'date')},
       {_typed('l', 'child', 'boolean')}, {_typed('l', 'grade', 'smallint')}, {_text('l', 'status')},
       {_text('l', 'membership')},
       l.pco_updated_at, l.pco_created_at, {_problems('l')} AS problems
FROM pco_landing l
WHERE l.resource = 'people/people' AND l.removed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM pco_landing m
                  WHERE m.resource = 'people/person_mergers' AND m.removed_at IS NULL
                    AND m.normalized->>'person_to_remove_id' = l.pco_id)
"""

# Contacts of people PCO still has.
PERSON_EMAILS = f"""
SELECT e.pco_id, e.parent_pco_id AS person_pco_id,
       {_text('e', 'address')}, {_text('e', 'address_normalized')}, {_text('e', 'location')},
       {_typed('e', 'is_primary', 'boolean')}, {_problems('e')} AS problems
FROM pco_landing e
JOIN ({PEOPLE}) p ON p.pco_id = e.parent_pco_id
WHERE e.resource = 'people/emails' AND e.removed_at IS NULL
"""

PERSON_PHONES = f"""
SELECT ph.pco_id, ph.parent_pco_id AS person_pco_id,
       {_text('ph', 'number')}, {_text('ph', 'e164')}, {_text('ph', 'location')},
       {_typed('ph', 'is_primary', 'boolean')}, {_problems('ph')} AS problems
FROM pco_landing ph
JOIN ({PEOPLE}) p ON p.pco_id = ph.parent_pco_id
WHERE ph.resource = 'people/phone_numbers' AND ph.removed_at IS NULL
"""

# A household's members are its `people` relationship; its primary contact the relationship of
# that name (or the attribute, which PCO also sends).
_HOUSEHOLD_PRIMARY = "COALESCE(h.relationships->>'primary_contact', h.attributes->>'primary_contact_id')"
_HOUSEHOLD_PEOPLE = ("jsonb_array_elements_text(CASE jsonb_typeof(h.relationships->'people')"
                     " WHEN 'array' THEN h.relationships->'people' ELSE '[]'::jsonb END)")

# The family address is PCO's address of a member: the primary contact's primary address, else
# any member's primary address, else any address of the primary contact, else of any member
# (lowest ids first, so the choice is stable).
FAMILIES = f"""
SELECT h.pco_id, {_text('h', 'name')},
       a.street_line_1, a.street_line_2, a.city, a.state, a.zip, a.country_code,
       h.pco_updated_at, {_HOUSEHOLD_PRIMARY} AS primary_contact_pco_id,
       {_problems('h')} AS problems
FROM pco_landing h
LEFT JOIN LATERAL (
    SELECT ad.normalized->>'street_line_1' AS street_line_1, ad.normalized->>'street_line_2' AS street_line_2,
           ad.normalized->>'city' AS city, ad.normalized->>'state' AS state, ad.normalized->>'zip' AS zip,
           ad.normalized->>'country_code' AS country_code
    FROM {_HOUSEHOLD_PEOPLE} AS member(person_pco_id)
    JOIN pco_landing ad ON ad.resource = 'people/addresses' AND ad.parent_pco_id = member.person_pco_id
                       AND ad.removed_at IS NULL
    ORDER BY (member.person_pco_id = {_HOUSEHOLD_PRIMARY}
              AND COALESCE(CAST(ad.normalized->>'is_primary' AS boolean), false)) DESC,
             COALESCE(CAST(ad.normalized->>'is_primary' AS boolean), false) DESC,
             (member.person_pco_id = {_HOUSEHOLD_PRIMARY}) DESC,
             length(member.person_pco_id), member.person_pco_id, length(ad.pco_id), ad.pco_id
    LIMIT 1
) a ON true
WHERE h.resource = 'people/households' AND h.removed_at IS NULL
"""

FAMILY_MEMBERS = f"""
SELECT h.pco_id || ':' || member.person_pco_id AS pco_id,
       h.pco_id AS family_pco_id, member.person_pco_id,
       COALESCE(member.person_pco_id = {_HOUSEHOLD_PRIMARY}, false) AS is_primary_contact,
       {_problems('h')} AS problems
FROM pco_landing h
CROSS JOIN LATERAL (SELECT DISTINCT person_pco_id FROM {_HOUSEHOLD_PEOPLE} AS m(person_pco_id)) AS member
WHERE h.resource = 'people/households' AND h.removed_at IS NULL
"""

GROUP_AREAS = f"""
SELECT '{GROUP_TYPE_PREFIX}' || t.pco_id AS pco_id, {_text('t', 'name')}, {_text('t', 'description')},
       {_problems('t')} AS problems
FROM pco_landing t
WHERE t.resource = 'groups/group_types' AND t.removed_at IS NULL
UNION ALL
SELECT '{UNTYPED_GROUPS_AREA}', '{UNTYPED_GROUPS_AREA_NAME}', NULL, NULL
WHERE EXISTS (SELECT 1 FROM pco_landing g WHERE g.resource = 'groups/groups' AND g.removed_at IS NULL
                AND g.relationships->>'group_type' IS NULL)
"""

GROUPS = f"""
SELECT g.pco_id, {_text('g', 'name')}, {_text('g', 'description')}, {_text('g', 'meeting_day')},
       NOT COALESCE(CAST(g.normalized->>'archived' AS boolean), false) AS is_active,
       COALESCE('{GROUP_TYPE_PREFIX}' || (g.relationships->>'group_type'), '{UNTYPED_GROUPS_AREA}') AS area_pco_id,
       {_problems('g')} AS problems
FROM pco_landing g
WHERE g.resource = 'groups/groups' AND g.removed_at IS NULL
"""

GROUP_MEMBERSHIPS = f"""
SELECT m.pco_id, COALESCE(m.parent_pco_id, m.relationships->>'group') AS group_pco_id,
       m.relationships->>'person' AS person_pco_id,
       {_text('m', 'leader_type')}, {_typed('m', 'joined_at', 'timestamptz')},
       {_problems('m')} AS problems
FROM pco_landing m
WHERE m.resource = 'groups/memberships' AND m.removed_at IS NULL
"""

# Calendar event instances; their name and description come from their calendar event.
EVENTS = f"""
SELECT i.pco_id, {_text('ev', 'name')}, {_text('ev', 'description')},
       {_typed('i', 'starts_at', 'timestamptz')}, {_typed('i', 'ends_at', 'timestamptz')},
       {_typed('i', 'all_day', 'boolean')}, {_text('i', 'location')},
       COALESCE(i.parent_pco_id, i.relationships->>'event') AS event_pco_id,
       (ev.pco_id IS NOT NULL AND ev.removed_at IS NULL) AS has_event,
       NULLIF(COALESCE(i.normalized->'problems', '[]'::jsonb)
              || CASE WHEN ev.removed_at IS NULL THEN COALESCE(ev.normalized->'problems', '[]'::jsonb)
                      ELSE '[]'::jsonb END, '[]'::jsonb) AS problems
FROM pco_landing i
LEFT JOIN pco_landing ev ON ev.resource = 'calendar/events'
                        AND ev.pco_id = COALESCE(i.parent_pco_id, i.relationships->>'event')
WHERE i.resource = 'calendar/event_instances' AND i.removed_at IS NULL
"""

CHECKIN_EVENTS = f"""
SELECT '{CHECKIN_EVENT_PREFIX}' || e.pco_id AS pco_id, {_text('e', 'name')},
       {_problems('e')} AS problems
FROM pco_landing e
WHERE e.resource = 'check-ins/events' AND e.removed_at IS NULL
"""

LOCATIONS = f"""
SELECT l.pco_id, {_text('l', 'name')}, {_text('l', 'kind')},
       {_typed('l', 'age_min_months', 'integer')}, {_typed('l', 'age_max_months', 'integer')},
       {_typed('l', 'grade_min', 'smallint')}, {_typed('l', 'grade_max', 'smallint')},
       {_typed('l', 'capacity', 'integer')},
       -- A parent folder PCO does not list (not landed, or gone) leaves the location at the top.
       (SELECT parent.pco_id FROM pco_landing parent
        WHERE parent.resource = 'check-ins/locations' AND parent.pco_id = l.relationships->>'parent'
          AND parent.removed_at IS NULL) AS parent_pco_id,
       {_problems('l')} AS problems
FROM pco_landing l
WHERE l.resource = 'check-ins/locations' AND l.removed_at IS NULL
"""

# Service times of check-in events; the event is named the way CHECKIN_EVENTS names it.
EVENT_TIMES = f"""
SELECT t.pco_id, '{CHECKIN_EVENT_PREFIX}' || COALESCE(t.parent_pco_id, t.relationships->>'event') AS event_pco_id,
       {_text('t', 'name')}, {_typed('t', 'starts_at', 'timestamptz')},
       {_typed('t', 'regular_count', 'integer')}, {_typed('t', 'guest_count', 'integer')},
       {_typed('t', 'volunteer_count', 'integer')},
       {_problems('t')} AS problems
FROM pco_landing t
WHERE t.resource = 'check-ins/event_times' AND t.removed_at IS NULL
"""

# Headcounts, named by their attendance type (side-loaded with them).
HEADCOUNTS = f"""
SELECT h.pco_id, COALESCE(h.parent_pco_id, h.relationships->>'event_time') AS event_time_pco_id,
       a.normalized->>'name' AS attendance_type, {_typed('h', 'total', 'integer')},
       {_problems('h')} AS problems
FROM pco_landing h
LEFT JOIN pco_landing a ON a.resource = 'check-ins/attendance_types' AND a.pco_id = h.relationships->>'attendance_type'
WHERE h.resource = 'check-ins/headcounts' AND h.removed_at IS NULL
"""

CHECKINS = f"""
SELECT c.pco_id, c.relationships->>'person' AS person_pco_id,
       '{CHECKIN_EVENT_PREFIX}' || (c.relationships->>'event') AS event_pco_id,
       CASE jsonb_typeof(c.relationships->'locations')
            WHEN 'array' THEN c.relationships->'locations'->>0 END AS location_pco_id,
       CASE jsonb_typeof(c.relationships->'event_times')
            WHEN 'array' THEN c.relationships->'event_times'->>0 END AS event_time_pco_id,
       {_text('c', 'first_name')}, {_text('c', 'last_name')}, {_text('c', 'kind')},
       {_text('c', 'security_code')}, {_typed('c', 'checked_in_at', 'timestamptz')},
       {_typed('c', 'checked_out_at', 'timestamptz')},
       {_problems('c')} AS problems
FROM pco_landing c
WHERE c.resource = 'check-ins/check_ins' AND c.removed_at IS NULL
"""

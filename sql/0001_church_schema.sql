-- The church database: the system of record. PCO is kept as a mirror of it.
-- Forward-only: never edit this file once applied; add a new numbered file instead.

CREATE TABLE people (
    id              BIGSERIAL PRIMARY KEY,
    pco_id          TEXT,
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    nickname        TEXT,
    middle_name     TEXT,
    gender          TEXT,
    birthdate       DATE,
    child           BOOLEAN NOT NULL DEFAULT FALSE,
    grade           SMALLINT CHECK (grade BETWEEN -1 AND 12),
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    membership      TEXT,
    -- Church-owned operational fields: no sync from PCO ever overwrites these.
    allergies       TEXT,
    photo_url       TEXT,
    is_verified     BOOLEAN NOT NULL DEFAULT FALSE,
    -- PCO's own updated_at for this person, the monotonic guard for inbound writes.
    pco_updated_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX people_pco_id_key ON people (pco_id) WHERE pco_id IS NOT NULL;
-- Matching by name + birthdate is case-insensitive.
CREATE INDEX people_name_birthdate_idx ON people (lower(first_name), lower(last_name), birthdate);

CREATE TABLE person_emails (
    id              BIGSERIAL PRIMARY KEY,
    person_id       BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    pco_id          TEXT,
    address         TEXT NOT NULL,                 -- as entered
    address_normalized TEXT,                       -- trimmed, case-folded; the matching key
    location        TEXT,
    is_primary      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX person_emails_pco_id_key ON person_emails (pco_id) WHERE pco_id IS NOT NULL;
CREATE INDEX person_emails_person_idx ON person_emails (person_id);
CREATE INDEX person_emails_normalized_idx ON person_emails (address_normalized);

CREATE TABLE person_phones (
    id              BIGSERIAL PRIMARY KEY,
    person_id       BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    pco_id          TEXT,
    number          TEXT NOT NULL,                 -- as entered
    e164            TEXT CHECK (e164 IS NULL OR e164 ~ '^\+[1-9][0-9]{6,14}$'),
    location        TEXT,
    is_primary      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX person_phones_pco_id_key ON person_phones (pco_id) WHERE pco_id IS NOT NULL;
CREATE INDEX person_phones_person_idx ON person_phones (person_id);
CREATE INDEX person_phones_e164_idx ON person_phones (e164);

-- PCO keeps addresses on the person; the church keeps one address on the family.
CREATE TABLE families (
    id              BIGSERIAL PRIMARY KEY,
    pco_id          TEXT,
    name            TEXT NOT NULL,
    street_line_1   TEXT,
    street_line_2   TEXT,
    city            TEXT,
    state           TEXT,
    zip             TEXT,
    country_code    TEXT,
    pco_updated_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX families_pco_id_key ON families (pco_id) WHERE pco_id IS NOT NULL;

CREATE TABLE family_members (
    family_id       BIGINT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    person_id       BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    role            TEXT NOT NULL DEFAULT 'other' CHECK (role IN ('head', 'spouse', 'child', 'other')),
    is_primary_contact BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (family_id, person_id)
);
CREATE INDEX family_members_person_idx ON family_members (person_id);

-- Church-only data: no PCO equivalent, never synced.
CREATE TABLE relationships (
    id              BIGSERIAL PRIMARY KEY,
    person_id       BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    related_person_id BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,                 -- e.g. parent, guardian, sibling, grandparent
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (person_id <> related_person_id),
    UNIQUE (person_id, related_person_id, kind)
);

CREATE TABLE authorized_pickups (
    id              BIGSERIAL PRIMARY KEY,
    child_id        BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    pickup_person_id BIGINT REFERENCES people (id) ON DELETE CASCADE,
    -- Someone outside the database (a grandparent, a sitter) is named instead of linked.
    pickup_name     TEXT,
    pickup_phone    TEXT,
    notes           TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (pickup_person_id IS NOT NULL OR pickup_name IS NOT NULL)
);
CREATE INDEX authorized_pickups_child_idx ON authorized_pickups (child_id);

-- department (level 1) -> area (level 2) -> group (level 3).
CREATE TABLE church_group (
    id              BIGSERIAL PRIMARY KEY,
    pco_id          TEXT,
    parent_id       BIGINT REFERENCES church_group (id) ON DELETE RESTRICT,
    level           SMALLINT NOT NULL CHECK (level IN (1, 2, 3)),
    name            TEXT NOT NULL,
    description     TEXT,
    meeting_day     TEXT CHECK (meeting_day IS NULL OR meeting_day IN
                        ('monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday')),
    meeting_frequency TEXT,
    has_childcare   BOOLEAN NOT NULL DEFAULT FALSE,
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A department has no parent; areas and groups always have one.
    CHECK ((level = 1) = (parent_id IS NULL))
);
CREATE UNIQUE INDEX church_group_pco_id_key ON church_group (pco_id) WHERE pco_id IS NOT NULL;
CREATE INDEX church_group_parent_idx ON church_group (parent_id);

CREATE TABLE group_membership (
    id              BIGSERIAL PRIMARY KEY,
    group_id        BIGINT NOT NULL REFERENCES church_group (id) ON DELETE CASCADE,
    person_id       BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    pco_id          TEXT,
    leader_type     TEXT NOT NULL DEFAULT 'member' CHECK (leader_type IN ('leader', 'coach', 'member', 'other')),
    joined_at       TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (group_id, person_id)
);
CREATE UNIQUE INDEX group_membership_pco_id_key ON group_membership (pco_id) WHERE pco_id IS NOT NULL;
CREATE INDEX group_membership_person_idx ON group_membership (person_id);

CREATE TABLE events (
    id              BIGSERIAL PRIMARY KEY,
    pco_id          TEXT,
    name            TEXT NOT NULL,
    description     TEXT,
    starts_at       TIMESTAMPTZ,
    ends_at         TIMESTAMPTZ,
    all_day         BOOLEAN NOT NULL DEFAULT FALSE,
    location        TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at >= starts_at)
);
CREATE UNIQUE INDEX events_pco_id_key ON events (pco_id) WHERE pco_id IS NOT NULL;
CREATE INDEX events_starts_at_idx ON events (starts_at);

-- Check-in rooms.
CREATE TABLE locations (
    id              BIGSERIAL PRIMARY KEY,
    pco_id          TEXT,
    parent_id       BIGINT REFERENCES locations (id) ON DELETE SET NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'room',  -- room, folder, ...
    age_min_months  INTEGER CHECK (age_min_months IS NULL OR age_min_months >= 0),
    age_max_months  INTEGER CHECK (age_max_months IS NULL OR age_max_months >= 0),
    grade_min       SMALLINT,
    grade_max       SMALLINT,
    capacity        INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX locations_pco_id_key ON locations (pco_id) WHERE pco_id IS NOT NULL;

CREATE TABLE checkins (
    id              BIGSERIAL PRIMARY KEY,
    pco_id          TEXT,
    person_id       BIGINT REFERENCES people (id) ON DELETE SET NULL,
    event_id        BIGINT REFERENCES events (id) ON DELETE SET NULL,
    location_id     BIGINT REFERENCES locations (id) ON DELETE SET NULL,
    first_name      TEXT,
    last_name       TEXT,
    kind            TEXT,                          -- Regular, Guest, Volunteer
    security_code   TEXT,
    checked_in_at   TIMESTAMPTZ NOT NULL,
    checked_out_at  TIMESTAMPTZ,
    -- 'pco' rows mirror PCO check-ins; 'local' rows were made here and a sync never touches them.
    source          TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'pco')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((source = 'pco') = (pco_id IS NOT NULL))
);
CREATE UNIQUE INDEX checkins_pco_id_key ON checkins (pco_id) WHERE pco_id IS NOT NULL;
CREATE INDEX checkins_person_idx ON checkins (person_id);
CREATE INDEX checkins_event_idx ON checkins (event_id);

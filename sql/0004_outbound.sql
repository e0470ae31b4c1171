-- Outbound pushes: every write this pipeline sends to PCO.
--
-- A create that has no natural key in PCO to find it by afterwards (a Person is found by
-- remote_id, a Household by its primary contact) is written here as 'sent' and committed
-- BEFORE the request goes out; once PCO answers, the row becomes 'confirmed' with the PCO id in
-- the same transaction that stores that id on the local row. A row still 'sent' when the next
-- push starts is a write whose outcome was lost (crash, timeout): that push looks the record
-- up in PCO and adopts it instead of creating a duplicate.
--
-- Confirmed rows are also what the webhook helper recognises its own echoes by
-- (`pco_pipeline.sync.push_ledger.was_our_write`): which PCO record we wrote, when, and the
-- values PCO confirmed for the attributes we sent.
CREATE TABLE pco_push_ledger (
    id              BIGSERIAL PRIMARY KEY,
    run_id          TEXT,                          -- the Dagster run that wrote it
    resource_type   TEXT NOT NULL,                 -- PCO type: Person, Email, PhoneNumber, Address,
                                                   -- Household, HouseholdMembership, Membership
    action          TEXT NOT NULL CHECK (action IN ('create', 'update')),
    local_table     TEXT NOT NULL,                 -- people, person_emails, person_phones, families, ...
    local_key       TEXT NOT NULL,                 -- the local row's id ("family:person" for pairs)
    parent_pco_id   TEXT,                          -- the PCO record it was written under
    pco_id          TEXT,                          -- set when PCO confirmed it (or it was found)
    sent            JSONB NOT NULL,                -- attributes + relationships as sent
    confirmed       JSONB,                         -- PCO's values of the sent attributes, from its answer
    state           TEXT NOT NULL CHECK (state IN ('sent', 'confirmed', 'adopted', 'refused', 'abandoned')),
    detail          TEXT,                          -- why refused / abandoned, or what PCO changed
    sent_at         TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    confirmed_at    TIMESTAMPTZ,
    pco_updated_at  TIMESTAMPTZ,                   -- updated_at in PCO's answer
    CHECK ((state IN ('confirmed', 'adopted')) = (pco_id IS NOT NULL AND confirmed_at IS NOT NULL))
);
-- At most one write in flight per local record and kind.
CREATE UNIQUE INDEX pco_push_ledger_in_flight_key ON pco_push_ledger (resource_type, local_table, local_key)
    WHERE state = 'sent';
CREATE INDEX pco_push_ledger_pco_idx ON pco_push_ledger (resource_type, pco_id, confirmed_at DESC)
    WHERE pco_id IS NOT NULL;
CREATE INDEX pco_push_ledger_local_idx ON pco_push_ledger (local_table, local_key);

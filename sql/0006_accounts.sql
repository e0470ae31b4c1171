-- Accounts: the staff users who sign in (the staff console), the API tokens programs use to
-- read the internal API, and the failed logins that rate-limit password guessing.
-- Nothing here holds a secret in clear: a password is kept as its argon2id hash, a token as the
-- SHA-256 of its text. See pco_pipeline/accounts/.

-- Who may do what: 'viewer' reads church data; 'admin' may do everything a viewer may, and more.
-- Names are case-folded by the application before they get here.
CREATE TABLE users (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._@+-]{0,63}$'),
    role            TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash   TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    last_login_at   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A bearer token for the internal API. The token itself is shown once, when it is created.
-- `prefix` (the token's first characters) is not secret: it tells tokens apart in listings and
-- finds the row a presented token may belong to. A revoked token stays listed, and its name can
-- be given to a new token.
CREATE TABLE api_tokens (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._@+-]{0,63}$'),
    role            TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    token_hash      BYTEA NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    prefix          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at    TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);
CREATE UNIQUE INDEX api_tokens_active_name_key ON api_tokens (name) WHERE revoked_at IS NULL;
CREATE INDEX api_tokens_prefix_idx ON api_tokens (prefix) WHERE revoked_at IS NULL;

-- Failed password logins inside the rate-limit window (older rows are pruned: this is not an
-- audit log). `user_id` is NULL when the name given belongs to no user: what was typed is not
-- kept, because it may be a password typed into the wrong field. `address` is the client's
-- address (an IPv6 address as its /64 network).
CREATE TABLE login_failures (
    id              BIGSERIAL PRIMARY KEY,
    user_id         BIGINT REFERENCES users (id) ON DELETE CASCADE,
    address         TEXT NOT NULL,
    failed_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_user_idx ON login_failures (user_id, failed_at);
CREATE INDEX login_failures_address_idx ON login_failures (address, failed_at);

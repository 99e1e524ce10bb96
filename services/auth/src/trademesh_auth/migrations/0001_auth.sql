CREATE TABLE users (
    user_id uuid PRIMARY KEY,
    username text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Usernames are unique regardless of case: "Alice" and "alice" are one account.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- Every replica signs with the newest key and publishes every key not yet past its
-- grace period, so the key ring lives here, where all replicas read the same rows.
CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    algorithm text NOT NULL,
    private_key_pem text NOT NULL,
    public_jwk jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when a newer key takes over signing; the key stays published for a grace period.
    retired_at timestamptz
);

-- One login session: every refresh token descends from one login. Revoking the family
-- (logout, or reuse of a spent token) ends the session everywhere.
CREATE TABLE token_families (
    family_id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_reason text
);

CREATE TABLE refresh_tokens (
    -- SHA-256 of the token: a stolen table yields no usable token.
    token_hash bytea PRIMARY KEY,
    family_id uuid NOT NULL REFERENCES token_families (family_id) ON DELETE CASCADE,
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    spent_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE watchlists (
    watchlist_id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX watchlists_user_name_key ON watchlists (user_id, lower(name));

CREATE TABLE watchlist_symbols (
    watchlist_id uuid NOT NULL REFERENCES watchlists (watchlist_id) ON DELETE CASCADE,
    symbol text NOT NULL,
    added_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (watchlist_id, symbol)
);

-- +goose Up
-- Refresh tokens (infra/auth): one row per refresh token issued. A login starts a family (the
-- session); each refresh spends its token and issues the next one in the same family. Presenting
-- a spent token again revokes the whole family.
CREATE TABLE auth_refresh_tokens (
    jti        uuid        PRIMARY KEY,
    family_id  uuid        NOT NULL,
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz
);
CREATE INDEX auth_refresh_tokens_family ON auth_refresh_tokens (family_id);
CREATE INDEX auth_refresh_tokens_expires ON auth_refresh_tokens (expires_at);

-- Revocations checked on every authenticated request: a token id (jti, logout), a session (a
-- refresh family whose spent token was reused) or an account (unregistered). A row is kept until
-- every token it can match has expired.
CREATE TABLE auth_revocations (
    id         uuid        PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('TOKEN', 'SESSION', 'ACCOUNT')),
    expires_at timestamptz NOT NULL
);
CREATE INDEX auth_revocations_expires ON auth_revocations (expires_at);

-- +goose Down
DROP TABLE auth_revocations;
DROP TABLE auth_refresh_tokens;

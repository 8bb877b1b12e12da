-- +goose Up
-- Idempotency keys of command requests (infra/idempotency). A row is claimed by the first request
-- with a key (result NULL, claimed_until in the future) and completed with that request's result,
-- which later requests with the same key and request hash get back until expires_at.
CREATE TABLE idempotency_keys (
    account_id    uuid        NOT NULL,
    key           text        NOT NULL,
    request_hash  bytea       NOT NULL,
    claim_token   uuid        NOT NULL,
    result        bytea,
    claimed_until timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
-- +goose Down
DROP TABLE idempotency_keys;

-- +goose Up
-- The liveness of the workers an order needs to settle (the relay, the process manager): one row
-- per running instance, written every fraction of a second; every process's /readyz reads it, so
-- readiness tells whether orders can settle anywhere, not only what this process runs.
CREATE TABLE worker_liveness (
    role     text        NOT NULL,
    instance text        NOT NULL,
    active   boolean     NOT NULL,
    beat_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role, instance)
);
-- +goose Down
DROP TABLE worker_liveness;

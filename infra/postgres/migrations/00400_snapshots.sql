-- +goose Up
-- Aggregate snapshots for the command side (infra/snapshot): the latest state of a stream per
-- state schema, so that loading a long stream reads only the events after it.
CREATE TABLE command_snapshots (
    stream_id      text        NOT NULL,
    schema_version integer     NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    position       bigint      NOT NULL,
    state          jsonb       NOT NULL,
    saved_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, schema_version)
);
-- +goose Down
DROP TABLE command_snapshots;

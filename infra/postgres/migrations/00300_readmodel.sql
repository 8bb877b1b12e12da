-- +goose Up
-- The schema the read models live in (projections.LiveSchema) and the projections' checkpoints.
--
-- One row per projector, keyed by its versioned name ("catalog.v1"). position is the global-log
-- position of the last event applied; the runner updates it in the same transaction as the rows it
-- applied, after locking the row (SELECT ... FOR UPDATE) before touching any read-model table, so
-- that two runners, or a runner and a rebuild's swap, take turns. tables are the tables the
-- projector owned when it last started, so that a new version can drop an old version's tables.
-- The error columns describe the event a failing projector is stopped at; they are cleared by the
-- next batch that commits.
CREATE SCHEMA IF NOT EXISTS readmodel;

CREATE TABLE readmodel.projection_checkpoints (
    name           text        PRIMARY KEY,
    position       bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    tables         text[]      NOT NULL DEFAULT '{}',
    updated_at     timestamptz NOT NULL DEFAULT now(),
    error          text,
    error_position bigint,
    error_type     text,
    error_stream   text,
    failing_since  timestamptz,
    retries        integer     NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE readmodel.projection_checkpoints;
DROP SCHEMA readmodel CASCADE;

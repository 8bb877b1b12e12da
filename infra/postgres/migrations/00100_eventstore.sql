-- +goose Up
-- The event store's one table (infra/eventstore/postgres). Every event of every stream is a row.
--
-- position is the place in the global log: (the appending transaction's xid8 << 20) | the event's
-- index within its append, so ordering by position is ordering by (transaction id, index). Readers
-- of the global log return only rows below the oldest running transaction id (see the package doc
-- of infra/eventstore/postgres for why that makes the log gap-safe).
--
-- UNIQUE (stream_id, version) is the expected-version check: two appends that read the same stream
-- version both try to insert the next version and only one can commit. UNIQUE (id) makes event ids
-- global, which is what makes a retried append recognisable.
CREATE TABLE events (
    position    bigint      PRIMARY KEY,
    stream_id   text        NOT NULL CHECK (stream_id <> ''),
    version     bigint      NOT NULL CHECK (version > 0),
    id          uuid        NOT NULL,
    type        text        NOT NULL CHECK (type <> ''),
    data        jsonb       NOT NULL,
    metadata    jsonb,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_id_key UNIQUE (id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
);

-- +goose Down
DROP TABLE events;

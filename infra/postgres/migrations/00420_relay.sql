-- +goose Up
-- The relay's checkpoint: the global log position of the last event it published, per relay name.
-- Positions are unsigned 64-bit numbers stored bit for bit in a bigint.
CREATE TABLE relay_checkpoints (
    name       text PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- +goose Down
DROP TABLE relay_checkpoints;

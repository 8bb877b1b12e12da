-- +goose Up
-- The event store's tables are created by the event store issue; this placeholder keeps the
-- migration directory non-empty until then.
SELECT 1;
-- +goose Down
SELECT 1;

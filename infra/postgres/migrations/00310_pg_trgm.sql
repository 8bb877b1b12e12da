-- +goose Up
-- Trigram indexes let the catalog search product names by substring (q) in a few milliseconds.
-- pg_trgm is a trusted extension: a superuser or the database owner may install it. Where neither
-- is the case the catalog falls back to a prefix index (see projections.Catalog.Setup), so a
-- missing privilege is a notice, not a failed migration.
-- +goose StatementBegin
DO $$
BEGIN
	CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE 'pg_trgm not installed: %', SQLERRM;
END
$$;
-- +goose StatementEnd
-- +goose Down
-- The extension stays: the read-model indexes built with it depend on it, and rebuilding them is
-- the projections' business, not a migration's.
SELECT 1;

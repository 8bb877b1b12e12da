-- +goose Up
-- Account status takes the original system's names: REGISTERED (was ACTIVE) and UNREGISTERED.
-- Existing rows are renamed in place, so accounts made before the rename keep logging in.
ALTER TABLE accounts DROP CONSTRAINT accounts_status_check;
UPDATE accounts SET status = 'REGISTERED' WHERE status = 'ACTIVE';
ALTER TABLE accounts ALTER COLUMN status SET DEFAULT 'REGISTERED';
ALTER TABLE accounts ADD CONSTRAINT accounts_status_check CHECK (status IN ('REGISTERED', 'UNREGISTERED'));

-- +goose Down
ALTER TABLE accounts DROP CONSTRAINT accounts_status_check;
UPDATE accounts SET status = 'ACTIVE' WHERE status = 'REGISTERED';
ALTER TABLE accounts ALTER COLUMN status SET DEFAULT 'ACTIVE';
ALTER TABLE accounts ADD CONSTRAINT accounts_status_check CHECK (status IN ('ACTIVE', 'UNREGISTERED'));

-- +goose Up
-- Accounts (infra/auth): users, sellers and supervisors in one table keyed by role, so that the
-- e-mail is unique per role; user profiles and addresses hang off USER accounts only (the
-- composite foreign key on (id, role) makes a seller's profile impossible).
CREATE TABLE accounts (
    id            uuid        PRIMARY KEY,
    role          text        NOT NULL CHECK (role IN ('USER', 'SELLER', 'SUPERVISOR')),
    email         text        NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    password_hash text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    name          text        NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 50),
    phone         text        CHECK (phone ~ '^(010[0-9]{4}|070[0-9]{4}|01[16789][0-9]{3,4})[0-9]{4}$'),
    status        text        NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'UNREGISTERED')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_role_email_key UNIQUE (role, email),
    CONSTRAINT accounts_id_role_key UNIQUE (id, role),
    CONSTRAINT accounts_phone_required CHECK (role = 'SUPERVISOR' OR phone IS NOT NULL)
);
CREATE INDEX accounts_role_created ON accounts (role, created_at, id);

CREATE TABLE user_profiles (
    user_id           uuid        PRIMARY KEY,
    role              text        NOT NULL DEFAULT 'USER' CHECK (role = 'USER'),
    nick_name         text        NOT NULL CHECK (btrim(nick_name) <> '' AND char_length(nick_name) <= 50),
    profile_image_url text        CHECK (char_length(profile_image_url) <= 2048),
    grade             text        NOT NULL DEFAULT 'BRONZE' CHECK (grade IN ('BRONZE', 'SILVER', 'GOLD', 'PLATINUM')),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (user_id, role) REFERENCES accounts (id, role) ON DELETE CASCADE
);

CREATE TABLE user_addresses (
    id              uuid        PRIMARY KEY,
    user_id         uuid        NOT NULL,
    role            text        NOT NULL DEFAULT 'USER' CHECK (role = 'USER'),
    receiver        text        NOT NULL CHECK (btrim(receiver) <> '' AND char_length(receiver) <= 50),
    address1        text        NOT NULL CHECK (btrim(address1) <> '' AND char_length(address1) <= 200),
    address2        text        NOT NULL CHECK (btrim(address2) <> '' AND char_length(address2) <= 200),
    zipcode         text        NOT NULL CHECK (btrim(zipcode) <> '' AND char_length(zipcode) <= 10),
    phone           text        NOT NULL CHECK (phone ~ '^(010[0-9]{4}|070[0-9]{4}|01[16789][0-9]{3,4})[0-9]{4}$'),
    receive_type    text        NOT NULL CHECK (receive_type IN ('DOOR', 'SELF', 'OFFICE', 'POST', 'ETC')),
    receive_message text        NOT NULL CHECK (btrim(receive_message) <> '' AND char_length(receive_message) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (user_id, role) REFERENCES accounts (id, role) ON DELETE CASCADE
);
CREATE INDEX user_addresses_user ON user_addresses (user_id, created_at);

-- At most 3 addresses per user, enforced here whatever the caller does: the trigger locks the
-- user's account row, so concurrent inserts for one user count one after the other (each
-- statement of a plpgsql function sees the rows committed before it started).
-- +goose StatementBegin
CREATE FUNCTION user_addresses_at_most_3() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM accounts WHERE id = NEW.user_id FOR UPDATE;
    IF (SELECT count(*) FROM user_addresses WHERE user_id = NEW.user_id AND id <> NEW.id) >= 3 THEN
        RAISE EXCEPTION 'user % already has 3 addresses', NEW.user_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'user_addresses_at_most_3';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER user_addresses_at_most_3 BEFORE INSERT OR UPDATE OF user_id ON user_addresses
    FOR EACH ROW EXECUTE FUNCTION user_addresses_at_most_3();

-- +goose Down
DROP TABLE user_addresses;
DROP FUNCTION user_addresses_at_most_3();
DROP TABLE user_profiles;
DROP TABLE accounts;

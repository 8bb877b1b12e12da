// Package auth keeps the accounts of the shop (users with their profile and addresses, sellers,
// supervisors) in plain PostgreSQL tables and issues and checks their tokens.
//
// Identity is not history, so accounts are not event-sourced: e-mail uniqueness per role and the
// limit of three addresses per user are database constraints (migrations 002xx).
//
// Passwords are hashed with argon2id and never logged or returned. Tokens are HS256 JWTs signed
// with the secret of the account's role; a login starts a session (a refresh token family), each
// refresh spends its refresh token and issues the next pair, and presenting a spent refresh token
// again revokes the whole session. Logout ends the whole session of its access token; a new
// password (which needs the current one) ends every other session; unregistering a user revokes
// every token of the account. Revocations live in a table checked on every authenticated request
// through a short cache (Config.RevocationCacheTTL); revocations made by this process take effect
// at once. While that table's database fails, the last answers stand in for it for at most
// Config.RevocationFallback, then checks fail with ErrUnavailable.
//
// argon2id hashes run in at most Config.HashConcurrency slots process-wide; a caller that cannot
// get one within Config.HashWait gets ErrBusy. Tokens are accepted with Config.ClockSkew of leeway
// on iat and exp, for the clock difference between instances.
//
// Business refusals are *domain.Error values (validation: Invalid with Fields; a duplicate
// e-mail: Conflict; the 4th address: Invalid with code ADDRESS_LIMIT; someone else's address:
// NotFound). Token failures match the ErrToken* values; a failed login is ErrBadCredentials.
package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/domain"
)

// ErrBadCredentials is the one answer to a failed login, whichever part was wrong: unknown
// e-mail, wrong password, another role's account, or an unregistered user.
var ErrBadCredentials = errors.New("invalid e-mail, password or role")

// Service manages accounts and tokens. It is safe for concurrent use.
type Service struct {
	pool      *pgxpool.Pool
	cfg       Config
	keys      map[domain.Role][]byte
	rev       *revocations
	slots     *hashSlots
	dummyHash string
}

// New returns a Service on pool. It refuses a Config that Validate(false) refuses; production
// checks are the caller's (cmd/commerce calls Validate(true) when ENV=production).
func New(pool *pgxpool.Pool, cfg Config) (*Service, error) {
	if err := cfg.Validate(false); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	keys := map[domain.Role][]byte{}
	for role, secret := range cfg.Secrets.byRole() {
		keys[role] = []byte(secret)
	}
	// A hash to verify against when the e-mail is unknown, so that a failed login takes as long
	// whichever part was wrong.
	dummy, err := hashPassword("dummy-password-1!", cfg.Argon2)
	if err != nil {
		return nil, fmt.Errorf("new auth service: %w", err)
	}
	return &Service{pool: pool, cfg: cfg, keys: keys, rev: newRevocations(cfg.RevocationCacheTTL, cfg.RevocationFallback),
		slots: newHashSlots(cfg.HashConcurrency, cfg.HashWait), dummyHash: dummy}, nil
}

// inTx runs fn in a transaction and commits it when fn returns nil.
func (s *Service) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

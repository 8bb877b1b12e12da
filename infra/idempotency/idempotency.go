// Package idempotency keeps the command side's Idempotency-Keys in Postgres (table
// idempotency_keys, migration 00401): one row per account and key, claimed by the first request
// and completed with its result. A row outlives its result: its request hash tells a retry from
// another request with the same key for as long as the key's order exists.
package idempotency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
)

var _ commands.IdempotencyStore = (*Store)(nil)

// Store is a commands.IdempotencyStore on Postgres.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool, whose database has the migrations applied.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Claim takes the key in one statement: it inserts the row, or takes over a row with the same
// request hash that has expired or whose holder's lease ran out. When it does not get the key it
// reads what holds it.
func (s *Store) Claim(ctx context.Context, k commands.IdempotencyKey, hash []byte, token uuid.UUID, lease, ttl time.Duration) (commands.Claim, error) {
	var got uuid.UUID
	err := s.pool.QueryRow(ctx, `
		INSERT INTO idempotency_keys AS k (account_id, key, request_hash, claim_token, claimed_until, expires_at)
		VALUES ($1, $2, $3, $4, now() + $5::interval, now() + $6::interval)
		ON CONFLICT (account_id, key) DO UPDATE
		SET request_hash = excluded.request_hash, claim_token = excluded.claim_token, result = NULL,
		    claimed_until = excluded.claimed_until, created_at = now(), expires_at = excluded.expires_at
		WHERE k.request_hash = excluded.request_hash
		  AND (k.expires_at < now() OR (k.result IS NULL AND k.claimed_until <= now()))
		RETURNING claim_token`,
		k.Account, k.Key, hash, token, lease, ttl).Scan(&got)
	switch {
	case err == nil && got == token:
		return commands.Claim{State: commands.Claimed}, nil
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return commands.Claim{}, fmt.Errorf("claim idempotency key: %w", err)
	}
	var stored, result []byte
	err = s.pool.QueryRow(ctx, `
		SELECT request_hash, result FROM idempotency_keys WHERE account_id = $1 AND key = $2`,
		k.Account, k.Key).Scan(&stored, &result)
	if errors.Is(err, pgx.ErrNoRows) {
		// Released between the two statements: the caller tries again.
		return commands.Claim{State: commands.InFlight}, nil
	}
	if err != nil {
		return commands.Claim{}, fmt.Errorf("read idempotency key: %w", err)
	}
	switch {
	case !bytes.Equal(stored, hash):
		return commands.Claim{State: commands.Mismatch}, nil
	case result != nil:
		return commands.Claim{State: commands.Completed, Result: result}, nil
	}
	return commands.Claim{State: commands.InFlight}, nil
}

// Complete stores the result unless one is stored already, whoever holds the claim: two runs of
// one key (a retry that took over from a holder it thought dead) both describe the same command,
// and the first result stored is the one every request gets. It inserts the row again if a
// concurrent run's refusal released it.
func (s *Store) Complete(ctx context.Context, k commands.IdempotencyKey, hash []byte, token uuid.UUID, result []byte, ttl time.Duration) ([]byte, error) {
	if result == nil {
		result = []byte{}
	}
	var stored []byte
	err := s.pool.QueryRow(ctx, `
		INSERT INTO idempotency_keys AS k (account_id, key, request_hash, claim_token, result, claimed_until, expires_at)
		VALUES ($1, $2, $3, $4, $5, now(), now() + $6::interval)
		ON CONFLICT (account_id, key) DO UPDATE
		SET result = excluded.result, expires_at = excluded.expires_at
		WHERE k.result IS NULL AND k.request_hash = excluded.request_hash
		RETURNING result`,
		k.Account, k.Key, hash, token, result, ttl).Scan(&stored)
	if err == nil {
		return stored, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("complete idempotency key: %w", err)
	}
	var storedHash []byte
	err = s.pool.QueryRow(ctx, `
		SELECT request_hash, result FROM idempotency_keys WHERE account_id = $1 AND key = $2`,
		k.Account, k.Key).Scan(&storedHash, &stored)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read completed idempotency key: %w", err)
	case !bytes.Equal(storedHash, hash):
		return nil, fmt.Errorf("complete idempotency key: %w", commands.ErrIdempotencyKeyReused)
	case stored == nil:
		return nil, fmt.Errorf("complete idempotency key: no result stored and none could be")
	}
	return stored, nil
}

// Release deletes the key's row if token still holds it without a result.
func (s *Store) Release(ctx context.Context, k commands.IdempotencyKey, token uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `
		DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND claim_token = $3 AND result IS NULL`,
		k.Account, k.Key, token)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// Lapse ends token's lease now, keeping the row and its request hash.
func (s *Store) Lapse(ctx context.Context, k commands.IdempotencyKey, token uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET claimed_until = now()
		WHERE account_id = $1 AND key = $2 AND claim_token = $3 AND result IS NULL`,
		k.Account, k.Key, token)
	if err != nil {
		return fmt.Errorf("end idempotency lease: %w", err)
	}
	return nil
}

// Purge drops the results that expired and returns how many. The rows stay, with their request
// hash, because the key's command ids derive from the key for good (see
// commands.IdempotencyStore.Claim); their expires_at becomes infinity so that the next purge does
// not read them again, and the same request takes such a row over as one whose lease ran out.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET result = NULL, expires_at = 'infinity', claimed_until = now()
		WHERE expires_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Run purges expired results every interval until ctx ends. A failed purge is logged and tried again
// at the next tick; Run returns ctx.Err().
func (s *Store) Run(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				log.Warn("purge idempotency keys", "err", err)
			}
		}
	}
}

// Package idempotency keeps the command side's Idempotency-Keys in Postgres (table
// idempotency_keys, migration 00401): one row per account and key, claimed by the first request
// and completed with its result.
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

// Claim takes the key in one statement: it inserts the row, or takes over a row that has expired
// or whose holder's lease ran out with the same request hash. When it does not get the key it reads
// what holds it.
func (s *Store) Claim(ctx context.Context, k commands.IdempotencyKey, hash []byte, token uuid.UUID, lease, ttl time.Duration) (commands.Claim, error) {
	var got uuid.UUID
	err := s.pool.QueryRow(ctx, `
		INSERT INTO idempotency_keys AS k (account_id, key, request_hash, claim_token, claimed_until, expires_at)
		VALUES ($1, $2, $3, $4, now() + $5::interval, now() + $6::interval)
		ON CONFLICT (account_id, key) DO UPDATE
		SET request_hash = excluded.request_hash, claim_token = excluded.claim_token, result = NULL,
		    claimed_until = excluded.claimed_until, created_at = now(), expires_at = excluded.expires_at
		WHERE k.expires_at < now()
		   OR (k.result IS NULL AND k.claimed_until < now() AND k.request_hash = excluded.request_hash)
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

// Complete stores the result if token still holds the key.
func (s *Store) Complete(ctx context.Context, k commands.IdempotencyKey, token uuid.UUID, result []byte, ttl time.Duration) error {
	if result == nil {
		result = []byte{}
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET result = $4, expires_at = now() + $5::interval
		WHERE account_id = $1 AND key = $2 AND claim_token = $3 AND result IS NULL`,
		k.Account, k.Key, token, result, ttl)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("complete idempotency key: the claim was lost to another request")
	}
	return nil
}

// Release deletes the key's row if token still holds it.
func (s *Store) Release(ctx context.Context, k commands.IdempotencyKey, token uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `
		DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND claim_token = $3 AND result IS NULL`,
		k.Account, k.Key, token)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// Purge deletes the keys that expired and returns how many.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Run purges expired keys every interval until ctx ends. A failed purge is logged and tried again
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

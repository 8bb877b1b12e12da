package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Kinds of revocation rows.
const (
	revokeToken   = "TOKEN"
	revokeSession = "SESSION"
	revokeAccount = "ACCOUNT"
)

// maxChecked is the number of cached answers above which expired ones are swept.
const maxChecked = 4096

// revocationQueryTimeout bounds one revocation query, so that a database that does not answer
// (a partition) turns into the fallback within a second instead of holding the request.
const revocationQueryTimeout = time.Second

// ErrUnavailable: the database a check needs has not answered for longer than the check's
// fallback covers (Config.RevocationFallback); try again shortly (HTTP 503 with Retry-After).
var ErrUnavailable = errors.New("the account database is unavailable; try again shortly")

// revocations caches the answers of the revocation table. Revocations made by this process are
// kept in local and take effect at once; those made by another process are seen when the cached
// "not revoked" answer for a token is older than ttl. While the database fails, and for at most
// fallback after its last answer, the last answer known for a token stands in for it.
type revocations struct {
	ttl      time.Duration
	fallback time.Duration
	mu       sync.Mutex
	local    map[uuid.UUID]time.Time // revoked id -> when the row expires
	checked  map[uuid.UUID]checked   // token id -> last database answer
	answered time.Time               // when the database last answered a check
	failed   time.Time               // when a check last failed to get an answer
}

type checked struct {
	revoked bool
	at      time.Time
}

func newRevocations(ttl, fallback time.Duration) *revocations {
	return &revocations{ttl: ttl, fallback: fallback, local: map[uuid.UUID]time.Time{}, checked: map[uuid.UUID]checked{}}
}

// cached returns the answer for p when it is known without the database.
func (r *revocations) cached(p Principal, now time.Time) (revoked, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range []uuid.UUID{p.TokenID, p.Session, p.Actor.ID} {
		if until, found := r.local[id]; found && now.Before(until) {
			return true, true
		}
	}
	if c, found := r.checked[p.TokenID]; found && now.Sub(c.at) < r.ttl {
		return c.revoked, true
	}
	return false, false
}

// lastKnown returns the answer that stands in for the database while it fails: the last one it
// gave for p's token, or "not revoked" for a token it was never asked about; ok is false once the
// database has been silent for longer than the fallback. With onlyIfFailing, it answers only
// within ttl of a failed check: then the database is not asked again (each try could wait for
// the query's timeout), as a cached answer is not.
func (r *revocations) lastKnown(p Principal, now time.Time, onlyIfFailing bool) (revoked, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if onlyIfFailing && (r.failed.Before(r.answered) || now.Sub(r.failed) >= r.ttl) {
		return false, false
	}
	if r.answered.IsZero() || now.Sub(r.answered) > r.fallback {
		return false, false
	}
	return r.checked[p.TokenID].revoked, true
}

// failing records a check that got no answer from the database.
func (r *revocations) failing(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = now
}

func (r *revocations) remember(id uuid.UUID, revoked bool, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answered = now
	if len(r.checked) >= maxChecked {
		for k, c := range r.checked {
			// Answers are kept for the fallback, not only the ttl: they stand in for the
			// database while it fails.
			if now.Sub(c.at) >= max(r.ttl, r.fallback) {
				delete(r.checked, k)
			}
		}
		for k, until := range r.local {
			if !now.Before(until) {
				delete(r.local, k)
			}
		}
	}
	r.checked[id] = checked{revoked: revoked, at: now}
}

// revoked records revocations this process committed.
func (r *revocations) revoked(rows []revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, row := range rows {
		r.local[row.id] = row.expiresAt
	}
}

type revocation struct {
	id        uuid.UUID
	kind      string
	expiresAt time.Time
}

// insertRevocations writes rows in tx; the caller calls s.rev.revoked(rows) after the commit.
func insertRevocations(ctx context.Context, tx pgx.Tx, rows []revocation) error {
	for _, row := range rows {
		_, err := tx.Exec(ctx, `
			INSERT INTO auth_revocations (id, kind, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET expires_at = greatest(auth_revocations.expires_at, EXCLUDED.expires_at)`,
			row.id, row.kind, row.expiresAt)
		if err != nil {
			return fmt.Errorf("revoke %s %s: %w", row.kind, row.id, err)
		}
	}
	return nil
}

// checkRevoked returns ErrTokenRevoked when p's token, its session or its account is revoked.
func (s *Service) checkRevoked(ctx context.Context, p Principal) error {
	now := s.cfg.Now()
	revoked, ok := s.rev.cached(p, now)
	if !ok {
		revoked, ok = s.rev.lastKnown(p, now, true)
	}
	if !ok {
		qctx, cancel := context.WithTimeout(ctx, revocationQueryTimeout)
		err := s.pool.QueryRow(qctx, `
			SELECT EXISTS (SELECT 1 FROM auth_revocations WHERE id = ANY($1) AND expires_at > $2)`,
			[]uuid.UUID{p.TokenID, p.Session, p.Actor.ID}, now).Scan(&revoked)
		cancel()
		switch {
		case err == nil:
			s.rev.remember(p.TokenID, revoked, now)
		case ctx.Err() != nil:
			return fmt.Errorf("check token revocation: %w", err)
		default:
			// The stand-in answer is not remembered: once ttl has passed since this failure the
			// database is asked again, so a revocation made elsewhere during the outage is refused
			// within ttl of the database answering again.
			s.rev.failing(now)
			if revoked, ok = s.rev.lastKnown(p, now, false); !ok {
				return fmt.Errorf("check token revocation: %w: %w", ErrUnavailable, err)
			}
			s.cfg.Log.Debug("revocation check answered from the last known answer", "token", p.TokenID, "err", err)
		}
	}
	if revoked {
		return ErrTokenRevoked
	}
	return nil
}

// Purge deletes revocations and refresh tokens that can no longer match a live token, and
// returns how many rows it deleted.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	a, err := s.pool.Exec(ctx, `DELETE FROM auth_revocations WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("purge revocations: %w", err)
	}
	b, err := s.pool.Exec(ctx, `DELETE FROM auth_refresh_tokens WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("purge refresh tokens: %w", err)
	}
	return a.RowsAffected() + b.RowsAffected(), nil
}

// Run purges expired rows every interval until ctx ends, then returns nil. A failed purge is
// logged and tried again at the next tick.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Log.Warn("purge expired tokens", "err", err)
			} else if n > 0 {
				s.cfg.Log.Debug("purged expired tokens", "rows", n)
			}
		}
	}
}

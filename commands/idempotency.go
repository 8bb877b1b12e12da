package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
)

// CodeIdempotencyKeyReused is the code of the error for an Idempotency-Key sent again with another
// request; the API answers 422.
const CodeIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"

// CodeIdempotencyKeyInvalid is the code of the error for an empty or over-long Idempotency-Key;
// the API answers 400.
const CodeIdempotencyKeyInvalid = "IDEMPOTENCY_KEY_INVALID"

// ErrIdempotencyKeyReused matches the refusal of a key already used with another request.
var ErrIdempotencyKeyReused = &domain.Error{Kind: domain.Invalid, Code: CodeIdempotencyKeyReused}

// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted, in characters.
const MaxIdempotencyKeyLen = 255

// IdempotencyKey names one key of one account.
type IdempotencyKey struct {
	// Account is the account that sent the key; keys of different accounts never meet.
	Account uuid.UUID
	// Key is the header's value.
	Key string
}

// ClaimState is what IdempotencyStore.Claim found.
type ClaimState int

const (
	// Claimed means the caller now holds the key and runs the command.
	Claimed ClaimState = iota + 1
	// Completed means an earlier request with the same hash finished; Claim.Result is its result.
	Completed
	// InFlight means an earlier request with the same hash holds the key, its lease not yet over.
	InFlight
	// Mismatch means the key was used with a request of another hash.
	Mismatch
)

// Claim is the answer of IdempotencyStore.Claim.
type Claim struct {
	// State says what was found.
	State ClaimState
	// Result is the stored result when State is Completed.
	Result []byte
}

// IdempotencyStore keeps idempotency keys with the request hash and first result of each.
// infra/idempotency implements it on Postgres.
type IdempotencyStore interface {
	// Claim takes k for a request with hash, under token, until lease has passed, if k is unused,
	// or known with the same hash and either expired or held by a holder whose lease has run out.
	// A claimed key expires ttl after the claim. The hash of a key is kept after it expires: the
	// command's ids derive from the key, so what it did outlives its result, and another body
	// with the key is Mismatch for good, never a run that would find the first request's effects.
	Claim(ctx context.Context, k IdempotencyKey, hash []byte, token uuid.UUID, lease, ttl time.Duration) (Claim, error)
	// Complete stores result for k and hash unless a result is stored already, whoever holds the
	// claim, keeps it until ttl from now, and returns the stored result: the first one wins. It is
	// ErrIdempotencyKeyReused when k is held for another hash.
	Complete(ctx context.Context, k IdempotencyKey, hash []byte, token uuid.UUID, result []byte, ttl time.Duration) ([]byte, error)
	// Release forgets k if token still holds it without a result, so that the next request with k
	// runs, whatever its body: for a run that changed nothing.
	Release(ctx context.Context, k IdempotencyKey, token uuid.UUID) error
	// Lapse ends token's lease on k now and keeps the request hash, so that the next request with
	// the same body runs at once and one with another body is refused: for a run that may have
	// changed something.
	Lapse(ctx context.Context, k IdempotencyKey, token uuid.UUID) error
}

// Idempotency runs commands at most once per account and Idempotency-Key.
type Idempotency struct {
	store IdempotencyStore
	// TTL is how long a key's result is kept: 24 h. After it the same request runs again and
	// finds what it did; another body with the key stays refused.
	TTL time.Duration
	// Lease is how long a claim makes other requests with the same key and body wait for the
	// holder's result before one of them runs the command too: 500 ms. A holder that lost its
	// database connection, or whose claim's reply was lost, never completes the key, so a retry
	// must not wait for it for long; running the command a second time is safe because run is
	// idempotent under its key-derived CommandID (PlaceOrder finds the order it placed).
	Lease time.Duration
	// Poll is the first pause while waiting for a request in flight; it doubles up to 100 ms.
	Poll time.Duration
	// Grace is how long the key's bookkeeping after run returns (storing the result, giving the
	// key back) may go on past the caller's deadline: 500 ms; a caller without a deadline gives
	// it 10 s. A retry recovers what it could not do.
	Grace time.Duration
}

// NewIdempotency returns an Idempotency on store with a 24 h TTL, a 500 ms lease, 5 ms polls and
// a 500 ms grace.
func NewIdempotency(store IdempotencyStore) *Idempotency {
	return &Idempotency{store: store, TTL: 24 * time.Hour, Lease: 500 * time.Millisecond,
		Poll: 5 * time.Millisecond, Grace: 500 * time.Millisecond}
}

// RequestHash returns the hash that Do compares: SHA-256 over each part with its length, so
// that ("ab","c") and ("a","bc") differ. Pass the method, the route and the body.
func RequestHash(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return h.Sum(nil)
}

// IdempotentCommandID is the CommandID that Do gives to the command of account's key: commands
// derive their event ids (and PlaceOrder its order id) from it, so that a command run again after
// a crash finds its own events instead of appending new ones.
func IdempotentCommandID(account uuid.UUID, key string) uuid.UUID {
	return uuid.NewSHA1(account, []byte("idempotency-key:"+key))
}

// Do runs run for account's key and request hash and returns its result. A later call with the
// same key and hash returns the stored result with replayed true and does not run; one that
// arrives while the first is running waits for it, for at most the lease, then runs run itself
// (until ctx ends). The same key with another hash is ErrIdempotencyKeyReused, also after a failed
// attempt. A domain error from run is returned and the key given back, so it can be used again
// with any body: to keep a refusal, return it rendered as the result. Any other error may come
// after run changed something, so the key keeps its body; a retry with it runs at once.
//
// run gets a context whose Meta (see MetaFrom) has CommandID = IdempotentCommandID(account, key),
// and it must be idempotent under it: run may run more than once for one key, even at the same
// time, when a holder dies, loses its connection or is slower than the lease.
func (i *Idempotency) Do(ctx context.Context, account uuid.UUID, key string, requestHash []byte, run func(context.Context) ([]byte, error)) (result []byte, replayed bool, err error) {
	if key == "" || utf8.RuneCountInString(key) > MaxIdempotencyKeyLen || !utf8.ValidString(key) {
		return nil, false, domain.Invalidf(CodeIdempotencyKeyInvalid, "Idempotency-Key must be 1 to %d characters", MaxIdempotencyKeyLen)
	}
	k := IdempotencyKey{Account: account, Key: key}
	token := uuid.New()
	pause := backoff.ExponentialBackOff{InitialInterval: i.Poll, Multiplier: 2, MaxInterval: 100 * time.Millisecond}
	for {
		c, err := i.store.Claim(ctx, k, requestHash, token, i.Lease, i.TTL)
		if err != nil {
			return nil, false, fmt.Errorf("claim idempotency key: %w", err)
		}
		switch c.State {
		case Completed:
			return c.Result, true, nil
		case Mismatch:
			return nil, false, &domain.Error{Kind: domain.Invalid, Code: CodeIdempotencyKeyReused,
				Message: "Idempotency-Key was already used with a different request"}
		case Claimed:
			return i.run(ctx, k, requestHash, token, run)
		}
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("wait for idempotency key in flight: %w", ctx.Err())
		case <-time.After(pause.NextBackOff()):
		}
	}
}

func (i *Idempotency) run(ctx context.Context, k IdempotencyKey, hash []byte, token uuid.UUID, run func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	m, _ := MetaFrom(ctx)
	m.CommandID = IdempotentCommandID(k.Account, k.Key)
	result, err := run(WithMeta(ctx, m))
	// The caller's ctx may be over; the bookkeeping gets a short grace of its own.
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		deadline = later(d, time.Now()).Add(i.Grace)
	}
	gctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		if rerr := i.store.Release(gctx, k, token); rerr != nil {
			return nil, false, fmt.Errorf("%w (and release idempotency key: %w)", err, rerr)
		}
		return nil, false, err
	case err != nil:
		if lerr := i.store.Lapse(gctx, k, token); lerr != nil {
			return nil, false, fmt.Errorf("%w (and end idempotency lease: %w)", err, lerr)
		}
		return nil, false, err
	}
	stored, err := i.store.Complete(gctx, k, hash, token, result, i.TTL)
	if err != nil {
		return nil, false, fmt.Errorf("store idempotent result: %w", err)
	}
	return stored, !bytes.Equal(stored, result), nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

package commands

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"
	"unicode/utf8"

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
	// Claimed means the caller now owns the key and must Complete or Release it.
	Claimed ClaimState = iota + 1
	// Completed means an earlier request with the same hash finished; Claim.Result is its result.
	Completed
	// InFlight means an earlier request with the same hash holds the key and has not finished.
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

// IdempotencyStore keeps idempotency keys with the first result of each. infra/idempotency
// implements it on Postgres.
type IdempotencyStore interface {
	// Claim takes k for a request with hash, under token, until lease has passed, if k is unused,
	// expired, or claimed for the same hash by a holder whose lease has run out. A claimed key
	// expires ttl after the claim.
	Claim(ctx context.Context, k IdempotencyKey, hash []byte, token uuid.UUID, lease, ttl time.Duration) (Claim, error)
	// Complete stores result for k if token still holds it, and keeps it until ttl from now.
	Complete(ctx context.Context, k IdempotencyKey, token uuid.UUID, result []byte, ttl time.Duration) error
	// Release gives k up if token still holds it, so that the next request with k runs.
	Release(ctx context.Context, k IdempotencyKey, token uuid.UUID) error
}

// Idempotency runs commands at most once per account and Idempotency-Key.
type Idempotency struct {
	store IdempotencyStore
	// TTL is how long a key and its result are kept: 24 h.
	TTL time.Duration
	// Lease is how long a claim holds a key without a result before another request with the same
	// key and body may take it over (the holder died): 30 s.
	Lease time.Duration
	// Poll is the first pause while waiting for a request in flight; it doubles up to 100 ms.
	Poll time.Duration
}

// NewIdempotency returns an Idempotency on store with a 24 h TTL, a 30 s lease and 5 ms polls.
func NewIdempotency(store IdempotencyStore) *Idempotency {
	return &Idempotency{store: store, TTL: 24 * time.Hour, Lease: 30 * time.Second, Poll: 5 * time.Millisecond}
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

// Do runs run once for account's key and request hash and returns its result. A later call with
// the same key and hash returns the stored result with replayed true and does not run; one that
// arrives while the first is running waits for it (until ctx ends). The same key with another hash
// is ErrIdempotencyKeyReused. An error from run is returned and nothing is stored, so the key can
// be used again: to keep a refusal, return it rendered as the result.
//
// run gets a context whose Meta (see MetaFrom) has CommandID = IdempotentCommandID(account, key).
func (i *Idempotency) Do(ctx context.Context, account uuid.UUID, key string, requestHash []byte, run func(context.Context) ([]byte, error)) (result []byte, replayed bool, err error) {
	if key == "" || utf8.RuneCountInString(key) > MaxIdempotencyKeyLen || !utf8.ValidString(key) {
		return nil, false, domain.Invalidf(CodeIdempotencyKeyInvalid, "Idempotency-Key must be 1 to %d characters", MaxIdempotencyKeyLen)
	}
	k := IdempotencyKey{Account: account, Key: key}
	token := uuid.New()
	pause := i.Poll
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
			return i.run(ctx, k, token, run)
		}
		if err := sleep(ctx, pause); err != nil {
			return nil, false, fmt.Errorf("wait for idempotency key in flight: %w", err)
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

func (i *Idempotency) run(ctx context.Context, k IdempotencyKey, token uuid.UUID, run func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	m, _ := MetaFrom(ctx)
	m.CommandID = IdempotentCommandID(k.Account, k.Key)
	result, err := run(WithMeta(ctx, m))
	if err != nil {
		// The caller's ctx may be over; give the key back regardless, else it waits for the lease.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := i.store.Release(rctx, k, token); rerr != nil {
			return nil, false, fmt.Errorf("%w (and release idempotency key: %w)", err, rerr)
		}
		return nil, false, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := i.store.Complete(cctx, k, token, result, i.TTL); err != nil {
		return nil, false, fmt.Errorf("store idempotent result: %w", err)
	}
	return result, false, nil
}

package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/idempotency"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

func TestDoRunsOnceAndReplays(t *testing.T) {
	ctx := context.Background()
	idem := commands.NewIdempotency(idempotency.New(pgtest.New(t)))
	account := uuid.New()
	hash := commands.RequestHash([]byte("POST"), []byte("/orders"), []byte(`{"a":1}`))
	runs := 0
	var commandIDs []uuid.UUID
	run := func(ctx context.Context) ([]byte, error) {
		runs++
		m, _ := commands.MetaFrom(ctx)
		commandIDs = append(commandIDs, m.CommandID)
		return []byte("first result"), nil
	}
	got, replayed, err := idem.Do(ctx, account, "k1", hash, run)
	if err != nil || replayed || string(got) != "first result" {
		t.Fatalf("first Do = %q, replayed %v, %v; want %q, false, nil", got, replayed, err, "first result")
	}
	got, replayed, err = idem.Do(ctx, account, "k1", hash, run)
	if err != nil || !replayed || string(got) != "first result" {
		t.Fatalf("second Do = %q, replayed %v, %v; want %q, true, nil", got, replayed, err, "first result")
	}
	if runs != 1 {
		t.Fatalf("run ran %d times, want 1", runs)
	}
	if want := commands.IdempotentCommandID(account, "k1"); commandIDs[0] != want {
		t.Fatalf("run got CommandID %s, want %s", commandIDs[0], want)
	}
	// Another account with the same key is another key.
	_, replayed, err = idem.Do(ctx, uuid.New(), "k1", hash, run)
	if err != nil || replayed || runs != 2 {
		t.Fatalf("Do for another account: replayed %v, err %v, runs %d; want a fresh run", replayed, err, runs)
	}
	if commandIDs[1] == commandIDs[0] {
		t.Fatalf("two accounts' key k1 share the CommandID %s", commandIDs[0])
	}
}

func TestDoRefusesKeyWithAnotherBody(t *testing.T) {
	ctx := context.Background()
	idem := commands.NewIdempotency(idempotency.New(pgtest.New(t)))
	account := uuid.New()
	run := func(context.Context) ([]byte, error) { return []byte("ok"), nil }
	if _, _, err := idem.Do(ctx, account, "k", commands.RequestHash([]byte("a")), run); err != nil {
		t.Fatalf("first Do: %v", err)
	}
	_, _, err := idem.Do(ctx, account, "k", commands.RequestHash([]byte("b")), func(context.Context) ([]byte, error) {
		t.Error("run called for a reused key")
		return nil, nil
	})
	if !errors.Is(err, commands.ErrIdempotencyKeyReused) || !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("Do with another body = %v, want ErrIdempotencyKeyReused (Invalid)", err)
	}
}

// TestDoAfterFailedRun: a domain error gives the key back for any body; any other error may come
// after the command changed something, so the key keeps its body: the same body runs again at
// once, another is refused.
func TestDoAfterFailedRun(t *testing.T) {
	ctx := context.Background()
	idem := commands.NewIdempotency(idempotency.New(pgtest.New(t)))
	account := uuid.New()
	a, b := commands.RequestHash([]byte("a")), commands.RequestHash([]byte("b"))
	refused := domain.Invalidf("NO", "refused")
	if _, _, err := idem.Do(ctx, account, "refused", a, func(context.Context) ([]byte, error) { return nil, refused }); !errors.Is(err, refused) {
		t.Fatalf("Do with a refusing run = %v, want the refusal", err)
	}
	got, replayed, err := idem.Do(ctx, account, "refused", b, func(context.Context) ([]byte, error) { return []byte("b"), nil })
	if err != nil || replayed || string(got) != "b" {
		t.Fatalf("Do with another body after a refusal = %q, %v, %v; want a fresh run", got, replayed, err)
	}

	boom := errors.New("connection lost")
	if _, _, err := idem.Do(ctx, account, "lost", a, func(context.Context) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("Do with a failing run = %v, want its error", err)
	}
	if _, _, err := idem.Do(ctx, account, "lost", b, func(context.Context) ([]byte, error) {
		t.Error("run called for another body after a failed attempt")
		return nil, nil
	}); !errors.Is(err, commands.ErrIdempotencyKeyReused) {
		t.Fatalf("Do with another body after a failed attempt = %v, want ErrIdempotencyKeyReused", err)
	}
	start := time.Now()
	got, replayed, err = idem.Do(ctx, account, "lost", a, func(context.Context) ([]byte, error) { return []byte("second"), nil })
	if took := time.Since(start); err != nil || replayed || string(got) != "second" || took >= idem.Lease {
		t.Fatalf("Do with the same body after a failed attempt = %q, %v, %v after %s; want a fresh run before the %s lease", got, replayed, err, took, idem.Lease)
	}
}

// TestDoRecoversKeyOfLostClaim: a claim committed whose holder never heard back (its reply was
// lost with the connection) holds the key only for the lease: a retry with the same body runs the
// command within about a second and stores its result.
func TestDoRecoversKeyOfLostClaim(t *testing.T) {
	ctx := context.Background()
	store := idempotency.New(pgtest.New(t))
	idem := commands.NewIdempotency(store)
	k := commands.IdempotencyKey{Account: uuid.New(), Key: "k"}
	hash := commands.RequestHash([]byte("order"))
	if c, err := store.Claim(ctx, k, hash, uuid.New(), idem.Lease, idem.TTL); err != nil || c.State != commands.Claimed {
		t.Fatalf("Claim = %+v, %v; want Claimed", c, err)
	}
	start := time.Now()
	got, replayed, err := idem.Do(ctx, k.Account, k.Key, hash, func(context.Context) ([]byte, error) { return []byte("r"), nil })
	if took := time.Since(start); err != nil || replayed || string(got) != "r" || took > time.Second {
		t.Fatalf("Do on a key whose holder vanished = %q, %v, %v after %s; want its own run within 1 s", got, replayed, err, took)
	}
	if got, replayed, err = idem.Do(ctx, k.Account, k.Key, hash, nil); err != nil || !replayed || string(got) != "r" {
		t.Fatalf("Do again = %q, %v, %v; want the stored result replayed", got, replayed, err)
	}
}

func TestDoConcurrentSameKeyRunsOnce(t *testing.T) {
	ctx := context.Background()
	idem := commands.NewIdempotency(idempotency.New(pgtest.New(t)))
	account, hash := uuid.New(), commands.RequestHash([]byte("order"))
	var runs atomic.Int32
	const n = 8
	results := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _, errs[i] = idem.Do(ctx, account, "same", hash, func(context.Context) ([]byte, error) {
				runs.Add(1)
				time.Sleep(50 * time.Millisecond) // long enough for the others to find it in flight
				return []byte(uuid.NewString()), nil
			})
		}()
	}
	wg.Wait()
	if got := runs.Load(); got != 1 {
		t.Fatalf("%d concurrent Do with one key ran %d times, want 1", n, got)
	}
	for i := range n {
		if errs[i] != nil || !bytes.Equal(results[i], results[0]) {
			t.Fatalf("Do %d = %q, %v; want %q like the first", i, results[i], errs[i], results[0])
		}
	}
}

func TestClaimTakesOverAfterLeaseAndExpiryWithItsBody(t *testing.T) {
	ctx := context.Background()
	store := idempotency.New(pgtest.New(t))
	k := commands.IdempotencyKey{Account: uuid.New(), Key: "k"}
	a, b := commands.RequestHash([]byte("a")), commands.RequestHash([]byte("b"))
	first := uuid.New()
	if c, err := store.Claim(ctx, k, a, first, 50*time.Millisecond, time.Hour); err != nil || c.State != commands.Claimed {
		t.Fatalf("first Claim = %+v, %v; want Claimed", c, err)
	}
	if c, err := store.Claim(ctx, k, a, uuid.New(), time.Minute, time.Hour); err != nil || c.State != commands.InFlight {
		t.Fatalf("Claim during the lease = %+v, %v; want InFlight", c, err)
	}
	time.Sleep(100 * time.Millisecond)
	if c, err := store.Claim(ctx, k, b, uuid.New(), time.Minute, time.Hour); err != nil || c.State != commands.Mismatch {
		t.Fatalf("Claim with another hash after the lease = %+v, %v; want Mismatch", c, err)
	}
	second := uuid.New()
	if c, err := store.Claim(ctx, k, a, second, time.Minute, time.Hour); err != nil || c.State != commands.Claimed {
		t.Fatalf("Claim with the same hash after the lease = %+v, %v; want Claimed", c, err)
	}
	// Both holders ran the command; the first result stored is every request's answer.
	if got, err := store.Complete(ctx, k, a, first, []byte("late"), 50*time.Millisecond); err != nil || string(got) != "late" {
		t.Fatalf("Complete by the holder that lost its lease = %q, %v; want its result stored", got, err)
	}
	if got, err := store.Complete(ctx, k, a, second, []byte("r"), time.Hour); err != nil || string(got) != "late" {
		t.Fatalf("Complete by the new holder = %q, %v; want the first result, %q", got, err, "late")
	}
	if _, err := store.Complete(ctx, k, b, second, []byte("r"), time.Hour); !errors.Is(err, commands.ErrIdempotencyKeyReused) {
		t.Fatalf("Complete with another hash = %v, want ErrIdempotencyKeyReused", err)
	}
	time.Sleep(100 * time.Millisecond)
	// The result expired (50 ms); the key's body is remembered, before and after a purge.
	for _, when := range []string{"expired", "purged"} {
		if c, err := store.Claim(ctx, k, b, uuid.New(), time.Minute, time.Hour); err != nil || c.State != commands.Mismatch {
			t.Fatalf("Claim of the %s key with another hash = %+v, %v; want Mismatch", when, c, err)
		}
		if when == "expired" {
			if n, err := store.Purge(ctx); err != nil || n != 1 {
				t.Fatalf("Purge = %d, %v; want 1 result dropped", n, err)
			}
		}
	}
	if c, err := store.Claim(ctx, k, a, uuid.New(), time.Minute, time.Hour); err != nil || c.State != commands.Claimed {
		t.Fatalf("Claim of the purged key with its own hash = %+v, %v; want Claimed", c, err)
	}
	if n, err := store.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("Purge = %d, %v; want 0 (the key was claimed again)", n, err)
	}
}

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

func TestDoReleasesKeyWhenRunFails(t *testing.T) {
	ctx := context.Background()
	idem := commands.NewIdempotency(idempotency.New(pgtest.New(t)))
	account, hash := uuid.New(), commands.RequestHash([]byte("x"))
	boom := errors.New("boom")
	if _, _, err := idem.Do(ctx, account, "k", hash, func(context.Context) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("Do with failing run = %v, want boom", err)
	}
	got, replayed, err := idem.Do(ctx, account, "k", hash, func(context.Context) ([]byte, error) { return []byte("second"), nil })
	if err != nil || replayed || string(got) != "second" {
		t.Fatalf("Do after a failed run = %q, %v, %v; want a fresh run", got, replayed, err)
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

func TestClaimTakesOverAfterLeaseAndExpiry(t *testing.T) {
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
	if err := store.Complete(ctx, k, first, []byte("late"), time.Hour); err == nil {
		t.Fatal("Complete by the holder that lost its lease succeeded, want an error")
	}
	if err := store.Complete(ctx, k, second, []byte("r"), 50*time.Millisecond); err != nil {
		t.Fatalf("Complete by the new holder: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if c, err := store.Claim(ctx, k, b, uuid.New(), time.Minute, time.Hour); err != nil || c.State != commands.Claimed {
		t.Fatalf("Claim of an expired key = %+v, %v; want Claimed", c, err)
	}
	n, err := store.Purge(ctx)
	if err != nil || n != 0 {
		t.Fatalf("Purge = %d, %v; want 0 (the key was claimed again)", n, err)
	}
}

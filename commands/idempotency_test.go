package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/infra/idempotency"
)

// placeIdempotent is what the HTTP layer does for POST /orders with an Idempotency-Key.
func placeIdempotent(ctx context.Context, e *env, idem *commands.Idempotency, u domain.Actor, key string, cmd commands.PlaceOrder) (string, bool, error) {
	body, _ := json.Marshal(cmd)
	out, replayed, err := idem.Do(ctx, u.ID, key, commands.RequestHash([]byte("POST /orders"), body), func(ctx context.Context) ([]byte, error) {
		res, err := e.h.PlaceOrder.Handle(ctx, cmd)
		if err != nil {
			return nil, err
		}
		return []byte(res.ID.String()), nil
	})
	return string(out), replayed, err
}

func TestPlaceOrderIdempotencyKey(t *testing.T) {
	e := newEnv(t, commands.Config{})
	idem := commands.NewIdempotency(idempotency.New(e.pool))
	p := e.onSale(seller(), e.item(), "P", 100, 10)
	u := user()
	cmd := commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 2}}}

	first, replayed, err := placeIdempotent(as(u), e, idem, u, "key-1", cmd)
	if err != nil || replayed {
		t.Fatalf("first PlaceOrder with a key = %q, replayed %v, %v", first, replayed, err)
	}
	before := e.count()
	again, replayed, err := placeIdempotent(as(u), e, idem, u, "key-1", cmd)
	if err != nil || !replayed || again != first || e.count() != before {
		t.Fatalf("replay = %q, replayed %v, %v (events %d -> %d); want %q replayed, nothing appended", again, replayed, err, before, e.count(), first)
	}
	other := cmd
	other.Lines = []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 3}}
	if _, _, err := placeIdempotent(as(u), e, idem, u, "key-1", other); !errors.Is(err, commands.ErrIdempotencyKeyReused) || e.count() != before {
		t.Fatalf("same key, other body = %v (events %d -> %d); want ErrIdempotencyKeyReused and nothing appended", err, before, e.count())
	}
}

func TestConcurrentPlaceOrderOneKeyOneOrder(t *testing.T) {
	e := newEnv(t, commands.Config{})
	idem := commands.NewIdempotency(idempotency.New(e.pool))
	p := e.onSale(seller(), e.item(), "P", 100, 10)
	u := user()
	cmd := commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 1}}}
	before := e.count()
	const n = 6
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], _, errs[i] = placeIdempotent(as(u), e, idem, u, "same-key", cmd)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d = %q, %v; want order %q like request 0", i, ids[i], errs[i], ids[0])
		}
	}
	var placed int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE type = $1`, order.TypePlaced).Scan(&placed); err != nil {
		t.Fatalf("count orders: %v", err)
	}
	if placed != 1 || e.count() != before+1 {
		t.Fatalf("%d concurrent requests with one key placed %d orders (events %d -> %d), want 1", n, placed, before, e.count())
	}
}

// TestPlaceOrderRerunAfterLostResult re-runs an idempotent PlaceOrder whose result was never
// stored (the process died after the append): the deterministic order id and event ids make the
// re-run return the same order without a second order.placed.
func TestPlaceOrderRerunAfterLostResult(t *testing.T) {
	e := newEnv(t, commands.Config{})
	p := e.onSale(seller(), e.item(), "P", 100, 10)
	u := user()
	cmd := commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 1}}}
	ctx := commands.WithMeta(context.Background(), commands.Meta{Actor: u, CommandID: commands.IdempotentCommandID(u.ID, "k")})
	first, err := e.h.PlaceOrder.Handle(ctx, cmd)
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	before := e.count()
	again, err := e.h.PlaceOrder.Handle(ctx, cmd)
	if err != nil || again.ID != first.ID || again.Position != first.Position || e.count() != before {
		t.Fatalf("re-run = %s at %d, %v (events %d -> %d); want %s at %d and nothing appended",
			again.ID, again.Position, err, before, e.count(), first.ID, first.Position)
	}
}

// killingStore is the real idempotency store whose first Complete finds every connection of the
// test database terminated by the server, as in a database restart between the append and the
// key's completion.
type killingStore struct {
	*idempotency.Store
	t    *testing.T
	url  string
	once sync.Once
}

func (s *killingStore) Complete(ctx context.Context, k commands.IdempotencyKey, hash []byte, token uuid.UUID, result []byte, ttl time.Duration) ([]byte, error) {
	s.once.Do(func() {
		c, err := pgx.Connect(ctx, s.url)
		if err != nil {
			s.t.Errorf("connect to terminate the pool's connections: %v", err)
			return
		}
		defer c.Close(ctx)
		// With a timeout, pg_terminate_backend waits for the backend to end: a connection whose
		// backend had the signal but had not yet ended would still serve the completion.
		if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			s.t.Errorf("terminate the pool's connections: %v", err)
		}
	})
	return s.Store.Complete(ctx, k, hash, token, result, ttl)
}

// TestKeyAnswersFirstOrderAfterFailedCompletion: the order is appended, then the database drops
// every connection before the key is completed, so the request fails. A retry with the same key
// answers the first order at once and places nothing; the key with another body is refused, also
// after its record expired, and never places a second order.
func TestKeyAnswersFirstOrderAfterFailedCompletion(t *testing.T) {
	e := newEnv(t, commands.Config{})
	url := e.pool.Config().ConnString()
	// The keys' pool never pings a connection it hands out: one idle for a second or more (a busy
	// machine) would be found dead by the ping and replaced, and the completion would not fail.
	cfg := e.pool.Config()
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	keys, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open the keys' pool: %v", err)
	}
	t.Cleanup(keys.Close)
	idem := commands.NewIdempotency(&killingStore{Store: idempotency.New(keys), t: t, url: url})
	p := e.onSale(seller(), e.item(), "P", 100, 10)
	u := user()
	cmd := commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 1}}}
	if id, _, err := placeIdempotent(as(u), e, idem, u, "k", cmd); err == nil {
		t.Fatalf("PlaceOrder whose completion lost its connection = %q, nil; want the store's error", id)
	}
	// The pool finds its dead connections one failed query at a time; this test is about the
	// key, the fault test in httpapi about the pool.
	e.pool.Reset()
	keys.Reset()
	placed := e.placedOrders()
	if len(placed) != 1 {
		t.Fatalf("after the failed completion the store holds %d order.placed, want 1 (the append happened)", len(placed))
	}
	start := time.Now()
	again, _, err := placeIdempotent(as(u), e, idem, u, "k", cmd)
	if took := time.Since(start); err != nil || again != placed[0] || took > time.Second {
		t.Fatalf("retry with the same key = %q, %v after %s; want %q within 1 s", again, err, took, placed[0])
	}
	other := cmd
	other.Lines = []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 2}}
	if id, _, err := placeIdempotent(as(u), e, idem, u, "k", other); !errors.Is(err, commands.ErrIdempotencyKeyReused) {
		t.Fatalf("the key with another body = %q, %v; want ErrIdempotencyKeyReused", id, err)
	}
	if _, err := e.pool.Exec(context.Background(), `UPDATE idempotency_keys SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatalf("expire the key: %v", err)
	}
	if id, _, err := placeIdempotent(as(u), e, idem, u, "k", other); !errors.Is(err, commands.ErrIdempotencyKeyReused) {
		t.Fatalf("the expired key with another body = %q, %v; want ErrIdempotencyKeyReused", id, err)
	}
	if id, _, err := placeIdempotent(as(u), e, idem, u, "k", cmd); err != nil || id != placed[0] {
		t.Fatalf("the expired key with its own body = %q, %v; want %q", id, err, placed[0])
	}
	if got := e.placedOrders(); len(got) != 1 {
		t.Fatalf("one key placed %d orders %v, want 1", len(got), got)
	}
}

// placedOrders returns the ids of the orders placed, from the log.
func (e *env) placedOrders() []string {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT data->>'order_id' FROM events WHERE type = $1 ORDER BY 1`, order.TypePlaced)
	if err != nil {
		e.t.Fatalf("read order.placed: %v", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		e.t.Fatalf("read order.placed: %v", err)
	}
	return ids
}

package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

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

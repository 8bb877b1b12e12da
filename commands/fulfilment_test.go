package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/bus/kafkatest"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/relay"
	"github.com/commerce-dev/commerce/infra/snapshot"
)

// rig is the write side with the whole fulfilment loop on one database: command handlers, the
// relay publishing the log to a bus, the process manager consuming it, and the outcome waiter.
type rig struct {
	t        testing.TB
	ctx      context.Context
	pool     *pgxpool.Pool
	store    *postgres.Store
	repos    *commands.Repos
	h        *commands.Handlers
	bus      *bus.Bus
	outcomes *commands.Outcomes
	seller   domain.Actor
	itemID   uuid.UUID
}

func newRig(t testing.TB, brokers []string) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pool := pgtest.New(t)
	r := &rig{t: t, ctx: ctx, pool: pool, store: postgres.New(pool), seller: domain.Actor{ID: uuid.New(), Role: domain.RoleSeller}}
	cfg := commands.Config{Snapshots: snapshot.New(pool), SnapshotEvery: 10}
	r.repos = commands.NewRepos(r.store, cfg)
	r.h = commands.NewHandlers(r.repos, cfg)
	r.bus = bus.New(bus.Config{Brokers: brokers})
	r.outcomes = commands.NewOutcomes(r.store, r.repos)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		r.bus.Close()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.outcomes.Run(ctx)
	}()
	r.go_(&wg, func(ctx context.Context) {
		rl := relay.New(r.store, pool, r.bus.Publisher(), relay.Options{
			Workers: 16, MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
		rl.Run(ctx)
	})

	super := commands.WithMeta(context.Background(), commands.Meta{Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}})
	c, err := r.h.CreateCategory.Handle(super, commands.CreateCategory{Name: "Shoes"})
	if err != nil {
		t.Fatalf("CreateCategory: %v", err)
	}
	b, err := r.h.CreateBrand.Handle(super, commands.CreateBrand{Name: "Acme"})
	if err != nil {
		t.Fatalf("CreateBrand: %v", err)
	}
	i, err := r.h.CreateItem.Handle(super, commands.CreateItem{CategoryID: c.ID, BrandID: b.ID, Name: "Runner", Description: "a shoe"})
	if err != nil {
		t.Fatalf("CreateItem: %v", err)
	}
	r.itemID = i.ID
	return r
}

// go_ runs fn in the background until the test ends.
func (r *rig) go_(wg *sync.WaitGroup, fn func(ctx context.Context)) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		fn(r.ctx)
	}()
}

// fulfil runs a process manager on the bus until the returned stop is called or the test ends.
// wrap, when set, wraps its handler.
func (r *rig) fulfil(repos *commands.Repos, cfg commands.FulfilmentConfig, wrap func(bus.Handler) bus.Handler) (stop func()) {
	f := commands.NewFulfilment(repos, cfg)
	var h bus.Handler = f
	if wrap != nil {
		h = wrap(f)
	}
	return r.runFulfilment(h)
}

// runFulfilment runs h as the process manager on the bus until the returned stop is called or the
// test ends.
func (r *rig) runFulfilment(h bus.Handler) (stop func()) {
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.bus.RunFulfilment(ctx, h); err != nil {
			r.t.Errorf("RunFulfilment: %v", err)
		}
	}()
	stop = func() {
		cancel()
		<-done
	}
	r.t.Cleanup(stop)
	return stop
}

func (r *rig) sellerCtx() context.Context {
	return commands.WithMeta(context.Background(), commands.Meta{Actor: r.seller})
}

// product creates a product on sale with stock.
func (r *rig) product(name string, stock int) uuid.UUID {
	r.t.Helper()
	return r.productID(uuid.New(), name, stock)
}

// productID creates the product id on sale with stock.
func (r *rig) productID(id uuid.UUID, name string, stock int) uuid.UUID {
	r.t.Helper()
	p, err := r.h.CreateProduct.Handle(r.sellerCtx(), commands.CreateProduct{ProductID: id, ItemID: r.itemID, Name: name, Price: 1000, Stock: stock})
	if err != nil {
		r.t.Fatalf("CreateProduct: %v", err)
	}
	if _, err := r.h.ChangeProductStatus.Handle(r.sellerCtx(), commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusSell}); err != nil {
		r.t.Fatalf("ChangeProductStatus SELL: %v", err)
	}
	return p.ID
}

// place places an order of a new user; a refusal is returned as the error.
func (r *rig) place(lines ...commands.PlaceOrderLine) (uuid.UUID, error) {
	ctx := commands.WithMeta(context.Background(), commands.Meta{Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleUser}})
	res, err := r.h.PlaceOrder.Handle(ctx, commands.PlaceOrder{
		Address: order.Address{Receiver: "Kim", Address1: "1 Main St"},
		Lines:   lines,
	})
	return res.ID, err
}

// stock returns the product's current state, read from its stream alone.
func (r *rig) stock(id uuid.UUID) product.Product {
	r.t.Helper()
	recs, err := r.store.ReadStream(context.Background(), product.StreamID(id), 1, 0)
	if err != nil {
		r.t.Fatalf("read product %s: %v", id, err)
	}
	return foldProduct(r.t, recs)
}

// events returns the types of a stream's events.
func (r *rig) events(stream string) []string {
	r.t.Helper()
	recs, err := r.store.ReadStream(context.Background(), stream, 1, 0)
	if err != nil {
		r.t.Fatalf("read %s: %v", stream, err)
	}
	types := make([]string, len(recs))
	for i, rec := range recs {
		types[i] = rec.Type
	}
	return types
}

// settle waits for every order's outcome.
func (r *rig) settle(ids []uuid.UUID, within time.Duration) map[uuid.UUID]order.Status {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	out := make(map[uuid.UUID]order.Status, len(ids))
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, reason, err := r.outcomes.AwaitSettled(ctx, id, 0)
			if err != nil {
				errs <- fmt.Errorf("AwaitSettled(%s) = %s, %v", id, status, err)
				return
			}
			if status == order.StatusReject && reason != product.CodeOutOfStock && reason != product.CodeNotOnSale {
				errs <- fmt.Errorf("order %s rejected with reason %q, want OUT_OF_STOCK or NOT_ON_SALE", id, reason)
			}
			mu.Lock()
			out[id] = status
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		r.t.Error(err)
	}
	if r.t.Failed() {
		r.t.FailNow()
	}
	return out
}

// eventually waits for cond, failing with what() when it does not hold in time.
func eventually(t testing.TB, within time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// headline is the original system's test: 200 concurrent orders of [A×2, B×1] on stocks 30 and
// 20. Exactly 15 orders end ORDER; every other one ends REJECT or is refused at placement because
// A is sold out; A ends at 0 and SOLD_OUT, B at 5. It returns the confirmed orders and the products.
func headline(t *testing.T, r *rig, settleWithin time.Duration) (confirmed []uuid.UUID, a, b uuid.UUID) {
	t.Helper()
	a, b = r.product("A", 30), r.product("B", 20)
	var mu sync.Mutex
	var placed []uuid.UUID
	refused := 0
	var wg sync.WaitGroup
	start := time.Now()
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := r.place(commands.PlaceOrderLine{ProductID: a, Quantity: 2}, commands.PlaceOrderLine{ProductID: b, Quantity: 1})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				placed = append(placed, id)
			case errors.Is(err, &domain.Error{Kind: domain.Invalid, Code: commands.CodeProductNotOnSale}):
				refused++
			default:
				t.Errorf("PlaceOrder = %v, want success or %s", err, commands.CodeProductNotOnSale)
			}
		}()
	}
	wg.Wait()
	t.Logf("placed %d orders (%d refused) in %s", len(placed), refused, time.Since(start).Round(time.Millisecond))
	outcomes := r.settle(placed, settleWithin)
	t.Logf("all settled %s after the first placement", time.Since(start).Round(time.Millisecond))
	rejected := 0
	for id, s := range outcomes {
		switch s {
		case order.StatusOrder:
			confirmed = append(confirmed, id)
		case order.StatusReject:
			rejected++
		}
	}
	if len(confirmed) != 15 || len(confirmed)+rejected+refused != 200 {
		t.Fatalf("200 orders: %d ORDER, %d REJECT, %d refused at placement; want 15 ORDER and the other 185 REJECT or refused",
			len(confirmed), rejected, refused)
	}
	// A rejected order's outcome is appended before its reservations are released (see
	// Fulfilment), so the stock is exact once the process manager has finished, a moment later.
	var pa, pb product.Product
	eventually(t, 30*time.Second, func() bool {
		pa, pb = r.stock(a), r.stock(b)
		return pa.Stock == 0 && pa.Status == product.StatusSoldOut && len(pa.Reservations) == 15 &&
			pb.Stock == 5 && len(pb.Reservations) == 15
	}, func() string {
		return fmt.Sprintf("product A: stock %d, %s, %d reservations; B: stock %d, %d reservations; want A 0, SOLD_OUT, 15 and B 5, 15",
			pa.Stock, pa.Status, len(pa.Reservations), pb.Stock, len(pb.Reservations))
	})
	for _, id := range confirmed {
		if pa.Reservations[id] != 2 || pb.Reservations[id] != 1 {
			t.Fatalf("confirmed order %s reserves A×%d, B×%d; want A×2, B×1", id, pa.Reservations[id], pb.Reservations[id])
		}
	}
	return confirmed, a, b
}

// lineChanges has sellers reject, cancel and deliver lines of confirmed orders, and waits for the
// process manager to give the stock back (or spend it) exactly once: 3 A lines rejected (+6 on A,
// which comes back on sale), 2 B lines cancelled (+2 on B), 1 A line delivered (reservation
// committed).
func lineChanges(t *testing.T, r *rig, confirmed []uuid.UUID, a, b uuid.UUID) {
	t.Helper()
	ctx := r.sellerCtx()
	user := func(id uuid.UUID) context.Context {
		st, err := r.repos.Orders.Load(context.Background(), id)
		if err != nil {
			t.Fatalf("load order %s: %v", id, err)
		}
		return commands.WithMeta(context.Background(), commands.Meta{Actor: domain.Actor{ID: st.Value.UserID, Role: domain.RoleUser}})
	}
	lineOf := func(id, productID uuid.UUID) int {
		st, err := r.repos.Orders.Load(context.Background(), id)
		if err != nil {
			t.Fatalf("load order %s: %v", id, err)
		}
		for _, l := range st.Value.Lines {
			if l.ProductID == productID {
				return l.Number
			}
		}
		t.Fatalf("order %s has no line of product %s", id, productID)
		return 0
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, id := range confirmed[:3] {
		_, err := r.h.RejectLine.Handle(ctx, commands.RejectLine{OrderID: id, Line: lineOf(id, a), Reason: "damaged"})
		must("RejectLine", err)
	}
	for _, id := range confirmed[3:5] {
		_, err := r.h.RequestCancel.Handle(user(id), commands.RequestCancel{OrderID: id, Line: lineOf(id, b)})
		must("RequestCancel", err)
		_, err = r.h.ConfirmCancel.Handle(ctx, commands.ConfirmCancel{OrderID: id, Line: lineOf(id, b)})
		must("ConfirmCancel", err)
	}
	id := confirmed[5]
	_, err := r.h.AcceptLine.Handle(ctx, commands.AcceptLine{OrderID: id, Line: lineOf(id, a)})
	must("AcceptLine", err)
	_, err = r.h.ShipLine.Handle(ctx, commands.ShipLine{OrderID: id, Line: lineOf(id, a)})
	must("ShipLine", err)
	_, err = r.h.DeliverLine.Handle(ctx, commands.DeliverLine{OrderID: id, Line: lineOf(id, a)})
	must("DeliverLine", err)

	var pa, pb product.Product
	eventually(t, 30*time.Second, func() bool {
		pa, pb = r.stock(a), r.stock(b)
		return len(pa.Reservations) == 11 && len(pb.Reservations) == 13
	}, func() string {
		return fmt.Sprintf("A has %d reservations, B %d; want 11 and 13", len(pa.Reservations), len(pb.Reservations))
	})
	if pa.Stock != 6 || pa.Status != product.StatusSell || pb.Stock != 7 {
		t.Fatalf("after 3 A lines rejected and 2 B lines cancelled: A stock %d %s, B stock %d; want A 6 SELL, B 7",
			pa.Stock, pa.Status, pb.Stock)
	}
	if _, ok := pa.Reservations[id]; ok {
		t.Fatalf("A still holds the reservation of delivered order %s", id)
	}
}

func TestFulfilmentHeadlineInProcess(t *testing.T) {
	r := newRig(t, nil)
	r.fulfil(r.repos, commands.FulfilmentConfig{Outcomes: r.outcomes}, nil)
	confirmed, a, b := headline(t, r, 60*time.Second)
	lineChanges(t, r, confirmed, a, b)
}

// TestFulfilmentEveryMessageTwice delivers every message twice, the copies at once: the final
// state is the same as with one delivery.
func TestFulfilmentEveryMessageTwice(t *testing.T) {
	r := newRig(t, nil)
	r.fulfil(r.repos, commands.FulfilmentConfig{}, func(h bus.Handler) bus.Handler {
		return bus.HandlerFunc(func(ctx context.Context, rec eventstore.Record) error {
			errs := make(chan error, 2)
			for range 2 {
				go func() { errs <- h.Handle(ctx, rec) }()
			}
			return errors.Join(<-errs, <-errs)
		})
	})
	confirmed, a, b := headline(t, r, 60*time.Second)
	lineChanges(t, r, confirmed, a, b)
	for _, id := range confirmed {
		if n := count(r.events(order.StreamID(id)), order.TypeConfirmed); n != 1 {
			t.Fatalf("order %s has %d order.confirmed events, want 1", id, n)
		}
	}
}

func count(types []string, typ string) int {
	n := 0
	for _, t := range types {
		if t == typ {
			n++
		}
	}
	return n
}

// TestFulfilmentCrashAndRestart stops the process manager in the middle of an order (after a
// line's reservation, before the confirm; after the reject, before the release) and starts a new
// one with fresh caches: each order settles once and the stock is exact.
func TestFulfilmentCrashAndRestart(t *testing.T) {
	r := newRig(t, nil)
	// A sorts before B, so A is reserved first and B's shortage comes after A's reservation.
	ida, idb := uuid.New(), uuid.New()
	if ida.String() > idb.String() {
		ida, idb = idb, ida
	}
	a, b := r.productID(ida, "A", 10), r.productID(idb, "B", 2)

	for _, tc := range []struct {
		name   string
		step   commands.FulfilmentStep
		qtyB   int
		status order.Status
	}{
		{"crash after a reservation", commands.StepLineReserved, 1, order.StatusOrder},
		{"crash after the reject", commands.StepRejected, 5, order.StatusReject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			beforeA, beforeB := r.stock(a), r.stock(b)
			crashed := make(chan struct{})
			var once sync.Once
			stop := r.fulfil(r.repos, commands.FulfilmentConfig{Hook: func(_ context.Context, step commands.FulfilmentStep, _ uuid.UUID) error {
				if step != tc.step {
					return nil
				}
				once.Do(func() { close(crashed) })
				return errors.New("crash")
			}}, nil)
			id, err := r.place(commands.PlaceOrderLine{ProductID: a, Quantity: 2}, commands.PlaceOrderLine{ProductID: b, Quantity: tc.qtyB})
			if err != nil {
				t.Fatalf("PlaceOrder: %v", err)
			}
			select {
			case <-crashed:
			case <-time.After(30 * time.Second):
				t.Fatal("the process manager never reached the crash")
			}
			stop()

			// A new process: fresh repositories (no cache), no hook.
			cfg := commands.Config{Snapshots: snapshot.New(r.pool), SnapshotEvery: 10}
			stop = r.fulfil(commands.NewRepos(r.store, cfg), commands.FulfilmentConfig{}, nil)
			defer stop()
			if got := r.settle([]uuid.UUID{id}, 30*time.Second)[id]; got != tc.status {
				t.Fatalf("order settled %s, want %s", got, tc.status)
			}
			want := map[string]int{order.TypeConfirmed: 0, order.TypeRejected: 0}
			if tc.status == order.StatusOrder {
				want[order.TypeConfirmed] = 1
			} else {
				want[order.TypeRejected] = 1
			}
			types := r.events(order.StreamID(id))
			for typ, n := range want {
				if got := count(types, typ); got != n {
					t.Fatalf("order stream %v has %d %s, want %d", types, got, typ, n)
				}
			}
			var pa, pb product.Product
			eventually(t, 30*time.Second, func() bool {
				pa, pb = r.stock(a), r.stock(b)
				if tc.status == order.StatusOrder {
					return pa.Stock == beforeA.Stock-2 && pb.Stock == beforeB.Stock-1 && pa.Reservations[id] == 2 && pb.Reservations[id] == 1
				}
				return pa.Stock == beforeA.Stock && pb.Stock == beforeB.Stock && len(pa.Reservations) == len(beforeA.Reservations)
			}, func() string {
				return fmt.Sprintf("A %d (was %d), B %d (was %d), reservations A %v B %v", pa.Stock, beforeA.Stock, pb.Stock, beforeB.Stock, pa.Reservations, pb.Reservations)
			})
		})
	}
}

// TestFulfilmentKafka runs the headline through Kafka, with Kafka down at the start: the relay
// and the process manager start first, the orders are placed, and only then does the broker come
// up on the address they were given. Nothing is lost and everything settles.
func TestFulfilmentKafka(t *testing.T) {
	addr, port := kafkatest.FreeAddr(t)

	r := newRig(t, []string{addr})
	r.fulfil(r.repos, commands.FulfilmentConfig{}, nil)
	started := make(chan struct{})
	go func() {
		// The broker comes up while the orders are being placed and settled.
		time.Sleep(2 * time.Second)
		defer close(started)
		if _, err := kafkatest.Start(t, port); err != nil {
			t.Errorf("start kfake: %v", err)
		}
	}()
	confirmed, a, b := headline(t, r, 90*time.Second)
	<-started
	lineChanges(t, r, confirmed, a, b)
}

// streamReadCounter is the Postgres store counting the stream reads made through it.
type streamReadCounter struct {
	*postgres.Store
	reads atomic.Int64
}

func (s *streamReadCounter) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.Record, error) {
	s.reads.Add(1)
	return s.Store.ReadStream(ctx, stream, from, limit)
}

func (s *streamReadCounter) ReadStreamBackward(ctx context.Context, stream string, limit int) ([]eventstore.Record, error) {
	s.reads.Add(1)
	return s.Store.ReadStreamBackward(ctx, stream, limit)
}

// runOutcomes runs an Outcomes on store until the test ends, and returns it once it follows the
// log (it answers an unknown order then): from then on it hears of every outcome and watches the
// product cache of repos.
func runOutcomes(t *testing.T, store eventstore.Store, repos *commands.Repos) *commands.Outcomes {
	t.Helper()
	out := commands.NewOutcomes(store, repos)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	wg.Go(func() { _ = out.Run(ctx) })
	if _, _, err := out.AwaitSettled(ctx, uuid.New(), 0); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("AwaitSettled of an unknown order = %v, want NotFound", err)
	}
	return out
}

// TestAwaitSettledOfAnOrderPlacedHere checks that waiting for an order placed after the
// Outcomes started, given its position, reads no stream, and that without the position, or for
// an order placed before the Outcomes started, the wait reads the order's stream and still finds
// the outcome.
func TestAwaitSettledOfAnOrderPlacedHere(t *testing.T) {
	r := newRig(t, nil)
	store := &streamReadCounter{Store: r.store}
	out := runOutcomes(t, store, r.repos)
	r.fulfil(r.repos, commands.FulfilmentConfig{Outcomes: out}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a := r.product("A", 3)
	uctx := commands.WithMeta(context.Background(), commands.Meta{Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleUser}})
	place := func(qty int) commands.Result[order.Order] {
		res, err := r.h.PlaceOrder.Handle(uctx, commands.PlaceOrder{
			Address: order.Address{Receiver: "Kim", Address1: "1 Main St"},
			Lines:   []commands.PlaceOrderLine{{ProductID: a, Quantity: qty}},
		})
		if err != nil {
			t.Fatalf("PlaceOrder: %v", err)
		}
		return res
	}
	await := func(res commands.Result[order.Order], want order.Status) {
		t.Helper()
		status, _, err := out.AwaitSettled(ctx, res.ID, res.Position)
		if err != nil || status != want {
			t.Fatalf("AwaitSettled(%s) = %s, %v; want %s", res.ID, status, err, want)
		}
	}
	// Only the Outcomes reads through store.
	store.reads.Store(0)
	first := place(1)
	await(first, order.StatusOrder)
	second := place(3)
	await(second, order.StatusReject)
	await(first, order.StatusOrder)
	if n := store.reads.Load(); n != 0 {
		t.Fatalf("waiting for orders placed after the start read %d streams, want none", n)
	}
	if status, _, err := out.AwaitSettled(ctx, second.ID, 0); err != nil || status != order.StatusReject {
		t.Fatalf("AwaitSettled without the position = %s, %v; want REJECT", status, err)
	}

	// A new Outcomes started after both orders were placed must read their streams.
	late := runOutcomes(t, store, r.repos)
	store.reads.Store(0)
	if status, _, err := late.AwaitSettled(ctx, first.ID, first.Position); err != nil || status != order.StatusOrder {
		t.Fatalf("AwaitSettled of an order placed before the start = %s, %v; want ORDER", status, err)
	}
	if store.reads.Load() == 0 {
		t.Fatal("AwaitSettled of an order placed before the start read nothing")
	}
}

// TestFulfilmentReservesOnTheStreamWhenTheCacheIsWrong: the stock batcher decides on the cached
// product without reading its stream, so when the store took the cached reservation back (a crash
// that lost a delayed append) and another writer's event took its version, the batcher must find
// out: from the refused append when its decision appends something, from a read when it appends
// nothing.
func TestFulfilmentReservesOnTheStreamWhenTheCacheIsWrong(t *testing.T) {
	e := newEnv(t, commands.Config{})
	ctx := context.Background()
	s := seller()
	f := commands.NewFulfilment(e.repos, commands.FulfilmentConfig{})
	u := user()
	// settle places an order and hands its order.placed to the process manager, after calling
	// before.
	settle := func(p uuid.UUID, qty int, before func()) order.Status {
		t.Helper()
		res, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p, Quantity: qty}}})
		if err != nil {
			t.Fatalf("PlaceOrder: %v", err)
		}
		before()
		if err := f.Handle(ctx, e.stream(order.StreamID(res.ID))[0]); err != nil {
			t.Fatalf("fulfil order %s: %v", res.ID, err)
		}
		st, err := e.repos.Orders.Load(ctx, res.ID)
		if err != nil {
			t.Fatal(err)
		}
		return st.Value.Status
	}
	// takeBack deletes the product's last event (a reservation of 1, leaving stock 3 in the store
	// and 2 in the cache) and appends another writer's restock to 4 at its version.
	takeBack := func(p uuid.UUID) {
		t.Helper()
		stream := product.StreamID(p)
		v := int64(len(e.stream(stream)))
		if tag, err := e.pool.Exec(ctx, `DELETE FROM events WHERE stream_id = $1 AND version = $2`, stream, v); err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("take back version %d of %s: %v", v, stream, err)
		}
		data, _ := json.Marshal(product.Restocked{ProductID: p, Quantity: 1, Stock: 4})
		if _, err := e.store.Append(ctx, stream, eventstore.Exact(v-1), eventstore.EventData{ID: uuid.New(), Type: product.TypeRestocked, Data: data}); err != nil {
			t.Fatalf("the other writer's append: %v", err)
		}
	}
	for _, tt := range []struct {
		name      string
		qty       int
		wantStock int
	}{
		{"a decision that appends (reserve 2 of the cached 2)", 2, 2},
		{"a decision that appends nothing (reserve 3 of the cached 2)", 3, 1},
	} {
		p := e.onSale(s, e.item(), "P", 1000, 3).ID
		if got := settle(p, 1, func() {}); got != order.StatusOrder {
			t.Fatalf("%s: first order %s, want ORDER", tt.name, got)
		}
		// Taken back after PlaceOrder, whose load would notice it, and before the reservation.
		if got := settle(p, tt.qty, func() { takeBack(p) }); got != order.StatusOrder {
			t.Fatalf("%s: order after the take-back %s, want ORDER (the stream has stock 4)", tt.name, got)
		}
		if got := e.product(p); got.Stock != tt.wantStock || len(got.Reservations) != 1 {
			t.Fatalf("%s: the stream ends with stock %d and %d reservations, want %d and 1", tt.name, got.Stock, len(got.Reservations), tt.wantStock)
		}
	}
}

// TestFulfilmentFirstDeliveryReadsNothingAndALateOneReservesNothing settles an order in the process
// that placed it: no stream is read on the way (the reservation is appended under a condition on
// the order's stream, the outcome from the cached order). The order's line is then cancelled and
// its stock given back, and the order.placed delivered again: in the process that settled the
// order, its cache says ORDER, and nothing is read or reserved; in another process, its
// reservation's condition fails, the order is read, found ORDER, and nothing is reserved again.
func TestFulfilmentFirstDeliveryReadsNothingAndALateOneReservesNothing(t *testing.T) {
	pool := pgtest.New(t)
	store := &streamReadCounter{Store: postgres.New(pool)}
	e := &env{t: t, pool: pool, store: store.Store, obs: newCountingObserver()}
	cfg := commands.Config{Observer: e.obs}
	e.repos = commands.NewRepos(store, cfg)
	e.h = commands.NewHandlers(e.repos, cfg)
	e.super = domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}
	ctx := context.Background()
	s, u := seller(), user()
	p := e.onSale(s, e.item(), "P", 1000, 5).ID
	f := commands.NewFulfilment(e.repos, commands.FulfilmentConfig{})
	stock := func() (int, int) {
		got := e.product(p)
		return got.Stock, len(got.Reservations)
	}

	res, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p, Quantity: 2}}})
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	placed := e.stream(order.StreamID(res.ID))[0]
	before := store.reads.Load()
	if err := f.Handle(ctx, placed); err != nil {
		t.Fatalf("fulfil order %s: %v", res.ID, err)
	}
	if reads := store.reads.Load() - before; reads != 0 {
		t.Fatalf("the first delivery of order.placed read streams %d times, want none", reads)
	}
	if n := e.obs.conditionsFailed("product"); n != 0 {
		t.Fatalf("the first delivery: %d failed conditions on product appends, want none", n)
	}
	if n, held := stock(); n != 3 || held != 1 {
		t.Fatalf("after the order: stock %d with %d reservations, want 3 and 1", n, held)
	}

	if _, err := e.h.RequestCancel.Handle(as(u), commands.RequestCancel{OrderID: res.ID, Line: 1}); err != nil {
		t.Fatalf("RequestCancel: %v", err)
	}
	if _, err := e.h.ConfirmCancel.Handle(as(s), commands.ConfirmCancel{OrderID: res.ID, Line: 1}); err != nil {
		t.Fatalf("ConfirmCancel: %v", err)
	}
	recs := e.stream(order.StreamID(res.ID))
	if err := f.Handle(ctx, recs[len(recs)-1]); err != nil {
		t.Fatalf("fulfil %s: %v", recs[len(recs)-1].Type, err)
	}
	if n, held := stock(); n != 5 || held != 0 {
		t.Fatalf("after the cancel: stock %d with %d reservations, want 5 and 0", n, held)
	}

	// Late, in this process: its cache has the order ORDER, so nothing is read or reserved.
	before = store.reads.Load()
	if err := f.Handle(ctx, placed); err != nil {
		t.Fatalf("fulfil order.placed again: %v", err)
	}
	if n, held := stock(); n != 5 || held != 0 {
		t.Fatalf("after order.placed came again: stock %d with %d reservations, want 5 and 0", n, held)
	}
	if reads, n := store.reads.Load()-before, e.obs.conditionsFailed("product"); reads != 0 || n != 0 {
		t.Fatalf("the late delivery in the process that settled the order: %d reads, %d failed conditions; want none", reads, n)
	}
	// Late, in another process, which has nothing cached: the reservation's condition fails, the
	// order is read and found ORDER.
	other := commands.NewFulfilment(commands.NewRepos(store, cfg), commands.FulfilmentConfig{})
	if err := other.Handle(ctx, placed); err != nil {
		t.Fatalf("fulfil order.placed again in another process: %v", err)
	}
	if n, held := stock(); n != 5 || held != 0 {
		t.Fatalf("after order.placed came again to another process: stock %d with %d reservations, want 5 and 0", n, held)
	}
	if n := e.obs.conditionsFailed("product"); n != 1 {
		t.Fatalf("the late delivery in another process: %d failed conditions on product appends, want 1 (its reservation's)", n)
	}
	if got := count(typesOf(e.stream(order.StreamID(res.ID))), order.TypeConfirmed); got != 1 {
		t.Fatalf("order %s has %d order.confirmed events, want 1", res.ID, got)
	}
}

func typesOf(recs []eventstore.Record) []string {
	types := make([]string, len(recs))
	for i, r := range recs {
		types[i] = r.Type
	}
	return types
}

// TestFulfilmentRejectsAnOrderOfAMissingProduct hands the process manager an order.placed written
// around PlaceOrder (which refuses unknown products), naming a product that does not exist: the
// order is rejected NOT_ON_SALE instead of failing, which would have it delivered again for good
// and hold up every message behind it.
func TestFulfilmentRejectsAnOrderOfAMissingProduct(t *testing.T) {
	e := newEnv(t, commands.Config{})
	ctx := context.Background()
	id := uuid.New()
	data, err := json.Marshal(order.Placed{OrderID: id, UserID: uuid.New(), Total: 1, At: time.Now().UTC(),
		Address: address, Lines: []order.Line{{Number: 1, ProductID: uuid.New(), SellerID: uuid.New(), ProductName: "gone", UnitPrice: 1, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Append(ctx, order.StreamID(id), eventstore.NoStream, eventstore.EventData{ID: uuid.New(), Type: order.TypePlaced, Data: data}); err != nil {
		t.Fatalf("append order.placed: %v", err)
	}
	f := commands.NewFulfilment(e.repos, commands.FulfilmentConfig{})
	if err := f.Handle(ctx, e.stream(order.StreamID(id))[0]); err != nil {
		t.Fatalf("fulfil an order of a missing product: %v, want it rejected", err)
	}
	st, err := e.repos.Orders.Load(ctx, id)
	if err != nil || st.Value.Status != order.StatusReject || st.Value.RejectReason != product.CodeNotOnSale {
		t.Fatalf("order after fulfilment = %s %q, %v; want REJECT NOT_ON_SALE", st.Value.Status, st.Value.RejectReason, err)
	}
}

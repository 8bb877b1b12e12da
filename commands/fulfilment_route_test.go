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

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/bus/kafkatest"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	pg "github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/snapshot"
)

// conflictCounter counts the appends refused with a version conflict, per aggregate type.
type conflictCounter struct {
	commands.NopObserver
	mu sync.Mutex
	by map[string]int
}

func (c *conflictCounter) Conflict(stream string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[string]int{}
	}
	c.by[domain.AggregateType(stream)]++
}

func (c *conflictCounter) of(aggregate string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.by[aggregate]
}

// sagaProcess is one saga process's worth of the write side: its own pool, Repos, bus and
// process manager, on the rig's database and broker.
type sagaProcess struct {
	conflicts *conflictCounter
	placed    atomic.Int64 // order.placed messages its process manager handled
}

// startSaga starts a saga process on r's database and brokers: the process manager in the
// fulfilment group and, when routed, the stock request server and the reply listener.
func startSaga(t testing.TB, r *rig, brokers []string, routed bool) *sagaProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(r.ctx)
	pool, err := pg.Connect(ctx, r.pool.Config().ConnString())
	if err != nil {
		t.Fatalf("connect a second pool: %v", err)
	}
	p := &sagaProcess{conflicts: &conflictCounter{}}
	cfg := commands.Config{Snapshots: snapshot.New(pool), SnapshotEvery: 10, Observer: p.conflicts}
	repos := commands.NewRepos(postgres.New(pool), cfg)
	b := bus.New(bus.Config{Brokers: brokers})
	// A long StockWait: a slow answer (this machine is shared, and -race) must not make the
	// asker write the product itself; TestRoutedStockFallsBack... tests that.
	fcfg := commands.FulfilmentConfig{StockWait: 5 * time.Second}
	q := b.Requests()
	if routed {
		fcfg.Stock = q
	}
	f := commands.NewFulfilment(repos, fcfg)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		b.Close()
		pool.Close()
	})
	wg.Go(func() {
		_ = b.RunFulfilment(ctx, bus.HandlerFunc(func(ctx context.Context, rec eventstore.Record) error {
			err := f.Handle(ctx, rec)
			if err == nil && rec.Type == order.TypePlaced {
				p.placed.Add(1)
			}
			return err
		}))
	})
	if routed {
		wg.Go(func() { _ = q.ListenReplies(ctx) })
		wg.Go(func() { _ = q.Serve(ctx, f.ServeStock) })
	}
	return p
}

// hotCluster places orders of one unit on one hot product, with stock for three quarters of
// them, from 16 clients, through saga processes on one database and a Kafka broker, their stock
// requests routed to the product's one writer or (routed false) written by each process itself.
// It checks that every order settles and the stock arithmetic, and returns the version conflicts
// on the product stream in all the processes and how long the orders took to settle.
func hotCluster(t testing.TB, sagas int, routed bool, orders int) (conflicts int, took time.Duration) {
	c, err := kafkatest.Start(t, 0)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	brokers := c.ListenAddrs()
	r := newRig(t, brokers)
	var procs []*sagaProcess
	for range sagas {
		procs = append(procs, startSaga(t, r, brokers, routed))
	}
	productConflicts := func() int {
		n := 0
		for _, p := range procs {
			n += p.conflicts.of("product")
		}
		return n
	}

	// Every process consumes orders before the load starts.
	warm := r.product("warm-up", 1000)
	eventually(t, 60*time.Second, func() bool {
		if _, err := r.place(commands.PlaceOrderLine{ProductID: warm, Quantity: 1}); err != nil {
			t.Fatalf("place a warm-up order: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
		for _, p := range procs {
			if p.placed.Load() == 0 {
				return false
			}
		}
		return true
	}, func() string { return "the saga processes did not all handle orders" })
	before := productConflicts()

	stock := orders * 3 / 4
	hot := r.product("hot", stock)
	start := time.Now()
	var mu sync.Mutex
	var ids []uuid.UUID
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for range (orders + w) / 16 {
				id, err := r.place(commands.PlaceOrderLine{ProductID: hot, Quantity: 1})
				var refused *domain.Error
				if errors.As(err, &refused) {
					continue // sold out already
				} else if err != nil {
					t.Errorf("PlaceOrder on the hot product: %v", err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	settled := r.settle(ids, 120*time.Second)
	took = time.Since(start)

	confirmed := map[uuid.UUID]bool{}
	for id, status := range settled {
		if status == order.StatusOrder {
			confirmed[id] = true
		}
	}
	p := r.stock(hot)
	if len(confirmed) != stock || p.Stock != 0 || p.Reserved() != stock || len(p.Reservations) != stock {
		t.Fatalf("%d of %d placed orders confirmed, product stock %d, reserved %d in %d reservations; want %d confirmed, stock 0, %d reserved",
			len(confirmed), len(ids), p.Stock, p.Reserved(), len(p.Reservations), stock, stock)
	}
	for id := range p.Reservations {
		if !confirmed[id] {
			t.Fatalf("the hot product holds a reservation for order %s, which is not confirmed", id)
		}
	}
	return productConflicts() - before, took
}

// TestHotProductHasOneWriterAcrossSagaProcesses: with two saga processes on one database, stock
// requests routed through Kafka to the product's partition owner make the hot product's
// reservations without version conflicts, where each process writing the product itself fights
// the other. Both settle every order with exact stock.
func TestHotProductHasOneWriterAcrossSagaProcesses(t *testing.T) {
	var direct int
	var directTook time.Duration
	t.Run("direct", func(t *testing.T) { direct, directTook = hotCluster(t, 2, false, 240) })
	var routed int
	var routedTook time.Duration
	t.Run("routed", func(t *testing.T) { routed, routedTook = hotCluster(t, 2, true, 240) })
	t.Logf("version conflicts on the hot product with two saga processes: %d written by each process (settled in %s), %d routed to its writer (settled in %s)",
		direct, directTook.Round(time.Millisecond), routed, routedTook.Round(time.Millisecond))
	if routed > 2 {
		t.Fatalf("routed stock requests met %d version conflicts on the hot product, want at most 2", routed)
	}
}

// BenchmarkHotProductSagaProcesses places b.N one-unit orders on one hot product from 16 clients
// through one and two saga processes and a Kafka broker (kfake), with stock requests written by
// each process itself (direct) or routed to the product's one writer, and reports settled orders
// per second and the version conflicts on the product. Run it with
//
//	go test -run '^$' -bench HotProductSagaProcesses -benchtime 2000x ./commands/
func BenchmarkHotProductSagaProcesses(b *testing.B) {
	for _, routed := range []bool{false, true} {
		for _, sagas := range []int{1, 2} {
			name := fmt.Sprintf("direct/sagas=%d", sagas)
			if routed {
				name = fmt.Sprintf("routed/sagas=%d", sagas)
			}
			b.Run(name, func(b *testing.B) {
				conflicts, took := hotCluster(b, sagas, routed, max(b.N, 16))
				b.ReportMetric(float64(max(b.N, 16))/took.Seconds(), "orders/s")
				b.ReportMetric(float64(conflicts), "conflicts")
			})
		}
	}
}

// TestRoutedStockFallsBackAndLateRequestsChangeNothing: while no process serves the stock
// requests (the product's writer died and its partition is not yet handed over), the process
// manager waits StockWait and writes the products itself, so orders still settle. When a server
// comes, it carries out the requests left in the topic late, which changes nothing: the orders
// are REJECT and their reservations of A stay released.
func TestRoutedStockFallsBackAndLateRequestsChangeNothing(t *testing.T) {
	c, err := kafkatest.Start(t, 0)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	r := newRig(t, c.ListenAddrs())
	b := bus.New(bus.Config{Brokers: c.ListenAddrs()})
	t.Cleanup(func() { b.Close() })
	q := b.Requests()
	f := commands.NewFulfilment(r.repos, commands.FulfilmentConfig{Stock: q, StockWait: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(r.ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	wg.Go(func() { _ = q.ListenReplies(ctx) })
	wg.Go(func() { _ = b.RunFulfilment(ctx, f) })

	// A sorts first, so each order reserves A, is refused B's two units, and releases A.
	aID, bID := uuid.New(), uuid.New()
	aID[0], bID[0] = 0x00, 0xff
	a, bp := r.productID(aID, "A", 10), r.productID(bID, "B", 1)
	var ids []uuid.UUID
	for range 3 {
		id, err := r.place(commands.PlaceOrderLine{ProductID: a, Quantity: 1}, commands.PlaceOrderLine{ProductID: bp, Quantity: 2})
		if err != nil {
			t.Fatalf("PlaceOrder: %v", err)
		}
		ids = append(ids, id)
	}
	for id, status := range r.settle(ids, 60*time.Second) {
		if status != order.StatusReject {
			t.Fatalf("order %s is %s without a stock server, want REJECT (B has 1 of 2)", id, status)
		}
	}
	// A REJECT order's reservations are released after the reject.
	eventually(t, 30*time.Second, func() bool { p := r.stock(a); return p.Stock == 10 && len(p.Reservations) == 0 }, func() string {
		p := r.stock(a)
		return fmt.Sprintf("A after the rejects: stock %d, reservations %v; want 10 and none", p.Stock, p.Reservations)
	})

	// The server comes: the order placed now is answered after the late requests on A.
	wg.Go(func() { _ = q.Serve(ctx, f.ServeStock) })
	last, err := r.place(commands.PlaceOrderLine{ProductID: a, Quantity: 1})
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	if got := r.settle([]uuid.UUID{last}, 60*time.Second)[last]; got != order.StatusOrder {
		t.Fatalf("order on A after the server came = %s, want ORDER", got)
	}
	if p := r.stock(a); p.Stock != 9 || len(p.Reservations) != 1 || p.Reservations[last] != 1 {
		t.Fatalf("A at the end: stock %d, reservations %v; want 9, held by order %s alone", p.Stock, p.Reservations, last)
	}
}

// raceStore is the stock writer's store: it runs before once, right before the first append of a
// stock reservation, so that the asker's steps come between the writer's read of the product
// (and of the order) and its append.
type raceStore struct {
	eventstore.Store
	once   sync.Once
	before func()
}

func (s *raceStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	for _, e := range events {
		if e.Type == product.TypeStockReserved {
			s.once.Do(s.before)
		}
	}
	return s.Store.Append(ctx, stream, expected, events...)
}

// TestLateReservationAfterSettledOrderLeavesNoStock: a reservation request carried out late by
// the product's writer, whose asker settles the order between the writer's read of the order
// (PENDING) and its append, leaves no reservation: for a REJECT order whose reservation the
// asker made and released (the writer's append meets the release and decides again) or whose
// reservation was refused (the release changes nothing and leaves no event to meet), the stock is
// as it was; for an ORDER order whose line was delivered (the reservation committed), the stock
// is what the order spent.
func TestLateReservationAfterSettledOrderLeavesNoStock(t *testing.T) {
	const stock, qty = 5, 2
	for _, tc := range []struct {
		name      string
		reserve   bool // the asker's own reservation is made
		confirm   bool // the asker confirms and commits, else it rejects and releases
		status    order.Status
		wantStock int
	}{
		{"rejected after reserving and releasing", true, false, order.StatusReject, stock},
		{"rejected with its reservation refused", false, false, order.StatusReject, stock},
		{"confirmed and committed", true, true, order.StatusOrder, stock - qty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, commands.Config{})
			p := e.onSale(seller(), e.item(), "Runner 42", 1000, stock)
			placed, err := e.h.PlaceOrder.Handle(as(user()), commands.PlaceOrder{
				Address: order.Address{Receiver: "Kim", Address1: "1 Main St"},
				Lines:   []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: qty}},
			})
			if err != nil {
				t.Fatalf("PlaceOrder: %v", err)
			}
			orderID := placed.ID
			ctx := context.Background()
			system := commands.Meta{CorrelationID: uuid.New(), Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}}

			// The asker (e.repos, another process): its routed request got no answer in time, so
			// it reserved itself, or was refused, and settled the order.
			ranAsker := false
			onProduct := func(step string, decide func(product.Product, time.Time) ([]product.Event, error)) {
				if _, err := e.repos.Products.Update(ctx, p.ID, system, func(p product.Product) ([]product.Event, error) {
					return decide(p, time.Now().UTC())
				}); err != nil {
					t.Errorf("asker %s: %v", step, err)
				}
			}
			onOrder := func(step string, decide func(order.Order, time.Time) ([]order.Event, error)) {
				if _, err := e.repos.Orders.Update(ctx, orderID, system, func(o order.Order) ([]order.Event, error) {
					return decide(o, time.Now().UTC())
				}); err != nil {
					t.Errorf("asker %s: %v", step, err)
				}
			}
			asker := func() {
				ranAsker = true
				if tc.reserve {
					onProduct("reserve", func(p product.Product, at time.Time) ([]product.Event, error) { return p.Reserve(orderID, qty, at) })
				}
				if tc.confirm {
					onOrder("confirm", func(o order.Order, at time.Time) ([]order.Event, error) { return o.Confirm(at) })
					onProduct("commit", func(p product.Product, at time.Time) ([]product.Event, error) { return p.Commit(orderID, at) })
					return
				}
				onOrder("reject", func(o order.Order, at time.Time) ([]order.Event, error) { return o.Reject(product.CodeOutOfStock, at) })
				onProduct("release", func(p product.Product, at time.Time) ([]product.Event, error) { return p.Release(orderID, at) })
			}

			// The product's writer, in its own process, gets the request 2 s after it was sent.
			writer := commands.NewRepos(&raceStore{Store: e.store, before: asker}, commands.Config{Snapshots: e.snaps})
			f := commands.NewFulfilment(writer, commands.FulfilmentConfig{StockWait: 500 * time.Millisecond})
			payload, err := json.Marshal(map[string]any{
				"kind": 0, "product_id": p.ID, "order_id": orderID, "quantity": qty,
				"correlation_id": system.CorrelationID, "causation_id": system.CorrelationID,
				"actor_id": system.Actor.ID, "actor_role": system.Actor.Role,
				"sent_at": time.Now().Add(-2 * time.Second),
			})
			if err != nil {
				t.Fatalf("encode the request: %v", err)
			}
			answers := f.ServeStock(ctx, [][]byte{payload})
			if string(answers[0]) != `{}` {
				t.Fatalf("answer to the late reservation = %s, want {} (done)", answers[0])
			}
			if !ranAsker {
				t.Fatalf("the writer appended no reservation: the race was not run")
			}

			st, err := e.repos.Orders.Load(ctx, orderID)
			if err != nil || st.Value.Status != tc.status {
				t.Fatalf("order = %s, %v; want %s", st.Value.Status, err, tc.status)
			}
			if got := e.product(p.ID); got.Stock != tc.wantStock || len(got.Reservations) != 0 {
				t.Fatalf("product after the late reservation: stock %d, reservations %v; want %d and none (order %s is %s)",
					got.Stock, got.Reservations, tc.wantStock, orderID, tc.status)
			}
		})
	}
}

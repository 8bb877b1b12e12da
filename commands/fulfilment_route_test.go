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

	"github.com/IBM/sarama"
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
	served    atomic.Int64 // waves of stock requests its stock server carried out
	stop      func()       // stops the process: it leaves its consumer groups; idempotent
}

// startSaga starts a saga process on r's database and brokers: the process manager in the
// fulfilment group and, when routed, the stock request server and the reply listener. It runs
// until its stop is called or the test ends. Its process manager waits while gate is locked.
func startSaga(t testing.TB, r *rig, brokers []string, routed bool, gate *sync.RWMutex) *sagaProcess {
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
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			b.Close()
			pool.Close()
		})
	}
	t.Cleanup(p.stop)
	wg.Go(func() {
		_ = b.RunFulfilment(ctx, bus.HandlerFunc(func(ctx context.Context, rec eventstore.Record) error {
			gate.RLock()
			//lint:ignore SA2001 a gate: it only waits while the benchmark holds it locked
			gate.RUnlock()
			err := f.Handle(ctx, rec)
			if err == nil && rec.Type == order.TypePlaced {
				p.placed.Add(1)
			}
			return err
		}))
	})
	if routed {
		wg.Go(func() { _ = q.ListenReplies(ctx) })
		wg.Go(func() {
			_ = q.Serve(ctx, func(ctx context.Context, payloads [][]byte) [][]byte {
				p.served.Add(1)
				return f.ServeStock(ctx, payloads)
			})
		})
	}
	return p
}

// hotRig is a cluster of saga processes on one database and one Kafka broker (kfake), their
// stock requests routed to a product's one writer or (routed false) written by each process
// itself, and the rig that places orders and waits for their outcomes.
type hotRig struct {
	t       testing.TB
	r       *rig
	brokers []string
	routed  bool
	procs   []*sagaProcess // running
	warm    []uuid.UUID    // products the warm-up orders go to, besides the hot one
	gate    sync.RWMutex   // locked, the process managers wait
	kafka   sarama.Client  // reads the ends of the topics
}

func newHotRig(t testing.TB, sagas int, routed bool) *hotRig {
	c, err := kafkatest.Start(t, 0)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	h := &hotRig{t: t, brokers: c.ListenAddrs(), routed: routed}
	h.r = newRig(t, h.brokers)
	h.kafka, err = sarama.NewClient(h.brokers, sarama.NewConfig())
	if err != nil {
		t.Fatalf("connect to kfake: %v", err)
	}
	t.Cleanup(func() { h.kafka.Close() })
	for i := range 8 {
		h.warm = append(h.warm, h.r.product(fmt.Sprintf("warm-up %d", i), 1_000_000))
	}
	for range sagas {
		h.start()
	}
	return h
}

// start starts one more saga process; stop stops the last one started. The next turn waits for
// the consumer groups to settle on the processes then running.
func (h *hotRig) start() {
	h.procs = append(h.procs, startSaga(h.t, h.r, h.brokers, h.routed, &h.gate))
}

func (h *hotRig) stop() {
	last := h.procs[len(h.procs)-1]
	h.procs = h.procs[:len(h.procs)-1]
	last.stop()
}

func (h *hotRig) productConflicts() int {
	n := 0
	for _, p := range h.procs {
		n += p.conflicts.of("product")
	}
	return n
}

// placeHot places n orders of one unit on product hot from 16 clients and returns the ids of
// those placed (the rest were refused: sold out already).
func (h *hotRig) placeHot(hot uuid.UUID, n int) []uuid.UUID {
	var mu sync.Mutex
	var ids []uuid.UUID
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for range (n + 15 - w) / 16 {
				id, err := h.r.place(commands.PlaceOrderLine{ProductID: hot, Quantity: 1})
				var refused *domain.Error
				if errors.As(err, &refused) {
					continue // sold out already
				} else if err != nil {
					h.t.Errorf("PlaceOrder on the hot product: %v", err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if h.t.Failed() {
		h.t.FailNow()
	}
	return ids
}

// hotResult is what one phase of a turn measured.
type hotResult struct {
	orders    int           // placed
	conflicts int           // version conflicts on the product streams while the orders ran
	took      time.Duration // from the first order placed (clients) or the gate opening (backlog) until all settled
	cpu       time.Duration // CPU time this process (the test binary: every saga process and kfake) used meanwhile
}

// turn measures the saga processes running on one-unit orders on a hot product, twice: as 16
// clients place clientOrders of them (clients), and as a backlog of backlogOrders (placed while
// the process managers wait, all published to the broker, then let go), each on a new hot
// product with stock for three quarters of them. It first warms up: rounds of 16 orders on the first hot product and one on each
// warm-up product, until every process has handled an order and (routed) served stock requests
// since the last start or stop, and a round settles within a second (no rebalance is under way).
// It checks every order settles and the stock arithmetic of both products.
func (h *hotRig) turn(clientOrders, backlogOrders int) (clients, backlog hotResult) {
	r := h.r
	hot := r.product("hot", clientOrders*3/4)
	placed := make([]int64, len(h.procs))
	served := make([]int64, len(h.procs))
	for i, p := range h.procs {
		placed[i], served[i] = p.placed.Load(), p.served.Load()
	}
	var warm []uuid.UUID
	deadline := time.Now().Add(120 * time.Second)
	for {
		if time.Now().After(deadline) {
			h.t.Fatalf("the saga processes did not all handle orders within 120 s of the last start or stop")
		}
		start := time.Now()
		ids := h.placeHot(hot, 16)
		warm = append(warm, ids...)
		for _, w := range h.warm {
			id, err := r.place(commands.PlaceOrderLine{ProductID: w, Quantity: 1})
			if err != nil {
				h.t.Fatalf("place a warm-up order: %v", err)
			}
			ids = append(ids, id)
		}
		r.settle(ids, 120*time.Second)
		if time.Since(start) > time.Second {
			continue
		}
		ready := true
		for i, p := range h.procs {
			ready = ready && p.placed.Load() > placed[i] && (!h.routed || p.served.Load() > served[i])
		}
		if ready {
			break
		}
	}

	before := h.productConflicts()
	start, startCPU := time.Now(), processCPU()
	ids := h.placeHot(hot, clientOrders)
	h.r.settle(ids, 120*time.Second)
	clients = hotResult{orders: clientOrders, conflicts: h.productConflicts() - before, took: time.Since(start), cpu: processCPU() - startCPU}
	h.checkStock(hot, clientOrders*3/4, append(warm, ids...))

	hot = r.product("hot backlog", backlogOrders*3/4)
	end := h.orderTopicEnd()
	h.gate.Lock()
	ids = h.placeHot(hot, backlogOrders)
	for h.orderTopicEnd() < end+int64(len(ids)) {
		if time.Now().After(deadline) {
			h.gate.Unlock()
			h.t.Fatalf("the relay did not publish the backlog's %d orders within 120 s", len(ids))
		}
		time.Sleep(5 * time.Millisecond)
	}
	before = h.productConflicts()
	start, startCPU = time.Now(), processCPU()
	h.gate.Unlock()
	h.r.settle(ids, 120*time.Second)
	backlog = hotResult{orders: backlogOrders, conflicts: h.productConflicts() - before, took: time.Since(start), cpu: processCPU() - startCPU}
	h.checkStock(hot, backlogOrders*3/4, ids)
	return clients, backlog
}

// orderTopicEnd returns the number of messages in the order topic: the sum of its partitions'
// next offsets.
func (h *hotRig) orderTopicEnd() int64 {
	partitions, err := h.kafka.Partitions(bus.OrderTopic)
	if err != nil {
		h.t.Fatalf("list the partitions of %s: %v", bus.OrderTopic, err)
	}
	var n int64
	for _, p := range partitions {
		next, err := h.kafka.GetOffset(bus.OrderTopic, p, sarama.OffsetNewest)
		if err != nil {
			h.t.Fatalf("read the end of %s partition %d: %v", bus.OrderTopic, p, err)
		}
		n += next
	}
	return n
}

// checkStock checks that orders ids on product hot, with stock units at first, all settled, that
// as many were confirmed as there were units, and that the product holds exactly their
// reservations.
func (h *hotRig) checkStock(hot uuid.UUID, stock int, ids []uuid.UUID) {
	confirmed := map[uuid.UUID]bool{}
	for id, status := range h.r.settle(ids, 120*time.Second) {
		if status == order.StatusOrder {
			confirmed[id] = true
		}
	}
	p := h.r.stock(hot)
	if len(confirmed) != stock || p.Stock != 0 || p.Reserved() != stock || len(p.Reservations) != stock {
		h.t.Fatalf("%d of %d placed orders confirmed, product stock %d, reserved %d in %d reservations; want %d confirmed, stock 0, %d reserved",
			len(confirmed), len(ids), p.Stock, p.Reserved(), len(p.Reservations), stock, stock)
	}
	for id := range p.Reservations {
		if !confirmed[id] {
			h.t.Fatalf("the hot product holds a reservation for order %s, which is not confirmed", id)
		}
	}
}

// TestHotProductHasOneWriterAcrossSagaProcesses: with two saga processes on one database, stock
// requests routed through Kafka to the product's partition owner make the hot product's
// reservations without version conflicts, where each process writing the product itself fights
// the other. Both settle every order with exact stock.
func TestHotProductHasOneWriterAcrossSagaProcesses(t *testing.T) {
	var direct, routed int
	t.Run("direct", func(t *testing.T) {
		clients, backlog := newHotRig(t, 2, false).turn(240, 240)
		direct = clients.conflicts + backlog.conflicts
	})
	t.Run("routed", func(t *testing.T) {
		clients, backlog := newHotRig(t, 2, true).turn(240, 240)
		routed = clients.conflicts + backlog.conflicts
	})
	t.Logf("version conflicts on the hot product with two saga processes, 480 orders: %d written by each process, %d routed to its writer", direct, routed)
	if routed > 2 {
		t.Fatalf("routed stock requests met %d version conflicts on the hot product, want at most 2", routed)
	}
}

// hotTally adds up the turns of one phase of BenchmarkHotProductSagaProcesses by the number of
// saga processes that ran them.
type hotTally struct {
	took, cpu [3]time.Duration
	conflicts [3]int
	orders    [3]int
	minRatio  float64 // the lowest ratio two/one of a round
}

func (t *hotTally) add(sagas int, r hotResult) {
	t.took[sagas] += r.took
	t.cpu[sagas] += r.cpu
	t.conflicts[sagas] += r.conflicts
	t.orders[sagas] += r.orders
}

func (t *hotTally) perSecond(sagas int) float64 {
	return float64(t.orders[sagas]) / t.took[sagas].Seconds()
}

// round notes the ratio two/one of the round whose one- and two-process turns took one and two.
func (t *hotTally) round(one, two time.Duration) {
	if ratio := one.Seconds() / two.Seconds(); t.minRatio == 0 || ratio < t.minRatio {
		t.minRatio = ratio
	}
}

func (t *hotTally) report(b *testing.B, phase string) {
	orders := func(sagas int) float64 { return float64(t.orders[sagas]) }
	b.ReportMetric(t.perSecond(1), phase+"-orders/s-one")
	b.ReportMetric(t.perSecond(2), phase+"-orders/s-two")
	b.ReportMetric(t.perSecond(2)/t.perSecond(1), phase+"-two/one")
	b.ReportMetric(t.minRatio, phase+"-two/one-min-round")
	b.ReportMetric(float64(t.cpu[1].Microseconds())/orders(1), phase+"-cpu-µs/order-one")
	b.ReportMetric(float64(t.cpu[2].Microseconds())/orders(2), phase+"-cpu-µs/order-two")
	b.ReportMetric(float64(t.conflicts[1]), phase+"-conflicts-one")
	b.ReportMetric(float64(t.conflicts[2]), phase+"-conflicts-two")
}

// How many orders the clients place in a turn of BenchmarkHotProductSagaProcesses, and how many
// the backlog holds: enough that a turn takes about a second.
const (
	hotClientOrders  = 1000
	hotBacklogOrders = 3000
)

// BenchmarkHotProductSagaProcesses measures the orders per second that one and two saga
// processes settle on one hot product, in one run that alternates them, so that whatever else
// the machine does weighs on both alike: each of b.N iterations is two rounds of four turns, one
// process, two, two, one (a second process started or stopped between turns of different
// counts). A turn (hotRig.turn) places hotClientOrders one-unit orders on a hot product from 16
// clients (clients: PlaceOrder's pace bounds it), then hotBacklogOrders on another as a backlog
// that the process managers settle as fast as they can (backlog), through the whole path: PlaceOrder, the
// relay, a Kafka broker (kfake), the process managers, their stock requests routed to the
// product's one writer, or written by each process itself (direct). For each phase it reports
// the orders per second of one and two processes, their ratio two/one over all turns and the
// lowest of a round's, the CPU time the test binary spent per order (kfake and every process
// are in it; PostgreSQL is not), and the version conflicts on the products. Run it with
//
//	go test -run '^$' -bench HotProductSagaProcesses/routed -benchtime 1x ./commands/
func BenchmarkHotProductSagaProcesses(b *testing.B) {
	for _, routed := range []bool{true, false} {
		name := "direct"
		if routed {
			name = "routed"
		}
		b.Run(name, func(b *testing.B) {
			h := newHotRig(b, 1, routed)
			var clients, backlog hotTally
			for i := range b.N {
				for round := range 2 {
					var took [2][3]time.Duration // clients and backlog, by processes
					for _, sagas := range []int{1, 2, 2, 1} {
						for len(h.procs) < sagas {
							h.start()
						}
						for len(h.procs) > sagas {
							h.stop()
						}
						c, bl := h.turn(hotClientOrders, hotBacklogOrders)
						clients.add(sagas, c)
						backlog.add(sagas, bl)
						took[0][sagas] += c.took
						took[1][sagas] += bl.took
						b.Logf("round %d, %d saga process(es): clients %.0f orders/s, %.0f µs CPU/order, %d conflicts; backlog %.0f orders/s, %.0f µs CPU/order, %d conflicts",
							2*i+round+1, sagas,
							float64(c.orders)/c.took.Seconds(), float64(c.cpu.Microseconds())/float64(c.orders), c.conflicts,
							float64(bl.orders)/bl.took.Seconds(), float64(bl.cpu.Microseconds())/float64(bl.orders), bl.conflicts)
					}
					clients.round(took[0][1], took[0][2])
					backlog.round(took[1][1], took[1][2])
				}
			}
			clients.report(b, "clients")
			backlog.report(b, "backlog")
		})
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

// TestConditionalReservationServedOnlyWhileOrderUnmoved: a routed reservation of an order's first
// delivery carries the condition that the order's stream still ends with its order.placed. The
// product's writer makes it while that holds, and refuses it with a condition failure (the asker
// then reads the order) once the order has moved on, however the request's age, leaving the
// product as it was.
func TestConditionalReservationServedOnlyWhileOrderUnmoved(t *testing.T) {
	const stock, qty = 5, 2
	e := newEnv(t, commands.Config{})
	p := e.onSale(seller(), e.item(), "Runner 42", 1000, stock)
	f := commands.NewFulfilment(e.repos, commands.FulfilmentConfig{StockWait: 500 * time.Millisecond})
	ctx := context.Background()
	system := commands.Meta{CorrelationID: uuid.New(), Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}}
	productNow := func() product.Product {
		t.Helper()
		var events []product.Event
		for _, rec := range e.stream(product.StreamID(p.ID)) {
			ev, err := product.Decode(rec.Type, rec.Data)
			if err != nil {
				t.Fatalf("decode %s: %v", rec.Type, err)
			}
			events = append(events, ev)
		}
		return product.Fold(events...)
	}
	place := func() (uuid.UUID, []byte) {
		t.Helper()
		placed, err := e.h.PlaceOrder.Handle(as(user()), commands.PlaceOrder{
			Address: order.Address{Receiver: "Kim", Address1: "1 Main St"},
			Lines:   []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: qty}},
		})
		if err != nil {
			t.Fatalf("PlaceOrder: %v", err)
		}
		recs := e.stream(order.StreamID(placed.ID))
		payload, err := json.Marshal(map[string]any{
			"kind": 0, "product_id": p.ID, "order_id": placed.ID, "quantity": qty,
			"correlation_id": system.CorrelationID, "causation_id": system.CorrelationID,
			"actor_id": system.Actor.ID, "actor_role": system.Actor.Role,
			"sent_at": time.Now().Add(-2 * time.Second), // late: its asker gave up long ago
			"if":      []map[string]any{{"stream": recs[0].Stream, "version": recs[0].Version, "last": recs[0].ID}},
		})
		if err != nil {
			t.Fatalf("encode the request: %v", err)
		}
		return placed.ID, payload
	}

	unmoved, payload := place()
	if answers := f.ServeStock(ctx, [][]byte{payload}); string(answers[0]) != `{}` {
		t.Fatalf("answer to the reservation of an unmoved order = %s, want {} (done)", answers[0])
	}
	if got := productNow(); got.Stock != stock-qty || got.Reservations[unmoved] != qty {
		t.Fatalf("product after the reservation of an unmoved order: stock %d, reservations %v; want %d, %d held by %s",
			got.Stock, got.Reservations, stock-qty, qty, unmoved)
	}

	moved, payload := place()
	if _, err := e.repos.Orders.Update(ctx, moved, system, func(o order.Order) ([]order.Event, error) {
		return o.Reject(product.CodeOutOfStock, time.Now().UTC())
	}); err != nil {
		t.Fatalf("reject order %s: %v", moved, err)
	}
	var answer struct {
		Error *struct {
			ConditionFailed bool `json:"condition_failed"`
		} `json:"error"`
	}
	answers := f.ServeStock(ctx, [][]byte{payload})
	if err := json.Unmarshal(answers[0], &answer); err != nil || answer.Error == nil || !answer.Error.ConditionFailed {
		t.Fatalf("answer to the reservation of a rejected order = %s (%v), want a condition failure", answers[0], err)
	}
	if got := productNow(); got.Stock != stock-qty || len(got.Reservations) != 1 {
		t.Fatalf("product after the reservation of a rejected order: stock %d, reservations %v; want %d, held by %s alone",
			got.Stock, got.Reservations, stock-qty, unmoved)
	}
}

package httpapi_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/faultproxy"
	"github.com/commerce-dev/commerce/infra/postgres/pgserver"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// faultRequestTimeout is the servers' request deadline in the fault tests: shorter than the
// partition, so that requests meet it.
const faultRequestTimeout = 2 * time.Second

// faultRecovery is how soon after a fault's end every key must be answered: about a second. A key
// the server answers in a second on an idle machine takes a little longer while the tests of other
// packages, which make test runs beside this one, share its cores; the stalls this bound is for (a
// key held for its lease, a request held to its deadline) last seconds.
const faultRecovery = 1500 * time.Millisecond

// TestDatabaseFaults runs the whole process (API, projections, relay, process manager) with a TCP
// fault proxy between it and PostgreSQL while 8 clients place one-unit orders, each with its own
// Idempotency-Key, sent again with the same key until it is answered: 200 ms of latency, a silent
// partition longer than the request deadline, every connection reset twice, every connection reset
// and new ones refused. It checks that every key gets one order, answered within about a second
// of the fault's end (faultRecovery); that no request outlives its deadline by more than a second;
// that /readyz (database and event store) is 503 during the partition and 200 within a second
// after it; that every order settles with the stock exact; that a request that fails is 503 with
// Retry-After; and that goroutines come back to their level.
func TestDatabaseFaults(t *testing.T) {
	direct := pgtest.New(t)
	cc := direct.Config().ConnConfig
	proxy, err := faultproxy.Start(net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))))
	if err != nil {
		t.Fatalf("start the fault proxy: %v", err)
	}
	t.Cleanup(proxy.Close) // after the shop and its pool, which are cleaned up first
	pool, err := postgres.Connect(t.Context(), proxy.URL(direct.Config().ConnString()))
	if err != nil {
		t.Fatalf("connect through the fault proxy: %v", err)
	}
	t.Cleanup(pool.Close)
	const stock = 100_000
	l := newOrderLoad(t, pool, stock)
	goroutines := runtime.NumGoroutine() - proxy.Goroutines()
	l.start()
	time.Sleep(time.Second)
	l.fault("200 ms latency", func() { proxy.SetLatency(200 * time.Millisecond) }, time.Second, func() { proxy.SetLatency(0) })
	var readyDuring response
	l.fault("silent partition", func() { proxy.Partition(true) }, 3*time.Second+faultRequestTimeout/2, func() {
		readyDuring = l.e.do(req{method: "GET", path: "/readyz"}) // started during the partition, it ends with it
		proxy.Partition(false)
	})
	healed := time.Now()
	for l.e.do(req{method: "GET", path: "/readyz"}).status != 200 && time.Since(healed) < 10*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	readyAfter := time.Since(healed)
	l.fault("connections reset twice", func() { proxy.Reset(); time.Sleep(300 * time.Millisecond); proxy.Reset() }, 0, func() {})
	l.fault("connections refused", func() { mustProxy(t, proxy.Refuse(true)); proxy.Reset() }, time.Second, func() { mustProxy(t, proxy.Refuse(false)) })
	l.finish()

	if readyDuring.status == 200 {
		t.Errorf("/readyz during the partition: %s, want 503", readyDuring)
	}
	if readyAfter > time.Second {
		t.Errorf("/readyz took %s after the partition to answer 200, want within 1 s", readyAfter)
	}
	l.checkKeys(faultRecovery)
	placed, confirmed := l.checkOrders(direct, stock)
	if confirmed != placed {
		t.Errorf("%d of %d orders confirmed, want all: the stock (%d) covers them", confirmed, placed, stock)
	}
	// Goroutines back to their level: the proxy's own aside, a few for the pool's new
	// connections' context watchers and timers.
	var now int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if now = runtime.NumGoroutine() - proxy.Goroutines(); now <= goroutines+5 {
			break
		}
	}
	if now > goroutines+5 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines (the proxy's aside) after the faults, %d before:\n%s", now, goroutines, buf[:runtime.Stack(buf, true)])
	}
	l.report()
	t.Logf("/readyz 200 %s after the partition", readyAfter.Round(time.Millisecond))
}

// TestDatabaseRestart restarts a real PostgreSQL (a private server: the shared one must not be
// stopped) under 8 clients' order load, on a product with less stock than they order. It checks
// that no acknowledged order is lost, no key has two orders, every order settles, and the stock
// never goes below 0; and that every key is answered within a second of the server accepting
// connections again (the pool finds its dead connections one failed query at a time).
func TestDatabaseRestart(t *testing.T) {
	srv := pgserver.Start(t)
	ctx := t.Context()
	pool, err := postgres.Connect(ctx, srv.URL())
	if err != nil {
		t.Fatalf("connect to the private server: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, nil); err != nil {
		t.Fatalf("migrate the private server: %v", err)
	}
	const stock = 1000
	l := newOrderLoad(t, pool, stock)
	l.start()
	time.Sleep(2 * time.Second)
	l.fault("PostgreSQL restart", srv.Stop, time.Second, srv.Start)
	time.Sleep(time.Second)
	l.finish()
	l.checkKeys(time.Second)
	// The orders are read back on a connection of their own: the pool's may have died with the
	// server, and the test is about the orders.
	direct, err := pgxpool.New(ctx, srv.URL())
	if err != nil {
		t.Fatalf("connect to the private server: %v", err)
	}
	defer direct.Close()
	placed, confirmed := l.checkOrders(direct, stock)
	if placed > stock && confirmed != stock {
		t.Errorf("%d orders for %d units confirmed %d, want every unit sold", placed, stock, confirmed)
	}
	l.report()
}

// orderLoad is the shop on a pool, clients placing one-unit orders of one product, and the faults
// put on it.
type orderLoad struct {
	t       *testing.T
	e       *env
	product uuid.UUID
	users   []account
	addrs   []uuid.UUID
	windows []faultWindow
	stop    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	keys    []keyRun
	longest time.Duration
	slow    []string
	failed  []time.Time // when each failed request ended
	answers map[int]int // failed requests by status
}

// keyRun is one client's order under one Idempotency-Key, sent until it is answered.
type keyRun struct {
	first, answered time.Time
	order           uuid.UUID
	attempts        int
}

// faultWindow is when a fault was on.
type faultWindow struct {
	name       string
	start, end time.Time
}

// newOrderLoad runs the shop on pool with a server whose request deadline is
// faultRequestTimeout, a product with stock units, and 8 users with an address each.
func newOrderLoad(t *testing.T, pool *pgxpool.Pool, stock int) *orderLoad {
	t.Helper()
	s := newShopOn(t, pool)
	e := s.server(t, func(d *httpapi.Deps, _ *auth.Config) {
		d.Config.RequestTimeout = faultRequestTimeout
		d.Ready = []httpapi.Check{{Name: "database", Ping: pool.Ping}, {Name: "eventstore", Ping: s.store.Ping}}
	})
	sup, sel := e.supervisor(), e.seller()
	product, _ := e.product(sel, e.catalog(sup).item, 1000, stock)
	l := &orderLoad{t: t, e: e, product: product, stop: make(chan struct{}), answers: map[int]int{}}
	for range 8 {
		u := e.user()
		l.users, l.addrs = append(l.users, u), append(l.addrs, e.address(u))
	}
	e.expect(req{method: "GET", path: "/readyz"}, 200)
	return l
}

// start starts the clients: each sends a new order with a new key, and the same request again
// after a failure until it is answered.
func (l *orderLoad) start() {
	for i := range l.users {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.place(l.users[i], l.addrs[i])
			}
		})
	}
}

func (l *orderLoad) place(u account, addr uuid.UUID) {
	k := keyRun{first: time.Now()}
	header := map[string]string{"Idempotency-Key": uuid.NewString()}
	body := map[string]any{"address_id": addr, "lines": []orderLine{{l.product, 1}}}
	for k.answered.IsZero() && time.Since(k.first) < 60*time.Second {
		k.attempts++
		start := time.Now()
		r := l.e.do(req{method: "POST", path: "/api/v1/orders", token: u.tokens.AccessToken, body: body, header: header})
		took := time.Since(start)
		var o httpapi.OrderView
		// 202 is the order; 422 a refusal once the product sold out, an answer too.
		ok := r.status == 202 && decodeData(r, &o) == nil || r.status == 422 && r.env.Result.Code == 422
		l.mu.Lock()
		l.longest = max(l.longest, took)
		if took > faultRequestTimeout+time.Second {
			l.slow = append(l.slow, fmt.Sprintf("%s at %s: %s", took, start.Format("15:04:05.000"), r))
		}
		if !ok {
			l.failed = append(l.failed, time.Now())
			l.answers[r.status]++
		}
		l.mu.Unlock()
		if ok {
			k.answered, k.order = time.Now(), o.ID
			break
		}
		if r.status != 503 || r.header.Get("Retry-After") == "" {
			l.t.Errorf("POST /orders: %s (Retry-After %q), want 202, or during a fault 503 with Retry-After", r, r.header.Get("Retry-After"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.mu.Lock()
	l.keys = append(l.keys, k)
	l.mu.Unlock()
}

// fault turns a fault on, holds it, turns it off, and lets the load run a second more.
func (l *orderLoad) fault(name string, on func(), hold time.Duration, off func()) {
	w := faultWindow{name: name, start: time.Now()}
	on()
	time.Sleep(hold)
	off()
	w.end = time.Now()
	l.windows = append(l.windows, w)
	time.Sleep(time.Second)
}

// finish stops the clients once each has its current key answered.
func (l *orderLoad) finish() {
	close(l.stop)
	l.wg.Wait()
}

// checkKeys checks that every key was answered, with its own order, within recover of the end of
// the last fault that began before the answer, and that no request outlived its deadline by more
// than a second.
func (l *orderLoad) checkKeys(recover time.Duration) {
	t := l.t
	if len(l.slow) > 0 {
		t.Errorf("%d requests outlived their %s deadline by more than 1 s: %v", len(l.slow), faultRequestTimeout, l.slow)
	}
	orders := map[uuid.UUID]bool{}
	var late []string
	for _, k := range l.keys {
		if k.answered.IsZero() {
			t.Errorf("a key first sent at %s was not answered in 60 s (%d attempts)", k.first.Format("15:04:05.000"), k.attempts)
			continue
		}
		if k.order != uuid.Nil && orders[k.order] {
			t.Errorf("two keys answered order %s", k.order)
		}
		orders[k.order] = true
		due := k.first
		for _, w := range l.windows {
			if w.start.Before(k.answered) && w.end.After(due) {
				due = w.end
			}
		}
		if wait := k.answered.Sub(due); k.answered.Sub(k.first) > recover && wait > recover {
			late = append(late, fmt.Sprintf("key first sent %s answered %s after the fault's end (%d attempts)", k.first.Format("15:04:05.000"), wait, k.attempts))
		}
	}
	if len(late) > 0 {
		t.Errorf("%d of %d keys answered more than %s after the fault's end: %v", len(late), len(l.keys), recover, late)
	}
}

// checkOrders checks on db that the orders placed are exactly those the keys were answered with,
// that each settles, and that the product's stock is what it had less the units confirmed, never
// below 0. It returns how many orders were placed and confirmed.
func (l *orderLoad) checkOrders(db *pgxpool.Pool, stock int) (placed, confirmed int) {
	t := l.t
	ctx := context.Background()
	answered := map[uuid.UUID]bool{}
	for _, k := range l.keys {
		answered[k.order] = true
	}
	rows, err := db.Query(ctx, `SELECT (data->>'order_id')::uuid FROM events WHERE type = $1`, order.TypePlaced)
	if err != nil {
		t.Fatalf("read order.placed: %v", err)
	}
	seen := map[uuid.UUID]bool{}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("read order.placed: %v", err)
		}
		if id == uuid.Nil || !answered[id] {
			t.Errorf("order %s was placed but no key was answered with it", id)
		}
		seen[id] = true
		placed++
	}
	if rows.Err() != nil {
		t.Fatalf("read order.placed: %v", rows.Err())
	}
	for id := range answered {
		if id != uuid.Nil && !seen[id] {
			t.Errorf("order %s was acknowledged but is not in the log", id)
		}
	}
	eventually(t, 60*time.Second, "every order settled", func() bool {
		var settled int
		err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE type = $1), count(*) FROM events WHERE type IN ($1, $2)`,
			order.TypeConfirmed, order.TypeRejected).Scan(&confirmed, &settled)
		return err == nil && settled == placed
	})
	if confirmed > stock {
		t.Errorf("%d orders of one unit confirmed, the stock was %d", confirmed, stock)
	}
	eventually(t, 30*time.Second, fmt.Sprintf("the product's stock at %d less %d confirmed", stock, confirmed), func() bool {
		var p httpapi.ProductView
		r := l.e.do(req{method: "GET", path: "/api/v1/products/" + l.product.String()})
		return r.status == 200 && decodeData(r, &p) == nil && p.Stock == stock-confirmed && p.Stock >= 0
	})
	return placed, confirmed
}

// report logs what each fault cost: the first failed request after it began (detect), and when
// the last key pending at its end was answered (recover).
func (l *orderLoad) report() {
	slices.SortFunc(l.failed, time.Time.Compare)
	for _, w := range l.windows {
		detect, recovered := "none failed", time.Duration(0)
		if i, _ := slices.BinarySearchFunc(l.failed, w.start, time.Time.Compare); i < len(l.failed) && l.failed[i].Before(w.end.Add(time.Second)) {
			detect = l.failed[i].Sub(w.start).Round(time.Millisecond).String()
		}
		for _, k := range l.keys {
			if k.first.Before(w.end) && k.answered.After(w.end) {
				recovered = max(recovered, k.answered.Sub(w.end))
			}
		}
		l.t.Logf("%-24s lasted %6s: first failed request after %s; every key pending at its end answered %s after it",
			w.name, w.end.Sub(w.start).Round(time.Millisecond), detect, recovered.Round(time.Millisecond))
	}
	l.t.Logf("%d keys answered, %d failed requests %v (status: count), longest request %s (deadline %s)",
		len(l.keys), len(l.failed), l.answers, l.longest.Round(time.Millisecond), faultRequestTimeout)
}

func mustProxy(t *testing.T, err error) {
	if err != nil {
		t.Errorf("fault proxy: %v", err)
	}
}

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

	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/faultproxy"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// faultRequestTimeout is the servers' request deadline in the fault test: shorter than the
// partition, so that requests meet it.
const faultRequestTimeout = 2 * time.Second

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

// TestDatabaseFaults runs the whole process (API, projections, relay, process manager) with a TCP
// fault proxy between it and PostgreSQL while 8 clients place one-unit orders, each with its own
// Idempotency-Key, sent again with the same key until it is answered: 200 ms of latency, a silent
// partition longer than the request deadline, every connection reset twice, every connection reset
// and new ones refused. It checks that every key gets one order, answered within a second of the
// fault's end; that no request outlives its deadline by more than a second; that /readyz (database
// and event store) is 503 during the partition and 200 within a second after it; that every order
// settles with the stock exact; and that goroutines come back to their level.
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
	s := newShopOn(t, pool)
	e := s.server(t, func(d *httpapi.Deps, _ *auth.Config) {
		d.Config.RequestTimeout = faultRequestTimeout
		d.Ready = []httpapi.Check{{Name: "database", Ping: pool.Ping}, {Name: "eventstore", Ping: s.store.Ping}}
	})
	sup, sel := e.supervisor(), e.seller()
	const stock = 100_000
	product, _ := e.product(sel, e.catalog(sup).item, 1000, stock)
	const clients = 8
	users := make([]account, clients)
	addrs := make([]uuid.UUID, clients)
	for i := range users {
		users[i] = e.user()
		addrs[i] = e.address(users[i])
	}
	e.expect(req{method: "GET", path: "/readyz"}, 200)
	goroutines := runtime.NumGoroutine() - proxy.Goroutines()

	var (
		mu      sync.Mutex
		keys    []keyRun
		longest time.Duration
		slow    []string
		failed  []time.Time // when each failed request ended
		answers = map[int]int{}
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for i := range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := keyRun{first: time.Now()}
				header := map[string]string{"Idempotency-Key": uuid.NewString()}
				body := map[string]any{"address_id": addrs[i], "lines": []orderLine{{product, 1}}}
				for k.answered.IsZero() && time.Since(k.first) < 60*time.Second {
					k.attempts++
					start := time.Now()
					r := e.do(req{method: "POST", path: "/api/v1/orders", token: users[i].tokens.AccessToken, body: body, header: header})
					took := time.Since(start)
					mu.Lock()
					longest = max(longest, took)
					if took > faultRequestTimeout+time.Second {
						slow = append(slow, fmt.Sprintf("%s at %s: %s", took, start.Format("15:04:05.000"), r))
					}
					mu.Unlock()
					var o httpapi.OrderView
					if r.status == 202 && decodeData(r, &o) == nil {
						k.answered, k.order = time.Now(), o.ID
						break
					}
					mu.Lock()
					failed = append(failed, time.Now())
					answers[r.status]++
					mu.Unlock()
					if r.status != 503 && r.status != 500 {
						t.Errorf("POST /orders: %s, want 202, or 503/500 during a fault", r)
					}
					time.Sleep(20 * time.Millisecond)
				}
				mu.Lock()
				keys = append(keys, k)
				mu.Unlock()
			}
		})
	}

	var windows []faultWindow
	fault := func(name string, on func(), hold time.Duration, off func()) {
		w := faultWindow{name: name, start: time.Now()}
		on()
		time.Sleep(hold)
		off()
		w.end = time.Now()
		windows = append(windows, w)
		time.Sleep(time.Second)
	}
	time.Sleep(time.Second)
	fault("200 ms latency", func() { proxy.SetLatency(200 * time.Millisecond) }, time.Second, func() { proxy.SetLatency(0) })
	var readyDuring response
	fault("silent partition", func() { proxy.Partition(true) }, 3*time.Second+faultRequestTimeout/2, func() {
		readyDuring = e.do(req{method: "GET", path: "/readyz"}) // started during the partition, it ends with it
		proxy.Partition(false)
	})
	healed := time.Now()
	var readyAfter time.Duration
	for e.do(req{method: "GET", path: "/readyz"}).status != 200 && time.Since(healed) < 10*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	readyAfter = time.Since(healed)
	fault("connections reset twice", func() { proxy.Reset(); time.Sleep(300 * time.Millisecond); proxy.Reset() }, 0, func() {})
	fault("connections refused", func() { mustProxy(t, proxy.Refuse(true)); proxy.Reset() }, time.Second, func() { mustProxy(t, proxy.Refuse(false)) })
	close(stop)
	wg.Wait()

	if readyDuring.status == 200 {
		t.Errorf("/readyz during the partition: %s, want 503", readyDuring)
	}
	if readyAfter > time.Second {
		t.Errorf("/readyz took %s after the partition to answer 200, want within 1 s", readyAfter)
	}
	if len(slow) > 0 {
		t.Errorf("%d requests outlived their %s deadline by more than 1 s: %v", len(slow), faultRequestTimeout, slow)
	}
	orders := map[uuid.UUID]bool{}
	var late []string
	for _, k := range keys {
		if k.answered.IsZero() {
			t.Errorf("a key first sent at %s was not answered in 60 s (%d attempts)", k.first.Format("15:04:05.000"), k.attempts)
			continue
		}
		if orders[k.order] {
			t.Errorf("two keys answered order %s", k.order)
		}
		orders[k.order] = true
		due := k.first
		for _, w := range windows {
			if w.start.Before(k.answered) {
				due = later(due, w.end)
			}
		}
		if wait := k.answered.Sub(due); k.answered.After(k.first.Add(time.Second)) && wait > time.Second {
			late = append(late, fmt.Sprintf("key first sent %s answered %s after the fault's end (%d attempts)", k.first.Format("15:04:05.000"), wait, k.attempts))
		}
	}
	if len(late) > 0 {
		t.Errorf("%d of %d keys answered more than 1 s after the fault's end: %v", len(late), len(keys), late)
	}

	// Every order acknowledged is in the log once, nothing else was placed, and each settles.
	ctx := context.Background()
	var placed []uuid.UUID
	rows, err := direct.Query(ctx, `SELECT (data->>'order_id')::uuid FROM events WHERE type = $1`, order.TypePlaced)
	if err != nil {
		t.Fatalf("read order.placed: %v", err)
	}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("read order.placed: %v", err)
		}
		placed = append(placed, id)
	}
	if rows.Err() != nil {
		t.Fatalf("read order.placed: %v", rows.Err())
	}
	for _, id := range placed {
		if !orders[id] {
			t.Errorf("order %s was placed but no key was answered with it", id)
		}
	}
	if len(placed) != len(orders) {
		t.Errorf("%d orders placed, %d keys answered with distinct orders; want as many", len(placed), len(orders))
	}
	var confirmed int
	eventually(t, 60*time.Second, "every order settled", func() bool {
		var settled int
		err := direct.QueryRow(ctx, `SELECT count(*) FILTER (WHERE type = $1), count(*) FROM events WHERE type IN ($1, $2)`,
			order.TypeConfirmed, order.TypeRejected).Scan(&confirmed, &settled)
		return err == nil && settled == len(placed)
	})
	if confirmed != len(placed) {
		t.Errorf("%d of %d orders confirmed, want all: the stock (%d) covers them", confirmed, len(placed), stock)
	}
	var left int
	eventually(t, 30*time.Second, "the product's stock in the read model", func() bool {
		var p httpapi.ProductView
		r := e.do(req{method: "GET", path: "/api/v1/products/" + product.String()})
		if r.status != 200 || decodeData(r, &p) != nil {
			return false
		}
		left = p.Stock
		return left == stock-confirmed
	})

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
	// What each fault cost: the first failed request after it began (detect), the last key
	// pending at its end answered (recover).
	slices.SortFunc(failed, time.Time.Compare)
	for _, w := range windows {
		detect, recovered := "none failed", time.Duration(0)
		if i, _ := slices.BinarySearchFunc(failed, w.start, time.Time.Compare); i < len(failed) && failed[i].Before(w.end.Add(time.Second)) {
			detect = failed[i].Sub(w.start).Round(time.Millisecond).String()
		}
		for _, k := range keys {
			if k.first.Before(w.end) && k.answered.After(w.end) {
				recovered = max(recovered, k.answered.Sub(w.end))
			}
		}
		t.Logf("%-24s lasted %6s: first failed request after %s; every key pending at its end answered %s after it",
			w.name, w.end.Sub(w.start).Round(time.Millisecond), detect, recovered.Round(time.Millisecond))
	}
	t.Logf("%d keys, %d orders, %d failed requests %v (status: count), longest request %s (deadline %s), /readyz 200 %s after the partition",
		len(keys), len(placed), len(failed), answers, longest.Round(time.Millisecond), faultRequestTimeout, readyAfter.Round(time.Millisecond))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func mustProxy(t *testing.T, err error) {
	if err != nil {
		t.Errorf("fault proxy: %v", err)
	}
}

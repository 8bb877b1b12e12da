package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/bench"
	"github.com/commerce-dev/commerce/infra/eventstore"
	pgstore "github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// benchStreams is how many live streams BenchmarkLiveStreams holds open at once.
const benchStreams = 1000

// BenchmarkLiveStreams opens 1,000 order streams on one server, each over its own connection,
// and reports what holding them costs the process once each has its first message: the heap and
// the goroutine stacks in use after a GC, and the resident set, each against the same process
// before. The clients are bare sockets in the same process that read nothing more, so the
// figures are the server's cost plus 1,000 client sockets.
//
//	go test -run '^$' -bench LiveStreams -benchtime 1x ./httpapi/
func BenchmarkLiveStreams(b *testing.B) {
	addr, token, orders := benchLiveServer(b)
	for b.Loop() {
		before := memNow()
		conns := make([]net.Conn, 0, benchStreams)
		for i := range benchStreams {
			conns = append(conns, openRawStream(b, addr, token, orders[i%len(orders)]))
		}
		after := memNow()
		b.ReportMetric(float64(after.heap+after.stacks-before.heap-before.stacks)/(1<<20), "heap+stacks-MiB/1000streams")
		b.ReportMetric(float64(after.rss-before.rss)/(1<<20), "RSS-MiB/1000streams")
		b.ReportMetric(float64(after.goroutines-before.goroutines)/benchStreams, "goroutines/stream")
		for _, c := range conns {
			c.Close()
		}
	}
}

// BenchmarkLiveOrders places orders through the event-sourced path of `commerce bench` (the
// command handlers, the relay, the in-process bus and the fulfilment, each order waited for until
// it is settled; 16 workers, one line each, spread over 1,000 products) on the server's database
// in four turns of 4 s: with no live stream open, twice while 1,000 order streams are open on the
// server (in the same process, following the log), and again without them, so that a drift of
// the machine or the database over the run weighs on both alike. It reports both rates and their
// ratio.
//
//	go test -run '^$' -bench LiveOrders -benchtime 1x -count 3 ./httpapi/
func BenchmarkLiveOrders(b *testing.B) {
	addr, token, orders, pool := benchLiveServerOn(b, pgtest.NewDurable(b))
	ctx := context.Background()
	es, err := bench.NewEventSourced(ctx, pool, bench.EventSourcedConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer es.Close()
	stocks := make([]int, 1000)
	for i := range stocks {
		stocks[i] = 1_000_000
	}
	products, err := es.AddProducts(ctx, stocks)
	if err != nil {
		b.Fatal(err)
	}
	rate := func() float64 {
		var placed atomic.Int64
		deadline := time.Now().Add(4 * time.Second)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
				for time.Now().Before(deadline) {
					o := bench.Order{ID: uuid.New(), UserID: uuid.New(), Lines: []bench.Line{{ProductID: products[rng.IntN(len(products))], Quantity: 1}}}
					if ok, err := es.Place(ctx, o); err != nil || !ok {
						b.Errorf("place %s: accepted %t, %v", o.ID, ok, err)
						return
					}
					placed.Add(1)
				}
			})
		}
		start := time.Now()
		wg.Wait()
		return float64(placed.Load()) / time.Since(start).Seconds()
	}
	for b.Loop() {
		without := rate() / 2
		conns := make([]net.Conn, 0, benchStreams)
		for i := range benchStreams {
			conns = append(conns, openRawStream(b, addr, token, orders[i%len(orders)]))
		}
		with := (rate() + rate()) / 2
		for _, c := range conns {
			c.Close()
		}
		without += rate() / 2
		b.ReportMetric(without, "orders/s-no-streams")
		b.ReportMetric(with, "orders/s-1000-streams")
		b.ReportMetric(with/without, "ratio")
	}
}

// BenchmarkLiveFanOut is the work the live streams add to each event of the log while 1,000
// streams are open (as 1,000 shoppers each following their own order): the hub's fan-out of an
// event of a followed order (decoded, applied to the order's state and queued to its stream) and
// of an order no stream follows (skipped). It runs on the hub's goroutine, beside the order path.
func BenchmarkLiveFanOut(b *testing.B) {
	h := newLiveHub(nil, nil)
	h.running = true // fed by hand below, not by a log
	for range benchStreams - 1 {
		if _, _, err := h.subscribe(context.Background(), liveKey{order: uuid.New()}, nil); err != nil {
			b.Fatal(err)
		}
	}
	followed := uuid.New()
	mine, _, err := h.subscribe(context.Background(), liveKey{order: followed}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		order uuid.UUID
	}{{"followed order", followed}, {"order nobody follows", uuid.New()}} {
		b.Run(bc.name, func(b *testing.B) {
			rec := eventstore.Record{ID: uuid.New(), Type: order.TypePlaced, Data: benchPlaced(bc.order, uuid.New()),
				Stream: order.StreamID(bc.order), Version: 1}
			ctx := context.Background()
			for b.Loop() {
				rec.Position++
				if err := h.fanOut(ctx, []eventstore.Record{rec}); err != nil {
					b.Fatal(err)
				}
				if bc.order == followed {
					<-mine.ch
				}
			}
		})
	}
}

// benchLiveServer serves a server with a few placed orders on a fresh database and returns its
// address, a SUPERVISOR's token (who may follow any order) and the orders.
func benchLiveServer(b *testing.B) (string, string, []uuid.UUID) {
	addr, token, orders, _ := benchLiveServerOn(b, pgtest.New(b))
	return addr, token, orders
}

// benchLiveServerOn is benchLiveServer on pool; it returns pool too.
func benchLiveServerOn(b *testing.B, pool *pgxpool.Pool) (string, string, []uuid.UUID, *pgxpool.Pool) {
	store := pgstore.New(pool)
	svc, err := auth.New(pool, auth.Config{Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1}, Secrets: auth.Secrets{
		User: "user-secret-for-bench-0123456789abcdef", Seller: "seller-secret-for-bench-0123456789abcdef",
		Supervisor: "supervisor-secret-for-bench-0123456789abcdef"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	email := "bench-" + uuid.NewString()[:8] + "@example.com"
	if _, err := svc.EnsureSupervisor(ctx, auth.NewAccount{Name: "Bench", Email: email, Password: "abcd123!"}); err != nil {
		b.Fatal(err)
	}
	pair, err := svc.Login(ctx, email, "abcd123!", "SUPERVISOR")
	if err != nil {
		b.Fatal(err)
	}
	var orders []uuid.UUID
	for range 10 {
		id := uuid.New()
		_, err := store.Append(ctx, order.StreamID(id), eventstore.NoStream, eventstore.EventData{
			ID: uuid.New(), Type: order.TypePlaced, Data: benchPlaced(id, uuid.New())})
		if err != nil {
			b.Fatal(err)
		}
		orders = append(orders, id)
	}
	// No read models: the streams' first messages are the orders' streams folded.
	app := New(Deps{Auth: svc, Store: store, Config: Config{LiveStreamsPerAccount: 2 * benchStreams}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	b.Cleanup(func() { _ = app.ShutdownWithTimeout(10 * time.Second) })
	return ln.Addr().String(), pair.AccessToken, orders, pool
}

func benchPlaced(id, user uuid.UUID) []byte {
	return []byte(fmt.Sprintf(`{"order_id":%q,"user_id":%q,"address":{},"lines":[{"number":1,"product_id":%q,"seller_id":%q,"product_name":"Bench","unit_price":1000,"quantity":1}],"total":1000,"at":"2026-01-01T00:00:00Z"}`,
		id, user, uuid.New(), uuid.New()))
}

// openRawStream opens one order stream over a bare connection and returns it once the state
// message has arrived.
func openRawStream(b *testing.B, addr, token string, id uuid.UUID) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatalf("dial: %v", err)
	}
	fmt.Fprintf(c, "GET /api/v1/orders/%s/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", id, token)
	r := bufio.NewReaderSize(c, 4096)
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		b.Fatalf("open stream: %q %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("read stream: %v", err)
		}
		if strings.HasPrefix(line, "event: state") {
			return c
		}
	}
}

type memSample struct {
	heap, stacks, rss uint64
	goroutines        int
}

// memNow samples the process's memory after a GC.
func memNow() memSample {
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := memSample{heap: m.HeapInuse, stacks: m.StackInuse, goroutines: runtime.NumGoroutine()}
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				s.rss = kb << 10
			}
		}
	}
	return s
}

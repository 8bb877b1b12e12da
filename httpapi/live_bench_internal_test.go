package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
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
			c, _, err := openRawStream(addr, token, "/api/v1/orders/"+orders[i%len(orders)].String()+"/events", "")
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
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

// Turns of BenchmarkLiveOrders: without (false) and with (true) the streams open, in the order
// ABBA ABBA, so that a drift of the shared machine over the run weighs on both alike.
var benchTurns = []bool{false, true, true, false, false, true, true, false}

const (
	// benchTurn is how long each turn places orders.
	benchTurn = 3 * time.Second
	// benchWorkers place orders at once, each one order at a time, as `commerce bench` workers.
	benchWorkers = 16
	// benchSellerStreams of the streams follow the seller of every bench product; the others follow
	// one order each.
	benchSellerStreams = 2
)

// BenchmarkLiveOrders is what 1,000 open live streams cost the order path of `commerce bench`.
// Orders go through that path (the PlaceOrder handler, the relay, the in-process bus and the
// fulfilment, each order waited for until it is settled; 16 workers, one line each, spread over
// 1,000 products), in the same process as a server whose live streams follow the same tail of
// the log, as in serve. The run alternates turns of 3 s without and with 1,000 streams open (ABBA
// ABBA), so that the noise of the shared machine weighs on both alike, and reports the orders/s
// of each and their ratio.
//
// The streams are real SSE connections, each read by its own client goroutine in the same
// process: 998 shoppers following an order each (orders placed in a warm-up before the turns, so
// idle), and 2 streams of the seller of every product (resuming from the log's head), which get
// a message for each order the turns place and another when it is confirmed; seller-msgs/order
// shows they did. A stream the server ends (as lagging) fails the benchmark.
//
//	go test -run '^$' -bench LiveOrders -benchtime 1x -count 3 ./httpapi/
func BenchmarkLiveOrders(b *testing.B) {
	pool := pgtest.NewDurable(b)
	ctx := context.Background()
	es, err := bench.NewEventSourced(ctx, pool, bench.EventSourcedConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer es.Close()
	// No read models, as in the order path measured: the shoppers' first messages are their orders'
	// streams folded, and the seller streams resume from the log's head (Last-Event-ID).
	addr, token := benchServe(b, pool, Deps{Live: es.Log()})
	stocks := make([]int, 1000)
	for i := range stocks {
		stocks[i] = 1_000_000
	}
	products, err := es.AddProducts(ctx, stocks)
	if err != nil {
		b.Fatal(err)
	}
	// The warm-up places the orders the shoppers follow.
	_, followed := placeOrders(b, es, products, benchTurn, benchStreams)
	if b.Failed() {
		return
	}
	store := pgstore.New(pool)
	recs, err := store.ReadStream(ctx, order.StreamID(followed[0]), 1, 0)
	if err != nil {
		b.Fatal(err)
	}
	first, err := foldOrder(recs)
	if err != nil {
		b.Fatal(err)
	}
	seller := first.Lines[0].SellerID
	for b.Loop() {
		var without, with []float64
		var streams *benchStreamSet
		var withOrders int
		var sellerMsgs int64
		for _, open := range benchTurns {
			switch {
			case open && streams == nil:
				head, err := store.Head(ctx)
				if err != nil {
					b.Fatal(err)
				}
				streams = openBenchStreams(b, addr, token, followed[:benchStreams-benchSellerStreams], seller, head)
			case !open && streams != nil:
				sellerMsgs += streams.close(b)
				streams = nil
			}
			rate, placed := placeOrders(b, es, products, benchTurn, 0)
			if b.Failed() {
				return
			}
			if open {
				with, withOrders = append(with, rate), withOrders+len(placed)
			} else {
				without = append(without, rate)
			}
		}
		if streams != nil {
			sellerMsgs += streams.close(b)
		}
		b.Logf("orders/s, turn by turn: without %.0f, with %.0f", without, with)
		w, o := mean(with), mean(without)
		b.ReportMetric(o, "orders/s-no-streams")
		b.ReportMetric(w, "orders/s-1000-streams")
		b.ReportMetric(w/o, "ratio")
		perOrder := float64(sellerMsgs) / float64(benchSellerStreams*withOrders)
		b.ReportMetric(perOrder, "seller-msgs/order")
		if perOrder < 1 {
			b.Errorf("a seller stream got %.2f messages per order placed while it was open, want one or more", perOrder)
		}
	}
}

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// placeOrders places orders through the bench path from benchWorkers workers until d has passed
// and at least least are placed, and returns the rate and the orders placed.
func placeOrders(b *testing.B, es *bench.EventSourced, products []uuid.UUID, d time.Duration, least int) (float64, []uuid.UUID) {
	ctx := context.Background()
	var mu sync.Mutex
	var placed []uuid.UUID
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range benchWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				mu.Lock()
				done := time.Now().After(deadline) && len(placed) >= least
				mu.Unlock()
				if done {
					return
				}
				o := bench.Order{ID: uuid.New(), UserID: uuid.New(), Lines: []bench.Line{{ProductID: products[rng.IntN(len(products))], Quantity: 1}}}
				if ok, err := es.Place(ctx, o); err != nil || !ok {
					b.Errorf("place %s: accepted %t, %v", o.ID, ok, err)
					return
				}
				mu.Lock()
				placed = append(placed, o.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return float64(len(placed)) / time.Since(start).Seconds(), placed
}

// benchStreamSet is the open streams of a turn of BenchmarkLiveOrders, each read by its own
// goroutine, as a browser reads its EventSource.
type benchStreamSet struct {
	conns   []net.Conn
	readers sync.WaitGroup
	closing atomic.Bool
	cut     atomic.Int64 // streams the server ended before close
	// sellerMsgs counts the messages of the seller streams.
	sellerMsgs atomic.Int64
}

// openBenchStreams opens a stream on each order and benchSellerStreams on seller's lines, those
// resuming after head, 8 at a time, and reads each until close. A stream the server ends (with a
// closing comment, or by closing the connection) counts as cut.
func openBenchStreams(b *testing.B, addr, token string, orders []uuid.UUID, seller uuid.UUID, head eventstore.Position) *benchStreamSet {
	s := &benchStreamSet{conns: make([]net.Conn, len(orders)+benchSellerStreams)}
	errs := make([]error, len(s.conns))
	slots := make(chan struct{}, 8)
	var opening sync.WaitGroup
	for i := range s.conns {
		sellerStream := i < benchSellerStreams
		path, lastID := "/api/v1/seller/order-lines/events?seller_id="+seller.String(), strconv.FormatUint(uint64(head), 10)
		if !sellerStream {
			path, lastID = "/api/v1/orders/"+orders[i-benchSellerStreams].String()+"/events", ""
		}
		slots <- struct{}{}
		opening.Go(func() {
			defer func() { <-slots }()
			c, r, err := openRawStream(addr, token, path, lastID)
			if err != nil {
				errs[i] = err
				return
			}
			s.conns[i] = c
			s.readers.Go(func() { s.read(r, sellerStream) })
		})
	}
	opening.Wait()
	if err := errors.Join(errs...); err != nil {
		s.close(b)
		b.Fatal(err)
	}
	return s
}

// read reads one stream until its connection closes.
func (s *benchStreamSet) read(r *bufio.Reader, sellerStream bool) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			if !s.closing.Load() {
				s.cut.Add(1)
			}
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte(": closing")):
			s.cut.Add(1)
		case sellerStream && bytes.HasPrefix(line, []byte("data: ")):
			s.sellerMsgs.Add(1)
		}
	}
}

// close closes the streams, fails b when the server ended any before, and returns the messages the
// seller streams received.
func (s *benchStreamSet) close(b *testing.B) int64 {
	s.closing.Store(true)
	for _, c := range s.conns {
		if c != nil {
			c.Close()
		}
	}
	s.readers.Wait()
	if n := s.cut.Load(); n > 0 {
		b.Errorf("%d of %d streams ended before the client closed them", n, len(s.conns))
	}
	return s.sellerMsgs.Load()
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

// benchLiveServer serves a server with a few orders on a fresh database and returns its address,
// a SUPERVISOR's token (who may follow any order) and the orders. The orders are bare
// order.placed events, of products that do not exist: no fulfilment may run on this database.
func benchLiveServer(b *testing.B) (string, string, []uuid.UUID) {
	pool := pgtest.New(b)
	store := pgstore.New(pool)
	var orders []uuid.UUID
	for range 10 {
		id := uuid.New()
		_, err := store.Append(context.Background(), order.StreamID(id), eventstore.NoStream, eventstore.EventData{
			ID: uuid.New(), Type: order.TypePlaced, Data: benchPlaced(id, uuid.New())})
		if err != nil {
			b.Fatal(err)
		}
		orders = append(orders, id)
	}
	// No read models: the streams' first messages are the orders' streams folded.
	addr, token := benchServe(b, pool, Deps{})
	return addr, token, orders
}

// benchServe serves a server on pool with deps (its store, auth and limits set here) until b
// ends, and returns its address and a SUPERVISOR's token.
func benchServe(b *testing.B, pool *pgxpool.Pool, deps Deps) (string, string) {
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
	deps.Auth, deps.Store, deps.Config.LiveStreamsPerAccount = svc, pgstore.New(pool), 2*benchStreams
	app := New(deps)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	b.Cleanup(func() { _ = app.ShutdownWithTimeout(10 * time.Second) })
	return ln.Addr().String(), pair.AccessToken
}

func benchPlaced(id, user uuid.UUID) []byte {
	return []byte(fmt.Sprintf(`{"order_id":%q,"user_id":%q,"address":{},"lines":[{"number":1,"product_id":%q,"seller_id":%q,"product_name":"Bench","unit_price":1000,"quantity":1}],"total":1000,"at":"2026-01-01T00:00:00Z"}`,
		id, user, uuid.New(), uuid.New()))
}

// openRawStream opens the stream at path over a bare connection and returns it, with its reader,
// once the state message has arrived, or with lastID (resuming after it, without a state message)
// once it is answered.
func openRawStream(addr, token, path, lastID string) (net.Conn, *bufio.Reader, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	resume := ""
	if lastID != "" {
		resume = "Last-Event-ID: " + lastID + "\r\n"
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n%s\r\n", path, token, resume)
	r := bufio.NewReaderSize(c, 4096)
	status, err := r.ReadString('\n')
	if err == nil && !strings.Contains(status, " 200 ") {
		err = fmt.Errorf("answered %q", strings.TrimSpace(status))
	}
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	for lastID == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("read %s: %w", path, err)
		}
		if strings.HasPrefix(line, "event: state") {
			break
		}
	}
	return c, r, nil
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

package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/eventstoretest"
	espg "github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// testTimeout bounds every wait: the machine is shared and the log's horizon is cluster-wide, so
// other tests' transactions can delay what a reader sees.
const testTimeout = 30 * time.Second

// counter is the runner tests' projector: every event becomes a row keyed by its position (a
// second application of an event fails on the primary key), and a count per stream. Hooks let a
// test fail or interrupt it at chosen events.
type counter struct {
	name    string
	tables  []string // events table, streams table
	applied atomic.Int64

	mu     sync.Mutex
	before func(ctx context.Context, tx pgx.Tx, rec eventstore.Record) error // called before each event; an error fails it
}

func newCounter(name string) *counter {
	return &counter{name: name, tables: []string{"counter_events", "counter_streams"}}
}

func (c *counter) Name() string     { return c.name }
func (c *counter) Tables() []string { return c.tables }

func (c *counter) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, fmt.Sprintf(`
CREATE TABLE IF NOT EXISTS %[1]s (position bigint PRIMARY KEY, stream text NOT NULL, type text NOT NULL);
CREATE INDEX IF NOT EXISTS %[1]s_stream_idx ON %[1]s (stream);
CREATE TABLE IF NOT EXISTS %[2]s (stream text PRIMARY KEY, n integer NOT NULL);`, c.tables[0], c.tables[1]))
	return err
}

func (c *counter) setBefore(f func(ctx context.Context, tx pgx.Tx, rec eventstore.Record) error) {
	c.mu.Lock()
	c.before = f
	c.mu.Unlock()
}

func (c *counter) hook(ctx context.Context, tx pgx.Tx, rec eventstore.Record) error {
	c.mu.Lock()
	f := c.before
	c.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(ctx, tx, rec)
}

func (c *counter) insertEvent() string {
	return `INSERT INTO ` + c.tables[0] + ` (position, stream, type) VALUES ($1, $2, $3)`
}

func (c *counter) countStream() string {
	return `INSERT INTO ` + c.tables[1] + ` (stream, n) VALUES ($1, 1) ON CONFLICT (stream) DO UPDATE SET n = ` + c.tables[1] + `.n + 1`
}

// Apply records each event and counts it per stream in one pipelined round trip, failures named by
// an *EventError, as the read-model projectors do it.
func (c *counter) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	b := &pgx.Batch{}
	for _, rec := range recs {
		if err := c.hook(ctx, tx, rec); err != nil {
			return &EventError{Record: rec, Err: err}
		}
		b.Queue(c.insertEvent(), int64(rec.Position), rec.Stream, rec.Type)
		b.Queue(c.countStream(), rec.Stream)
	}
	br := tx.SendBatch(ctx, b)
	for i := range b.Len() {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return &EventError{Record: recs[i/2], Err: err}
		}
	}
	if err := br.Close(); err != nil {
		return err
	}
	c.applied.Add(int64(len(recs)))
	return nil
}

// env is one test database with the Postgres event store on it.
type env struct {
	t     *testing.T
	url   string
	pool  *pgxpool.Pool
	store *espg.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	url := pgtest.NewURL(t)
	e := &env{t: t, url: url}
	e.pool = e.newPool()
	e.store = espg.New(e.pool, espg.WithPollInterval(200*time.Millisecond))
	return e
}

// newPool opens another pool on the database, as another process would.
func (e *env) newPool() *pgxpool.Pool {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	sep := "?"
	if strings.Contains(e.url, "?") {
		sep = "&"
	}
	pool, err := postgres.Connect(ctx, e.url+sep+"pool_max_conns=12")
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	e.t.Cleanup(pool.Close)
	return pool
}

// runner returns a runner with test-friendly timings; Close runs at cleanup.
func (e *env) runner(pool *pgxpool.Pool, opts Options, ps ...Projector) *Runner {
	e.t.Helper()
	if opts.RetryMin == 0 {
		opts.RetryMin = 20 * time.Millisecond
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 200 * time.Millisecond
	}
	if opts.CheckEvery == 0 {
		opts.CheckEvery = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r, err := NewRunner(pool, espg.New(pool, espg.WithPollInterval(200*time.Millisecond)), ps, opts)
	if err != nil {
		e.t.Fatalf("NewRunner: %v", err)
	}
	e.t.Cleanup(r.Close)
	return r
}

// start runs r until ctx ends, the test ends or stop is called; stop waits for Run to return.
func start(t *testing.T, ctx context.Context, r *Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(testTimeout):
				t.Errorf("Run did not return within %s of its context ending", testTimeout)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// appendEvents appends n events spread over streams, in appends of up to per events, and returns
// the position of the last one.
func (e *env) appendEvents(streams []string, n, per int, typ string) eventstore.Position {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var last eventstore.Position
	for i := 0; i < n; {
		stream := streams[(i/per)%len(streams)]
		k := min(per, n-i)
		evs := make([]eventstore.EventData, k)
		for j := range evs {
			evs[j] = eventstore.EventData{ID: uuid.New(), Type: typ, Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i+j))}
		}
		res, err := e.store.Append(ctx, stream, eventstore.Any, evs...)
		if err != nil {
			e.t.Fatalf("append to %s: %v", stream, err)
		}
		last = res.Position
		i += k
	}
	return last
}

func streams(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// head waits until the log's head is at least pos (appends become visible to log readers when
// older transactions on the server end) and returns it.
func (e *env) head(pos eventstore.Position) eventstore.Position {
	e.t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		h, err := e.store.Head(context.Background())
		if err != nil {
			e.t.Fatalf("Head: %v", err)
		}
		if h >= pos {
			return h
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("log head %d did not reach %d within %s", h, pos, testTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readAllTo reads the whole global log once it shows every event up to pos
// (eventstoretest.ReadAllTo).
func (e *env) readAllTo(pos eventstore.Position) []eventstore.Record {
	e.t.Helper()
	recs, err := eventstoretest.ReadAllTo(context.Background(), e.store, pos)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// waitFor waits for r's projector to pass pos.
func waitFor(t *testing.T, r *Runner, name string, pos eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := r.WaitFor(ctx, name, pos); err != nil {
		t.Fatalf("WaitFor(%s, %d) = %v, want nil", name, pos, err)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, testTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkpointOf reads name's checkpoint; ok is false when it has none.
func (e *env) checkpointOf(name string) (eventstore.Position, bool) {
	e.t.Helper()
	var p int64
	err := e.pool.QueryRow(context.Background(), `SELECT position FROM `+checkpointTable+` WHERE name = $1`, name).Scan(&p)
	if err == pgx.ErrNoRows {
		return 0, false
	}
	if err != nil {
		e.t.Fatalf("read checkpoint of %s: %v", name, err)
	}
	return eventstore.Position(p), true
}

// verifyExactlyOnce checks that the counter's tables in schema hold every event of the log up to
// upTo exactly once, and nothing after it: one row per position, and per-stream counts that match.
func (e *env) verifyExactlyOnce(c *counter, schema string, upTo eventstore.Position) {
	e.t.Helper()
	ctx := context.Background()
	recs := e.readAllTo(upTo)
	want := map[eventstore.Position]string{}
	perStream := map[string]int{}
	for _, rec := range recs {
		if rec.Position <= upTo {
			want[rec.Position] = rec.Stream
			perStream[rec.Stream]++
		}
	}
	rows, err := e.pool.Query(ctx, `SELECT position, stream FROM `+pgx.Identifier{schema, c.tables[0]}.Sanitize())
	if err != nil {
		e.t.Fatalf("read %s.%s: %v", schema, c.tables[0], err)
	}
	got := map[eventstore.Position]string{}
	for rows.Next() {
		var p int64
		var s string
		if err := rows.Scan(&p, &s); err != nil {
			e.t.Fatalf("scan: %v", err)
		}
		got[eventstore.Position(p)] = s
	}
	if err := rows.Err(); err != nil {
		e.t.Fatalf("read %s: %v", c.tables[0], err)
	}
	for p, s := range want {
		if got[p] != s {
			e.t.Errorf("event at %d of %s: applied as %q, want it applied once", p, s, got[p])
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			e.t.Errorf("row for position %d, which is not an event up to %d", p, upTo)
		}
	}
	srows, err := e.pool.Query(ctx, `SELECT stream, n FROM `+pgx.Identifier{schema, c.tables[1]}.Sanitize())
	if err != nil {
		e.t.Fatalf("read %s: %v", c.tables[1], err)
	}
	gotStreams := map[string]int{}
	for srows.Next() {
		var s string
		var n int
		if err := srows.Scan(&s, &n); err != nil {
			e.t.Fatalf("scan: %v", err)
		}
		gotStreams[s] = n
	}
	if fmt.Sprint(gotStreams) != fmt.Sprint(perStream) {
		e.t.Errorf("counts per stream = %v, want %v", gotStreams, perStream)
	}
	if e.t.Failed() {
		e.t.FailNow()
	}
}

// workerState returns the state of name in r's Status.
func workerState(r *Runner, name string) Info {
	for _, in := range r.Status() {
		if in.Name == name {
			return in
		}
	}
	return Info{}
}

// recordingMetrics counts what the runner reports.
type recordingMetrics struct {
	mu      sync.Mutex
	applied int
	failed  []error
	states  []State
}

func (m *recordingMetrics) Applied(_ string, events int, _ eventstore.Position, _ time.Duration) {
	m.mu.Lock()
	m.applied += events
	m.mu.Unlock()
}
func (m *recordingMetrics) Lag(string, uint64, int64) {}
func (m *recordingMetrics) Failed(_ string, err error) {
	m.mu.Lock()
	m.failed = append(m.failed, err)
	m.mu.Unlock()
}
func (m *recordingMetrics) StateChanged(_ string, s State) {
	m.mu.Lock()
	m.states = append(m.states, s)
	m.mu.Unlock()
}

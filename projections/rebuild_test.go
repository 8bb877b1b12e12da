package projections

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// tableOID returns the oid of schema.table, 0 when there is no such table.
func (e *env) tableOID(schema, table string) uint32 {
	e.t.Helper()
	var oid *uint32
	if err := e.pool.QueryRow(context.Background(), `SELECT to_regclass($1)::oid`, pgx.Identifier{schema, table}.Sanitize()).Scan(&oid); err != nil {
		e.t.Fatalf("look up %s.%s: %v", schema, table, err)
	}
	if oid == nil {
		return 0
	}
	return *oid
}

func (e *env) schemaExists(schema string) bool {
	e.t.Helper()
	var ok bool
	if err := e.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&ok); err != nil {
		e.t.Fatalf("look up schema %s: %v", schema, err)
	}
	return ok
}

func TestRebuildWhileWritesContinue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ss := streams("r", 10)
	c := newCounter("counter.v1")
	e.head(e.appendEvents(ss, 2000, 40, "test.counted.v1"))
	r := e.runner(e.pool, Options{RebuildBatch: 200}, c)
	start(t, context.Background(), r)
	head, _ := e.store.Head(context.Background())
	waitFor(t, r, "counter.v1", head)
	oldOID := e.tableOID(LiveSchema, "counter_events")

	// Writers and readers keep going during the whole rebuild.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var written atomic.Int64
	var lastWritten eventstore.Position
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			lastWritten = e.appendEvents(ss[i%len(ss):i%len(ss)+1], 3, 3, "test.counted.v1")
			written.Add(3)
			time.Sleep(2 * time.Millisecond)
		}
	})
	var queries atomic.Int64
	var queryErr error
	wg.Go(func() {
		var prev int64
		for ctx.Err() == nil {
			var n int64
			if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM readmodel.counter_events`).Scan(&n); err != nil {
				queryErr = err
				return
			}
			if n < prev {
				queryErr = errors.New("the read model lost rows")
				return
			}
			prev = n
			queries.Add(1)
		}
	})

	var progress []Progress
	var sawRebuilding bool
	err := r.Rebuild(context.Background(), "counter", func(p Progress) {
		if len(progress) == 1 { // once, mid-rebuild
			list, err := r.List(context.Background())
			sawRebuilding = err == nil && list[0].State == StateRebuilding && workerState(r, "counter.v1").Rebuild != nil
		}
		progress = append(progress, p)
	})
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	queriesDuringRebuild := queries.Load()
	time.Sleep(100 * time.Millisecond) // writes after the swap go to the new tables
	stop()
	wg.Wait()
	if queryErr != nil {
		t.Fatalf("a query during the rebuild: %v", queryErr)
	}
	if queriesDuringRebuild == 0 || written.Load() == 0 {
		t.Fatalf("%d queries and %d events written during the rebuild, want both > 0", queriesDuringRebuild, written.Load())
	}
	e.head(lastWritten)
	waitFor(t, r, "counter.v1", lastWritten)
	e.verifyExactlyOnce(c, LiveSchema, lastWritten)
	if e.tableOID(LiveSchema, "counter_events") == oldOID {
		t.Fatalf("readmodel.counter_events is the table from before the rebuild, want the rebuilt one")
	}
	if e.schemaExists(ShadowSchema("counter.v1")) {
		t.Fatalf("schema %s is still there after the rebuild", ShadowSchema("counter.v1"))
	}

	if !sawRebuilding {
		t.Errorf("List and Status during the rebuild did not say rebuilding")
	}
	if workerState(r, "counter.v1").Rebuild != nil {
		t.Errorf("Status after the rebuild still shows its progress")
	}
	final := progress[len(progress)-1]
	if !final.Swapped || final.Done < 2000 || final.Total != final.Done || final.Rate <= 0 || final.Projector != "counter.v1" {
		t.Fatalf("last progress = %+v, want swapped with Done >= 2000 = Total and a rate", final)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].Done < progress[i-1].Done || progress[i].Total < progress[i].Done {
			t.Fatalf("progress %d = %+v after %+v: want Done non-decreasing and Total >= Done", i, progress[i], progress[i-1])
		}
	}
}

func TestRebuildAtVersionChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ss := streams("v", 5)
	v1 := newCounter("counter.v1")
	r1 := e.runner(e.newPool(), Options{}, v1)
	start(t, context.Background(), r1)
	last := e.appendEvents(ss, 1000, 20, "test.counted.v1")
	waitFor(t, r1, "counter.v1", last)

	// Version 2 keeps one table and renames the other. It starts in another process while
	// version 1 still runs (a rolling deploy).
	v2 := newCounter("counter.v2")
	v2.tables = []string{"counter_events", "counter_streams_v2"}
	var checked sync.Once
	var duringReplay struct {
		searchPath string
		oldRows    int
		err        error
	}
	v2.setBefore(func(ctx context.Context, tx pgx.Tx, _ eventstore.Record) error {
		checked.Do(func() {
			d := &duringReplay
			d.err = tx.QueryRow(ctx, `SHOW search_path`).Scan(&d.searchPath)
			if d.err == nil {
				d.err = e.pool.QueryRow(ctx, `SELECT sum(n) FROM readmodel.counter_streams`).Scan(&d.oldRows)
			}
		})
		return nil
	})
	r2 := e.runner(e.newPool(), Options{RebuildBatch: 300}, v2)
	stop2 := start(t, context.Background(), r2)
	waitFor(t, r2, "counter.v2", last)

	if duringReplay.err != nil || duringReplay.searchPath != ShadowSchema("counter.v2") || duringReplay.oldRows != 1000 {
		t.Fatalf("during the replay: search_path %q, version 1's table served %d events (err %v); want %q and 1000",
			duringReplay.searchPath, duringReplay.oldRows, duringReplay.err, ShadowSchema("counter.v2"))
	}
	if _, ok := e.checkpointOf("counter.v1"); ok {
		t.Fatalf("counter.v1 still has a checkpoint after version 2 replaced it")
	}
	if e.tableOID(LiveSchema, "counter_streams") != 0 || e.tableOID(LiveSchema, "counter_streams_v2") == 0 {
		t.Fatalf("after the swap: version 1's table counter_streams exists or version 2's counter_streams_v2 does not")
	}
	e.verifyExactlyOnce(v2, LiveSchema, last)
	// The runner drops the shadow schema right after the swap, which is what WaitFor waited for.
	eventually(t, "the shadow schema dropped after the rebuild", func() bool { return !e.schemaExists(ShadowSchema("counter.v2")) })

	// Version 2 goes on live; version 1's runner finds itself replaced and stops.
	last = e.appendEvents(ss, 100, 5, "test.counted.v1")
	waitFor(t, r2, "counter.v2", last)
	e.verifyExactlyOnce(v2, LiveSchema, last)
	eventually(t, "version 1's runner stopping", func() bool { return workerState(r1, "counter.v1").State == StateStopped })

	// A restart of version 2 does not rebuild again.
	stop2()
	applied := v2.applied.Load()
	r3 := e.runner(e.newPool(), Options{}, v2)
	start(t, context.Background(), r3)
	last = e.appendEvents(ss, 10, 5, "test.counted.v1")
	waitFor(t, r3, "counter.v2", last)
	if got := v2.applied.Load() - applied; got != 10 {
		t.Fatalf("after a restart version 2 applied %d events, want the 10 new ones", got)
	}
}

func TestRebuildRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newCounter("counter.v1")
	r := e.runner(e.pool, Options{}, c)
	start(t, context.Background(), r)
	last := e.appendEvents(streams("x", 2), 50, 5, "test.counted.v1")
	waitFor(t, r, "counter.v1", last)
	ctx := context.Background()

	if err := r.Rebuild(ctx, "nope", nil); !errors.Is(err, ErrUnknownProjector) {
		t.Fatalf("Rebuild(nope) = %v, want ErrUnknownProjector", err)
	}

	// Another process is rebuilding it.
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, rebuildLockClass, lockKey("counter.v1")); err != nil {
		t.Fatalf("take the rebuild lock: %v", err)
	}
	if err := r.Rebuild(ctx, "counter.v1", nil); !errors.Is(err, ErrRebuildRunning) {
		t.Fatalf("Rebuild while another runs = %v, want ErrRebuildRunning", err)
	}
	if list, err := r.List(ctx); err != nil || list[0].State != StateRebuilding {
		t.Fatalf("List while another process rebuilds = %+v, %v; want rebuilding", list, err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, rebuildLockClass, lockKey("counter.v1")); err != nil {
		t.Fatalf("release the rebuild lock: %v", err)
	}
	conn.Release()

	// A projector that fails during the replay: the rebuild stops with the event, the live
	// tables stay as they were.
	oid := e.tableOID(LiveSchema, "counter_events")
	var n atomic.Int64
	c.setBefore(func(context.Context, pgx.Tx, eventstore.Record) error {
		if n.Add(1) == 20 {
			return errors.New("broken in the new version")
		}
		return nil
	})
	err = r.Rebuild(ctx, "counter.v1", nil)
	var ee *EventError
	if !errors.As(err, &ee) || ee.Record.Position == 0 {
		t.Fatalf("Rebuild of a failing projector = %v, want an *EventError naming the event", err)
	}
	c.setBefore(nil)
	if e.tableOID(LiveSchema, "counter_events") != oid {
		t.Fatalf("a failed rebuild replaced the live table")
	}
	e.verifyExactlyOnce(c, LiveSchema, last)
	if err := r.Rebuild(ctx, "counter.v1", nil); err != nil {
		t.Fatalf("Rebuild after the failed one: %v", err)
	}
	e.verifyExactlyOnce(c, LiveSchema, last)
}

// deferringCounter lets a rebuild build its stream index after the replay.
type deferringCounter struct {
	*counter
	indexes []string
}

func (c deferringCounter) DeferredIndexes() []string { return c.indexes }

func TestRebuildDefersIndexes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newCounter("counter.v1")
	p := deferringCounter{counter: c, indexes: []string{"counter_events_stream_idx"}}
	r := e.runner(e.pool, Options{}, p)
	last := e.appendEvents(streams("d", 3), 300, 10, "test.counted.v1")
	e.head(last)

	var indexDuringReplay *bool
	c.setBefore(func(ctx context.Context, tx pgx.Tx, _ eventstore.Record) error {
		if indexDuringReplay == nil {
			var ok bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'counter_events_stream_idx')`).Scan(&ok)
			indexDuringReplay = &ok
			return err
		}
		return nil
	})
	if err := r.Rebuild(context.Background(), "counter.v1", nil); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	if indexDuringReplay == nil || *indexDuringReplay {
		t.Fatalf("the deferred index existed during the replay (or nothing was replayed)")
	}
	var def string
	if err := e.pool.QueryRow(context.Background(), `SELECT indexdef FROM pg_indexes WHERE schemaname = 'readmodel' AND indexname = 'counter_events_stream_idx'`).Scan(&def); err != nil {
		t.Fatalf("the deferred index is not on the live table after the swap: %v", err)
	}
	if def != "CREATE INDEX counter_events_stream_idx ON readmodel.counter_events USING btree (stream)" {
		t.Fatalf("index after the swap = %q, want Setup's definition on readmodel.counter_events", def)
	}
	e.verifyExactlyOnce(c, LiveSchema, last)

	bad := deferringCounter{counter: newCounter("other.v1"), indexes: []string{"no_such_idx"}}
	r2 := e.runner(e.pool, Options{}, bad)
	if err := r2.Rebuild(context.Background(), "other.v1", nil); err == nil || !strings.Contains(err.Error(), "no_such_idx") {
		t.Fatalf("Rebuild deferring an index Setup does not create = %v, want an error naming it", err)
	}
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	bar := ProgressBar(&out, "catalog.v1")
	bar(Progress{Projector: "catalog.v1"})
	bar(Progress{Projector: "catalog.v1", Done: 5000, Total: 20000, Rate: 50000, ETA: 300 * time.Millisecond})
	time.Sleep(150 * time.Millisecond) // the bar redraws at most every 100 ms
	bar(Progress{Projector: "catalog.v1", Done: 20000, Total: 20000, Swapped: true})
	got := out.String()
	for _, want := range []string{"rebuild catalog.v1", "20000/20000", "100%", "events"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress bar output %q does not contain %q", got, want)
		}
	}
	if !strings.HasSuffix(got, "\n") {
		t.Errorf("progress bar output %q does not end with a newline after the swap", got)
	}
}

func TestRebuildAllReadsTheLogOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := newCounter("a.v1"), newCounter("b.v1")
	a.tables = []string{"a_events", "a_streams"}
	b.tables = []string{"b_events", "b_streams"}
	r := e.runner(e.pool, Options{RebuildBatch: 100}, a, b)
	start(t, context.Background(), r)
	last := e.appendEvents(streams("m", 4), 700, 10, "test.counted.v1")
	waitFor(t, r, "a.v1", last)
	waitFor(t, r, "b.v1", last)

	var progress []Progress
	if err := r.RebuildAll(context.Background(), nil, func(p Progress) { progress = append(progress, p) }); err != nil {
		t.Fatalf("RebuildAll: %v", err)
	}
	e.verifyExactlyOnce(a, LiveSchema, last)
	e.verifyExactlyOnce(b, LiveSchema, last)
	final := progress[len(progress)-1]
	if final.Projector != "a.v1,b.v1" || !final.Swapped || final.Done != 700 || final.Total != 700 {
		t.Fatalf("last progress = %+v, want a.v1,b.v1 swapped with 700 of 700 events", final)
	}
	for i, p := range progress[:len(progress)-1] {
		if p.Swapped {
			t.Fatalf("progress %d of %d = %+v says swapped before the last one", i, len(progress), p)
		}
	}
	if err := r.RebuildAll(context.Background(), []string{"a", "nope"}, nil); !errors.Is(err, ErrUnknownProjector) {
		t.Fatalf("RebuildAll with an unknown name = %v, want ErrUnknownProjector", err)
	}
}

// foldingCounter is a counter that asks a rebuild for batches of fold of its batches, and records
// the size of each batch it applies.
type foldingCounter struct {
	*counter
	fold  int
	mu    sync.Mutex
	sizes []int
}

func (c *foldingCounter) FoldBatches() int { return c.fold }

func (c *foldingCounter) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	c.mu.Lock()
	c.sizes = append(c.sizes, len(recs))
	c.mu.Unlock()
	return c.counter.Apply(ctx, tx, recs)
}

func TestRebuildFoldsBatchesOfABatchFolder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	plain := newCounter("plain.v1")
	plain.tables = []string{"plain_events", "plain_streams"}
	folding := &foldingCounter{counter: newCounter("folding.v1"), fold: 3}
	folding.tables = []string{"folding_events", "folding_streams"}
	last := e.appendEvents(streams("f", 4), 1000, 10, "test.counted.v1")
	e.head(last)
	r := e.runner(e.pool, Options{RebuildBatch: 100}, plain, folding)
	if err := r.RebuildAll(context.Background(), nil, nil); err != nil {
		t.Fatalf("RebuildAll: %v", err)
	}
	e.verifyExactlyOnce(plain, LiveSchema, last)
	e.verifyExactlyOnce(folding.counter, LiveSchema, last)
	// The reader's batches grow from 6 events to 100; the folding counter's are three of them at
	// least, up to 300 events, and the last one what is left.
	total := 0
	for i, n := range folding.sizes {
		total += n
		if n > 300+100 || i < len(folding.sizes)-1 && n < 300 {
			t.Fatalf("folding counter applied batches of %v events, want at least 300 each but the last", folding.sizes)
		}
	}
	if total != 1000 {
		t.Fatalf("folding counter applied %v: %d events, want 1000", folding.sizes, total)
	}
}

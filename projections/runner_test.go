package projections

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// variants runs a runner test with a counter projector.
func variants(t *testing.T, test func(t *testing.T, c *counter, p Projector)) {
	t.Parallel()
	c := newCounter("counter.v1")
	test(t, c, c)
}

func TestRunnerAppliesEveryEventOnceAcrossCrashes(t *testing.T) {
	variants(t, func(t *testing.T, c *counter, p Projector) {
		e := newEnv(t)
		ss := streams("s", 7)
		last := e.appendEvents(ss, 800, 16, "test.counted.v1")
		e.head(last)

		// Mid-batch (batches of 120), first the runner's connection dies: the runner retries the
		// batch on its own. Later the process dies: its context ends with a batch half applied.
		ctx, kill := context.WithCancel(context.Background())
		var n atomic.Int64
		c.setBefore(func(ctx context.Context, tx pgx.Tx, rec eventstore.Record) error {
			switch n.Add(1) {
			case 200:
				_, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
				if err == nil {
					t.Errorf("pg_terminate_backend of the runner's own connection returned no error")
				}
				return err
			case 500:
				kill()
				return ctx.Err()
			}
			return nil
		})
		m := &recordingMetrics{}
		r1 := e.runner(e.pool, Options{CatchUpBatch: 120, Metrics: m}, p)
		stop1 := start(t, ctx, r1)
		<-ctx.Done()
		stop1()

		cp, ok := e.checkpointOf("counter.v1")
		if !ok || cp == 0 || cp >= last {
			t.Fatalf("checkpoint after the crash = %d (exists %v), want between 0 and %d exclusive", cp, ok, last)
		}
		e.verifyExactlyOnce(c, LiveSchema, cp)
		m.mu.Lock()
		failures := len(m.failed)
		m.mu.Unlock()
		if failures == 0 {
			t.Errorf("Metrics.Failed was not called for the killed connection")
		}

		// The restarted process goes on from the checkpoint, then live.
		c.setBefore(nil)
		r2 := e.runner(e.newPool(), Options{CatchUpBatch: 120}, p)
		start(t, context.Background(), r2)
		last = e.appendEvents(ss, 200, 4, "test.counted.v1")
		waitFor(t, r2, "counter.v1", last)
		e.verifyExactlyOnce(c, LiveSchema, last)
	})
}

func TestRunnerFailover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ss := streams("f", 3)
	c1, c2 := newCounter("counter.v1"), newCounter("counter.v1") // one projector, two processes
	r1 := e.runner(e.newPool(), Options{}, c1)
	r2 := e.runner(e.newPool(), Options{}, c2)
	ctx1, cancel1 := context.WithCancel(context.Background())
	stop1 := start(t, ctx1, r1)
	eventually(t, "first runner active", func() bool { return workerState(r1, "counter.v1").State == StateRunning })
	start(t, context.Background(), r2)
	eventually(t, "second runner standing by", func() bool { return workerState(r2, "counter.v1").State == StateStandby })

	// The second runner says it stands by just before its lock request reaches the server, where
	// List counts the waiters: List is asked until it shows the waiter.
	eventually(t, "List showing the standby", func() bool {
		list, err := r2.List(context.Background())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(list) != 1 || list[0].State != StateRunning || list[0].Standbys > 1 || list[0].LagEvents != 0 {
			t.Fatalf("List = %+v, want counter.v1 running with 1 standby and no lag", list)
		}
		return list[0].Standbys == 1
	})

	last := e.appendEvents(ss, 300, 5, "test.counted.v1")
	waitFor(t, r1, "counter.v1", last)
	if n := c2.applied.Load(); n != 0 {
		t.Fatalf("the standby applied %d events, want 0", n)
	}

	// The active runner's lock connection dies (as when its host vanishes): the standby takes over
	// and the first runner stands by.
	var pid int32
	err := e.pool.QueryRow(context.Background(), `SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND classid::int8 = $1 AND objid::int8 = $2
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		int64(liveLockClass), int64(uint32(lockKey("counter.v1")))).Scan(&pid)
	if err != nil {
		t.Fatalf("find the lock holder: %v", err)
	}
	if _, err := e.pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatalf("terminate the lock holder: %v", err)
	}
	eventually(t, "second runner active", func() bool { return workerState(r2, "counter.v1").State == StateRunning })
	eventually(t, "first runner standing by", func() bool { return workerState(r1, "counter.v1").State == StateStandby })
	last = e.appendEvents(ss, 300, 5, "test.counted.v1")
	waitFor(t, r2, "counter.v1", last)
	eventually(t, "second runner applying", func() bool { return c2.applied.Load() > 0 })

	// The second process stops; the first takes over again.
	before := c1.applied.Load()
	cancel1()
	stop1()
	r3 := e.runner(e.newPool(), Options{}, c1)
	start(t, context.Background(), r3)
	eventually(t, "new runner standing by", func() bool { return workerState(r3, "counter.v1").State == StateStandby })
	last = e.appendEvents(ss, 100, 5, "test.counted.v1")
	waitFor(t, r3, "counter.v1", last)
	e.verifyExactlyOnce(c1, LiveSchema, last)
	if c1.applied.Load() != before {
		t.Errorf("a stopped or standby runner applied events")
	}
}

func TestRunnerStopsAtFailingEventAndRecovers(t *testing.T) {
	variants(t, func(t *testing.T, c *counter, p Projector) {
		e := newEnv(t)
		ss := streams("p", 2)
		var broken atomic.Bool
		broken.Store(true)
		c.setBefore(func(_ context.Context, _ pgx.Tx, rec eventstore.Record) error {
			if rec.Type == "test.poison.v1" && broken.Load() {
				return errors.New("poisoned")
			}
			return nil
		})
		good := e.appendEvents(ss, 6, 3, "test.counted.v1")
		bad := e.appendEvents(ss[1:], 1, 1, "test.poison.v1")
		last := e.appendEvents(ss, 6, 3, "test.counted.v1")
		e.head(last)

		m := &recordingMetrics{}
		r := e.runner(e.pool, Options{Metrics: m}, p)
		start(t, context.Background(), r)
		eventually(t, "the runner failing at the poisoned event", func() bool {
			in := workerState(r, "counter.v1")
			return in.State == StateFailing && in.FailedEvent != nil && in.FailedEvent.Position == bad
		})
		// It stops at the event: everything before it is applied, nothing after it, and it stays so.
		eventually(t, "the events before the poisoned one applied", func() bool {
			cp, _ := e.checkpointOf("counter.v1")
			return cp == good
		})
		time.Sleep(300 * time.Millisecond) // several retries
		if cp, _ := e.checkpointOf("counter.v1"); cp != good {
			t.Fatalf("checkpoint while failing = %d, want %d (the event before the poisoned one)", cp, good)
		}
		e.verifyExactlyOnce(c, LiveSchema, good)

		// The log's head, which List reads for the lag, can be held back for a moment by a
		// transaction of another database ending (see readAllTo), so List is asked until it shows
		// the head: everything else must hold on every call.
		deadline := time.Now().Add(testTimeout)
		for {
			list, err := r.List(context.Background())
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			in := list[0]
			if in.State != StateFailing || in.FailedEvent == nil || *in.FailedEvent != (FailedEvent{Position: bad, Type: "test.poison.v1", Stream: ss[1]}) ||
				!strings.Contains(in.Error, "poisoned") || in.Retries == 0 || in.Position != good || (in.Head >= last && (in.Lag == 0 || in.LagEvents != 7)) {
				t.Fatalf("List while failing = %+v, want failing at %d (test.poison.v1 in %s) with the error, retries, position %d and a lag of 7 events",
					in, bad, ss[1], good)
			}
			if in.Head >= last {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("List while failing = %+v: the head did not reach %d within %s", in, last, testTimeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
		m.mu.Lock()
		var ee *EventError
		if len(m.failed) == 0 || !errors.As(m.failed[0], &ee) || ee.Record.Position != bad {
			t.Errorf("Metrics.Failed got %v, want an *EventError at %d", m.failed, bad)
		}
		m.mu.Unlock()

		broken.Store(false)
		waitFor(t, r, "counter.v1", last)
		e.verifyExactlyOnce(c, LiveSchema, last)
		eventually(t, "the runner running again", func() bool {
			in := workerState(r, "counter.v1")
			return in.State == StateRunning && in.Error == "" && in.FailedEvent == nil
		})
		list, err := r.List(context.Background())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if in := list[0]; in.State != StateRunning || in.Error != "" || in.FailedEvent != nil || in.Retries != 0 {
			t.Fatalf("List after recovery = %+v, want running without an error", in)
		}
	})
}

func TestNewRunnerRefusesBadProjectors(t *testing.T) {
	t.Parallel()
	a, b := newCounter("same.v1"), newCounter("same.v1")
	if _, err := NewRunner(nil, nil, []Projector{a, b}, Options{}); err == nil {
		t.Errorf("NewRunner with two projectors named same.v1 returned no error")
	}
	none := newCounter("none.v1")
	none.tables = nil
	if _, err := NewRunner(nil, nil, []Projector{none}, Options{}); err == nil {
		t.Errorf("NewRunner with a projector that owns no tables returned no error")
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, base, shadow string }{
		{"catalog.v1", "catalog", "readmodel_rebuild_catalog_v1"},
		{"catalog.v12", "catalog", "readmodel_rebuild_catalog_v12"},
		{"orders", "orders", "readmodel_rebuild_orders"},
		{"a.vx", "a.vx", "readmodel_rebuild_a_vx"},
		{"Weird-Name.v2", "Weird-Name", "readmodel_rebuild_weird_name_v2"},
		{".v1", ".v1", "readmodel_rebuild__v1"},
	}
	for _, tt := range tests {
		if got := BaseName(tt.name); got != tt.base {
			t.Errorf("BaseName(%q) = %q, want %q", tt.name, got, tt.base)
		}
		if got := ShadowSchema(tt.name); got != tt.shadow {
			t.Errorf("ShadowSchema(%q) = %q, want %q", tt.name, got, tt.shadow)
		}
	}
	if got := ShadowSchema(strings.Repeat("x", 100)); len(got) != 63 {
		t.Errorf("ShadowSchema of a long name is %d bytes, want 63", len(got))
	}
}

func TestRunnerSkipsRedeliveredEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newCounter("counter.v1")
	r := e.runner(e.pool, Options{}, c)
	stop := start(t, context.Background(), r)
	last := e.appendEvents(streams("k", 2), 20, 4, "test.counted.v1")
	waitFor(t, r, "counter.v1", last)
	stop()

	// A subscription that redelivers what is already applied, and a batch that straddles the
	// checkpoint: only the events after it are applied.
	recs := e.readAllTo(last)
	applied := c.applied.Load()
	pos, n, err := r.commitLive(context.Background(), c, recs)
	if err != nil || pos != last || n != 0 || c.applied.Load() != applied {
		t.Fatalf("commitLive(every applied event) = %d, %d, %v; applied %d more; want %d, 0, nil and none",
			pos, n, err, c.applied.Load()-applied, last)
	}
	more := e.appendEvents(streams("k", 2), 5, 5, "test.counted.v1")
	recs = e.readAllTo(more)
	pos, n, err = r.commitLive(context.Background(), c, recs)
	if err != nil || pos != more || n != 5 {
		t.Fatalf("commitLive(a batch straddling the checkpoint) = %d, %d, %v; want %d, 5, nil", pos, n, err, more)
	}
	e.verifyExactlyOnce(c, LiveSchema, more)
}

// TestRunnerAnalyzesAfterCatchingUp: a projector that caught up on many events has planner
// statistics for its tables at once, without waiting for autovacuum.
func TestRunnerAnalyzesAfterCatchingUp(t *testing.T) {
	e := newEnv(t)
	c := newCounter("counter.v1")
	last := e.appendEvents(streams("s", 4), analyzeAfter+100, 8, "test.counted.v1")
	e.head(last)
	r := e.runner(e.pool, Options{}, c)
	start(t, context.Background(), r)
	waitFor(t, r, "counter.v1", last)
	for _, table := range c.Tables() {
		eventually(t, "statistics for "+table, func() bool {
			var analyzed bool
			err := e.pool.QueryRow(context.Background(), `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables
				WHERE schemaname = $1 AND relname = $2`, LiveSchema, table).Scan(&analyzed)
			return err == nil && analyzed
		})
	}
}

// TestRunnerAnalyzesWhileTablesGrow: a table that starts empty and fills live gets planner
// statistics again and again as it doubles, without waiting for autovacuum.
func TestRunnerAnalyzesWhileTablesGrow(t *testing.T) {
	e := newEnv(t)
	c := newCounter("counter.v1")
	r := e.runner(e.pool, Options{}, c)
	start(t, context.Background(), r)
	table := c.Tables()[0]
	// analyzed returns how many times the table was analyzed other than by autovacuum, and the
	// rows it had at the last analysis.
	analyzed := func() (n int64, rows float64) {
		err := e.pool.QueryRow(context.Background(), `SELECT s.analyze_count, c.reltuples FROM pg_stat_user_tables s
			JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = $1 AND s.relname = $2`, LiveSchema, table).Scan(&n, &rows)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, -1 // not created yet
		}
		if err != nil {
			t.Fatalf("read analyze_count of %s: %v", table, err)
		}
		return n, rows
	}
	// The server counts a table's rows for the analyzer a moment after they are written, so the
	// events come in rounds until the analysis is seen, as they would keep coming in a shop.
	grow := func(what string, before int64) float64 {
		deadline := time.Now().Add(testTimeout)
		for {
			waitFor(t, r, "counter.v1", e.appendEvents(streams("g", 4), analyzeAfter/2, 10, "test.counted.v1"))
			if n, rows := analyzed(); n > before {
				return rows
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s of %s did not happen within %s", what, table, testTimeout)
			}
		}
	}
	n, _ := analyzed()
	first := grow("a first analysis", n)
	n, _ = analyzed()
	second := grow("a second analysis", n)
	// The second analysis comes once the table doubled since its rows were last counted, by the
	// first analysis or by an autovacuum run in between (which counts them too), as the server's
	// count of live rows shows it: up to a second after they are written, while the rows keep
	// coming in rounds, so how far past the doubling it comes is the machine's: at least
	// analyzeGrowth rows after the first.
	if first < analyzeGrowth || second < first+analyzeGrowth {
		t.Fatalf("analyzed at %.0f and %.0f rows, want at least %d, then at least %d more", first, second, analyzeGrowth, analyzeGrowth)
	}
}

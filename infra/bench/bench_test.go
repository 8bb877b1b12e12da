package bench

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// TestTinyBench runs the seed scenario, a short hot run and a short mixed run on both paths
// through the real components: the Postgres event store, the command handlers, the relay, the
// in-process bus, the fulfilment, the outcome waiter, the projections and the read models.
func TestTinyBench(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	es, base, basePool, log := tinyPaths(ctx, t)
	machine, err := ReadMachine(ctx, basePool)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{
		Paths:           []Path{es, base},
		Options:         Options{Scenarios: []string{ScenarioSeed, ScenarioHot, ScenarioMixed}, Workers: []int{4}, Duration: 300 * time.Millisecond},
		Machine:         machine,
		Log:             log,
		BeforeRun:       Checkpoint(basePool, log),
		UniformProducts: 50,
		CPU:             func(ctx context.Context) CPUSample { return SampleCPU(ctx, basePool) },
	}
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := es.Err(); err != nil {
		t.Fatalf("event-sourced workers: %v", err)
	}
	if len(rep.Results) != 6 {
		t.Fatalf("Run gave %d results, want 3 scenarios × 2 paths: %+v", len(rep.Results), rep.Results)
	}
	dbCPU := map[string]float64{} // ms of the server's CPU, summed over each path's timed runs
	for _, res := range rep.Results {
		if !res.Verified || res.Errors > 0 || res.Settled == 0 {
			t.Errorf("%s on %s: %+v, want verified, settled orders and no errors", res.Scenario, res.Path, res)
		}
		if res.Scenario == ScenarioSeed && (res.Accepted != 15 || res.Rejected != 185) {
			t.Errorf("seed on %s: %d accepted, %d rejected, want 15 and 185", res.Path, res.Accepted, res.Rejected)
		}
		if res.Scenario == ScenarioMixed && (res.Queries == 0 || res.CatalogP99Ms <= 0 || res.UserOrdersP99Ms <= 0) {
			t.Errorf("mixed on %s ran no queries: %+v", res.Path, res)
		}
		if res.Scenario == ScenarioMixed && res.Path == PathEventSourced && res.LagSamples == 0 {
			t.Errorf("mixed on the event-sourced path sampled no projection lag: %+v", res)
		}
		if res.Scenario != ScenarioSeed && res.AppCPUMsPerOrder <= 0 {
			t.Errorf("%s on %s: CPU per order of the process %v ms, want it measured", res.Scenario, res.Path, res.AppCPUMsPerOrder)
		}
		if res.Scenario != ScenarioSeed {
			dbCPU[res.Path] += res.DBCPUMsPerOrder * float64(res.Settled)
		}
		if res.Path == PathEventSourced && res.Ratio <= 0 {
			t.Errorf("%s on the event-sourced path has no ratio to the baseline", res.Scenario)
		}
	}
	// The test database runs on this machine (make test starts it), so the server's CPU is
	// readable too. It is counted in clock ticks of 10 ms, which a single 300 ms run on a busy
	// machine may not reach: each path's runs together must.
	for _, p := range []string{PathEventSourced, PathBaseline} {
		if dbCPU[p] <= 0 {
			t.Errorf("the server's CPU over the timed runs of %s: %v ms, want it measured", p, dbCPU[p])
		}
	}
	var accepted, rows int
	for _, res := range rep.Results {
		if res.Path == PathBaseline {
			accepted += res.Accepted
		}
	}
	if err := basePool.QueryRow(ctx, `SELECT count(*) FROM baseline.orders`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != accepted {
		t.Errorf("baseline.orders has %d rows, want the %d accepted baseline orders", rows, accepted)
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
}

// tinyPaths wires both paths on a fresh test database, each on a pool of its own, and closes them
// when the test ends. It returns the baseline's pool too, for the test's own queries.
func tinyPaths(ctx context.Context, t *testing.T) (*EventSourced, *Baseline, *pgxpool.Pool, *slog.Logger) {
	t.Helper()
	url := pgtest.NewURL(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	esPool, err := postgres.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(esPool.Close)
	basePool, err := postgres.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(basePool.Close)
	es, err := NewEventSourced(ctx, esPool, EventSourcedConfig{SnapshotEvery: 50, Logger: log})
	if err != nil {
		t.Fatalf("NewEventSourced: %v", err)
	}
	t.Cleanup(es.Close)
	base, err := NewBaseline(ctx, basePool)
	if err != nil {
		t.Fatal(err)
	}
	return es, base, basePool, log
}

// TestTinyBenchRestocks runs a short hot run on both paths while the seller restocks the product
// every 50 ms, and checks what `commerce bench --restock-every` checks: no restock refused (a
// conflict least of all), each one in the product's stock and, on the event-sourced path, in its
// stream, whose stock adds up.
func TestTinyBenchRestocks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	es, base, _, log := tinyPaths(ctx, t)
	r := &Runner{
		Paths:   []Path{es, base},
		Options: Options{Scenarios: []string{ScenarioHot}, Workers: []int{8}, Duration: time.Second, RestockEvery: 50 * time.Millisecond},
		Log:     log,
	}
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := es.Err(); err != nil {
		t.Fatalf("event-sourced workers: %v", err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("Run gave %d results, want hot on 2 paths: %+v", len(rep.Results), rep.Results)
	}
	for _, res := range rep.Results {
		rs := res.Restocks
		if rs == nil {
			t.Fatalf("hot on %s with --restock-every: no restocks reported: %+v", res.Path, res)
		}
		if !res.Verified || res.Errors > 0 || res.Accepted == 0 {
			t.Errorf("hot on %s: %+v, want verified, accepted orders and no errors", res.Path, res)
		}
		// 1 s at one restock every 50 ms is 19 restocks; a seller waits for each answer, and on a
		// busy machine the baseline's waits behind the hot row's lock for hundreds of ms.
		if rs.Sent < 3 || rs.Landed != rs.Sent || rs.Conflicts != 0 || rs.Failed != 0 || rs.Quantity != restockQuantity {
			t.Errorf("hot on %s: restocks %+v, want 3 or more sent, every one landed", res.Path, *rs)
		}
	}
}

// TestSampleCPU: work done by the server between two samples shows in the database's CPU time,
// and work done here in the process's; a backend that did more work before the first sample and
// exits before the second does not take its time off the run's.
func TestSampleCPU(t *testing.T) {
	ctx := t.Context()
	pool := pgtest.New(t)
	gone, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gone.Exec(ctx, `SELECT count(*) FROM generate_series(1, 3000000)`); err != nil {
		t.Fatal(err)
	}
	before := SampleCPU(ctx, pool)
	if !before.DBKnown {
		t.Fatalf("SampleCPU on the local test server: the server's CPU is unknown")
	}
	if err := gone.Hijack().Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `SELECT count(*) FROM generate_series(1, 1000000)`); err != nil {
		t.Fatal(err)
	}
	for x, deadline := 0, time.Now().Add(50*time.Millisecond); time.Now().Before(deadline); x++ {
		_ = x * x
	}
	after := SampleCPU(ctx, pool)
	if after.DBSince(before) <= 0 || after.App <= before.App {
		t.Fatalf("CPU of the server %v, of the process %v: want both to grow", after.DBSince(before), after.App-before.App)
	}
	res := Result{Settled: 10}
	res.perOrder(before, after)
	if res.DBCPUMsPerOrder <= 0 || res.AppCPUMsPerOrder <= 0 {
		t.Fatalf("perOrder = app %v, db %v ms; want both positive", res.AppCPUMsPerOrder, res.DBCPUMsPerOrder)
	}
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Sizes of the scenarios, from the issue that asked for the bench.
const (
	seedOrders   = 200
	seedStockA   = 30
	seedStockB   = 20
	seedAccepted = 15 // 30 / 2 A per order
	hotStock     = 1_000_000
	// hotRestockedStock is the hot product's stock when its seller restocks: a product's stock
	// plus its open reservations never passes 1,000,000, so hotStock would leave no room.
	hotRestockedStock = hotStock / 2
	restockQuantity   = 10
	uniformCount      = 10_000
	uniformStock      = 1_000
	userCount         = 1_000
	querySampling     = 5 * time.Millisecond
)

// Runner runs the chosen scenarios on every path, alternating between the paths, and collects
// the report.
type Runner struct {
	// Paths are measured back to back in each scenario and worker count; which goes first
	// alternates from one scenario and worker count to the next.
	Paths   []Path
	Options Options
	Machine Machine
	Log     *slog.Logger
	// BeforeRun, when set, is called before every path run; the command issues a CHECKPOINT so
	// that no path pays for the dirty pages of the one before it.
	BeforeRun func(ctx context.Context) error
	// UniformProducts is the number of products of the uniform and mixed scenarios; 0 means the
	// 10,000 the issue fixes. Tests use fewer.
	UniformProducts int
	// CPU, when set, samples CPU time before and after every timed run (SampleCPU), for the CPU
	// per order in the report.
	CPU func(ctx context.Context) CPUSample
}

// Run measures every scenario at every worker count on every path and verifies the stock after
// each run. It returns an error only when the bench itself cannot go on (a database error while
// setting up or reading stock, or ctx ending); orders that fail or stock that does not add up are
// in the report (Report.Failed).
func (r *Runner) Run(ctx context.Context) (rep Report, err error) {
	rep = Report{Started: time.Now(), Machine: r.Machine, Duration: r.Options.Duration.String()}
	defer rep.setRatios()
	pair := 0
	for _, sc := range r.Options.Scenarios {
		workers := r.Options.Workers
		if sc == ScenarioSeed {
			workers = []int{seedOrders}
		}
		for _, w := range workers {
			paths := slices.Clone(r.Paths)
			if pair%2 == 1 {
				slices.Reverse(paths)
			}
			pair++
			for _, p := range paths {
				if r.BeforeRun != nil {
					if err := r.BeforeRun(ctx); err != nil {
						return rep, err
					}
				}
				r.Log.Info("bench run", "scenario", sc, "workers", w, "path", p.Name())
				var res Result
				var err error
				if sc == ScenarioSeed {
					res, err = runSeed(ctx, p)
				} else {
					res, err = r.runTimed(ctx, p, sc, w)
				}
				if err != nil {
					return rep, fmt.Errorf("%s on %s with %d workers: %w", sc, p.Name(), w, err)
				}
				r.Log.Info("bench result", "scenario", sc, "workers", w, "path", p.Name(),
					"orders_per_second", int(res.OrdersPerSecond), "p99_ms", res.P99Ms, "verified", res.Verified, "problem", res.Problem)
				rep.Results = append(rep.Results, res)
			}
		}
	}
	return rep, nil
}

// tally is what the workers of one run saw.
type tally struct {
	latencies []time.Duration
	accepted  []Order
	rejected  int
	errors    int
	firstErr  error
}

func (t *tally) add(o Order, ok bool, err error, d time.Duration) {
	switch {
	case err != nil:
		t.errors++
		if t.firstErr == nil {
			t.firstErr = err
		}
		return
	case ok:
		t.accepted = append(t.accepted, o)
	default:
		t.rejected++
	}
	t.latencies = append(t.latencies, d)
}

func (t *tally) merge(o *tally) {
	t.latencies = append(t.latencies, o.latencies...)
	t.accepted = append(t.accepted, o.accepted...)
	t.rejected += o.rejected
	t.errors += o.errors
	if t.firstErr == nil {
		t.firstErr = o.firstErr
	}
}

// result turns a run's tally into its Result, without the verification.
func (t *tally) result(scenario string, p Path, workers int, elapsed time.Duration, before Counters) Result {
	after := p.Counters()
	settled := len(t.accepted) + t.rejected
	res := Result{
		Scenario: scenario, Path: p.Name(), Workers: workers,
		Seconds: elapsed.Seconds(), Settled: settled, Accepted: len(t.accepted), Rejected: t.rejected, Errors: t.errors,
		OrdersPerSecond: float64(settled) / elapsed.Seconds(),
		P50Ms:           millis(Percentile(t.latencies, 50)),
		P99Ms:           millis(Percentile(t.latencies, 99)),
		Conflicts:       after.Conflicts - before.Conflicts,
		Retries:         after.Retries - before.Retries,
	}
	if t.firstErr != nil {
		res.Problem = t.firstErr.Error()
	}
	return res
}

// verify reads the final stock of ids and checks it against the accepted orders and, when the
// seller restocked ids[0] (restocks not nil), the restocks (VerifyRestocks) and their stock.
func verify(ctx context.Context, p Path, ids []uuid.UUID, stocks []int, accepted []Order, restocks *Restocks, res *Result) (map[uuid.UUID]int, error) {
	if err := p.Drain(ctx); err != nil {
		return nil, fmt.Errorf("wait for the path to finish its work: %w", err)
	}
	final, err := p.Stocks(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read final stock: %w", err)
	}
	initial := make(map[uuid.UUID]int, len(ids))
	for i, id := range ids {
		initial[id] = stocks[i]
	}
	restocked := map[uuid.UUID]int{}
	var problems []string
	if restocks != nil {
		restocked[ids[0]] = restocks.Landed * restocks.Quantity
		var ledger *Ledger
		if lp, ok := p.(Ledgered); ok {
			l, err := lp.Ledger(ctx, ids[0])
			if err != nil {
				return nil, fmt.Errorf("read the stock history of %s: %w", ids[0], err)
			}
			ledger = &l
		}
		taken := 0
		for _, o := range accepted {
			for _, l := range o.Lines {
				if l.ProductID == ids[0] {
					taken += l.Quantity
				}
			}
		}
		if err := VerifyRestocks(*restocks, stocks[0], taken, ledger); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if err := Verify(initial, restocked, accepted, final); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		res.Problem = strings.Join(problems, "; ")
		return final, nil
	}
	res.Verified = true
	return final, nil
}

// runSeed places 200 orders of [A × 2, B × 1] at once, with A = 30 and B = 20 in stock, and
// checks that exactly 15 succeed, leaving A at 0 and B at 5.
func runSeed(ctx context.Context, p Path) (Result, error) {
	stocks := []int{seedStockA, seedStockB}
	ids, err := p.AddProducts(ctx, stocks)
	if err != nil {
		return Result{}, fmt.Errorf("add products: %w", err)
	}
	a, b := ids[0], ids[1]
	before := p.Counters()
	tallies := make([]tally, seedOrders)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range tallies {
		o := Order{ID: uuid.New(), UserID: uuid.New(), Lines: []Line{{ProductID: a, Quantity: 2}, {ProductID: b, Quantity: 1}}}
		wg.Go(func() {
			<-start
			t0 := time.Now()
			ok, err := p.Place(ctx, o)
			tallies[i].add(o, ok, err, time.Since(t0))
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	var all tally
	for i := range tallies {
		all.merge(&tallies[i])
	}
	res := all.result(ScenarioSeed, p, seedOrders, elapsed, before)
	final, err := verify(ctx, p, ids, stocks, all.accepted, nil, &res)
	if err != nil {
		return Result{}, err
	}
	if res.Verified && (res.Accepted != seedAccepted || final[a] != 0 || final[b] != seedStockB-seedAccepted) {
		res.Verified = false
		res.Problem = fmt.Sprintf("%d orders succeeded, A = %d, B = %d; want %d, 0, %d",
			res.Accepted, final[a], final[b], seedAccepted, seedStockB-seedAccepted)
	}
	return res, nil
}

// timed is a scenario that runs for a duration: its products and how it makes an order.
type timed struct {
	stocks []int
	order  func(rng *rand.Rand, ids []uuid.UUID) []Line
}

// scenario returns the timed scenario name; uniform and mixed have products products (0: the
// issue's 10,000), the hot product less stock when its seller restocks it.
func scenario(name string, products int, restocking bool) timed {
	switch name {
	case ScenarioHot:
		stock := hotStock
		if restocking {
			stock = hotRestockedStock
		}
		return timed{stocks: []int{stock}, order: func(_ *rand.Rand, ids []uuid.UUID) []Line {
			return []Line{{ProductID: ids[0], Quantity: 1}}
		}}
	default: // uniform and mixed
		if products <= 0 {
			products = uniformCount
		}
		stocks := make([]int, products)
		for i := range stocks {
			stocks[i] = uniformStock
		}
		return timed{stocks: stocks, order: uniformLines}
	}
}

// uniformLines picks 1-3 distinct random products, each with quantity 1-2.
func uniformLines(rng *rand.Rand, ids []uuid.UUID) []Line {
	n := 1 + rng.IntN(3)
	lines := make([]Line, 0, n)
	for len(lines) < n {
		id := ids[rng.IntN(len(ids))]
		if slices.ContainsFunc(lines, func(l Line) bool { return l.ProductID == id }) {
			continue
		}
		lines = append(lines, Line{ProductID: id, Quantity: 1 + rng.IntN(2)})
	}
	return lines
}

// queryWorkers is how many workers query while the mixed scenario's workers write: a shop is read
// more than it is written, but a query load that saturates two cores would measure only itself.
func queryWorkers(workers int) int { return max(1, workers/4) }

// runTimed runs a timed scenario on p: workers place orders until the duration is over; in the
// mixed scenario query workers read meanwhile and the projection lag is sampled; in the hot
// scenario with Options.RestockEvery the seller restocks the product meanwhile.
func (r *Runner) runTimed(ctx context.Context, p Path, name string, workers int) (Result, error) {
	restocking := name == ScenarioHot && r.Options.RestockEvery > 0
	sc := scenario(name, r.UniformProducts, restocking)
	ids, err := p.AddProducts(ctx, sc.stocks)
	if err != nil {
		return Result{}, fmt.Errorf("add products: %w", err)
	}
	users := make([]uuid.UUID, userCount)
	for i := range users {
		users[i] = uuid.New()
	}
	proj, projecting := p.(Projecting)
	mixed := name == ScenarioMixed
	if mixed && projecting {
		if err := proj.StartProjections(ctx); err != nil {
			return Result{}, fmt.Errorf("start projections: %w", err)
		}
	}

	before := p.Counters()
	var cpuBefore CPUSample
	if r.CPU != nil {
		cpuBefore = r.CPU(ctx)
	}
	tallies := make([]tally, workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(r.Options.Duration)
	for i := range tallies {
		rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				o := Order{ID: uuid.New(), UserID: users[rng.IntN(len(users))], Lines: sc.order(rng, ids)}
				t0 := time.Now()
				ok, err := p.Place(ctx, o)
				tallies[i].add(o, ok, err, time.Since(t0))
			}
		})
	}

	var q *queries
	if mixed {
		q = startQueries(ctx, p, queryWorkers(workers), users)
	}
	var seller *restocker
	if restocking {
		seller = startRestocks(ctx, p, ids[0], r.Options.RestockEvery, deadline)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if q != nil {
		q.stop()
	}
	var restocks *Restocks
	if seller != nil {
		restocks = seller.wait()
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	var all tally
	for i := range tallies {
		all.merge(&tallies[i])
	}
	res := all.result(name, p, workers, elapsed, before)
	if r.CPU != nil {
		res.perOrder(cpuBefore, r.CPU(ctx))
	}
	if q != nil {
		q.report(&res)
	}
	res.Restocks = restocks
	if _, err := verify(ctx, p, ids, sc.stocks, all.accepted, restocks, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// restocker is the hot scenario's seller: it restocks one product at an interval until the run's
// deadline, one restock at a time, as one seller at a console would.
type restocker struct {
	done      chan struct{}
	restocks  Restocks
	latencies []time.Duration
}

// startRestocks restocks product id by restockQuantity every interval, the first one interval
// after the start, until deadline. A restock still unanswered when the next is due delays it: a
// seller waits for the answer.
func startRestocks(ctx context.Context, p Path, id uuid.UUID, every time.Duration, deadline time.Time) *restocker {
	s := &restocker{done: make(chan struct{}), restocks: Restocks{Quantity: restockQuantity}}
	go func() {
		defer close(s.done)
		next := time.Now().Add(every)
		for next.Before(deadline) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(next)):
			}
			t0 := time.Now()
			err := p.Restock(ctx, id, restockQuantity)
			s.note(err, time.Since(t0))
			if next = next.Add(every); next.Before(time.Now()) {
				next = time.Now()
			}
		}
	}()
	return s
}

func (s *restocker) note(err error, d time.Duration) {
	s.restocks.Sent++
	switch {
	case err == nil:
		s.restocks.Landed++
		s.latencies = append(s.latencies, d)
	case errors.Is(err, ErrConflict):
		s.restocks.Conflicts++
	default:
		s.restocks.Failed++
	}
	if err != nil && s.restocks.FirstError == "" {
		s.restocks.FirstError = err.Error()
	}
}

// wait waits for the seller's last restock and returns what it did.
func (s *restocker) wait() *Restocks {
	<-s.done
	s.restocks.P99Ms = millis(Percentile(s.latencies, 99))
	return &s.restocks
}

// queries are the mixed scenario's readers and projection-lag sampler.
type queries struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	catalog []time.Duration
	orders  []time.Duration
	lag     []time.Duration
	workers int
	errs    []error
}

// QueryInterval paces each query worker of the mixed scenario: one query every interval, so both
// paths serve the same read load. (Workers that query as fast as they are answered give the path
// with the faster read side more queries to answer, with the CPU its orders need: 2.5 times the
// baseline's queries in the runs before this pacing.) A query's time counts from when it was due,
// so a query held up by a slow one before it counts its wait.
const QueryInterval = 20 * time.Millisecond

// startQueries starts workers query workers on p and, when p projects, the projection-lag sampler.
func startQueries(ctx context.Context, p Path, workers int, users []uuid.UUID) *queries {
	ctx, cancel := context.WithCancel(ctx)
	q := &queries{cancel: cancel, workers: workers}
	for range workers {
		rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		q.wg.Go(func() {
			next := time.Now().Add(rand.N(QueryInterval)) // the workers spread over an interval
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				var err error
				if i%2 == 0 {
					err = p.QueryCatalog(ctx, rng)
				} else {
					err = p.QueryUserOrders(ctx, users[rng.IntN(len(users))])
				}
				q.note(ctx, err, time.Since(next), i%2 == 0)
				next = next.Add(QueryInterval)
			}
		})
	}
	if proj, ok := p.(Projecting); ok {
		q.wg.Go(func() {
			for ctx.Err() == nil {
				d, err := proj.ProjectionLag(ctx)
				if ctx.Err() != nil {
					return // a sample cut short by the end of the run says nothing
				}
				q.mu.Lock()
				if err != nil {
					q.errs = append(q.errs, fmt.Errorf("sample projection lag: %w", err))
				} else {
					q.lag = append(q.lag, d)
				}
				q.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(querySampling):
				}
			}
		})
	}
	return q
}

func (q *queries) note(ctx context.Context, err error, d time.Duration, catalog bool) {
	if ctx.Err() != nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case err != nil:
		q.errs = append(q.errs, err)
	case catalog:
		q.catalog = append(q.catalog, d)
	default:
		q.orders = append(q.orders, d)
	}
}

func (q *queries) stop() {
	q.cancel()
	q.wg.Wait()
}

func (q *queries) report(res *Result) {
	res.QueryWorkers = q.workers
	res.Queries = len(q.catalog) + len(q.orders)
	res.CatalogP50Ms = millis(Percentile(q.catalog, 50))
	res.CatalogP99Ms = millis(Percentile(q.catalog, 99))
	res.UserOrdersP50Ms = millis(Percentile(q.orders, 50))
	res.UserOrdersP99Ms = millis(Percentile(q.orders, 99))
	res.LagSamples = len(q.lag)
	res.ProjectionLagP99 = millis(Percentile(q.lag, 99))
	if len(q.errs) > 0 {
		res.Errors += len(q.errs)
		if res.Problem == "" {
			res.Problem = q.errs[0].Error()
		}
	}
}

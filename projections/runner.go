package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/leader"
)

// Options tune a Runner. The zero value gives the defaults.
type Options struct {
	// CatchUpBatch is the number of events read and applied per transaction while a projector
	// catches up with the log. Default 2000.
	CatchUpBatch int
	// RebuildBatch is the same while a rebuild replays the log into its shadow schema. Default
	// 20000: a rebuild holds about five batches in memory at once, and each batch costs every
	// projector a few round trips and one update of each row it changes.
	RebuildBatch int
	// RetryMin and RetryMax bound the backoff between attempts at a failing batch, and between
	// attempts to (re)start a projector after an infrastructure error. Defaults 100 ms and 30 s.
	RetryMin, RetryMax time.Duration
	// Log is what the runner follows the log through: the process's shared tail of the log
	// (logtail.Tail), or nil for the store's own subscription.
	Log eventstore.Subscriber
	// CheckEvery is how often an active runner measures its lag. Default 5 s.
	CheckEvery time.Duration
	// WaitPoll is how long WaitFor's listener waits for a notification before reading the
	// checkpoints from the database instead. Default 1 s.
	WaitPoll time.Duration
	// SwapLockTimeout bounds how long a rebuild's swap waits for queries on the live tables before
	// it gives up and tries again. Default 10 s.
	SwapLockTimeout time.Duration
	// Metrics receives the runner's measurements; nil discards them.
	Metrics Metrics
	// Logger receives failures, takeovers and rebuild progress; nil uses slog.Default().
	Logger *slog.Logger
	// Tracer, when set, records a span for every applied event that carries a trace context;
	// nil (tracing off) records none.
	Tracer trace.Tracer
}

func (o Options) withDefaults(store eventstore.Store) Options {
	if o.CatchUpBatch <= 0 {
		o.CatchUpBatch = 2000
	}
	if o.RebuildBatch <= 0 {
		o.RebuildBatch = 20000
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(30*time.Second, o.RetryMin)
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = 5 * time.Second
	}
	if o.WaitPoll <= 0 {
		o.WaitPoll = time.Second
	}
	if o.SwapLockTimeout <= 0 {
		o.SwapLockTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = store
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Runner keeps projectors' read models up to date with the global log. Run follows the log;
// WaitFor waits for a checkpoint; Rebuild and List serve the admin commands. A process that only
// answers queries creates a Runner for WaitFor and List without calling Run.
type Runner struct {
	pool       *pgxpool.Pool
	store      eventstore.Store
	projectors []Projector
	workers    map[string]*worker
	opts       Options
	log        *slog.Logger
	waiter     *waiter
}

// NewRunner returns a runner of projectors that reads the log from store and writes the read models
// and checkpoints through pool. Projector names must be unique.
func NewRunner(pool *pgxpool.Pool, store eventstore.Store, projectors []Projector, opts Options) (*Runner, error) {
	opts = opts.withDefaults(store)
	r := &Runner{
		pool:       pool,
		store:      store,
		projectors: slices.Clone(projectors),
		workers:    map[string]*worker{},
		opts:       opts,
		log:        opts.Logger,
	}
	for _, p := range projectors {
		name := p.Name()
		if name == "" {
			return nil, errors.New("new projection runner: a projector has an empty name")
		}
		if _, dup := r.workers[name]; dup {
			return nil, fmt.Errorf("new projection runner: two projectors are named %q", name)
		}
		if len(p.Tables()) == 0 {
			return nil, fmt.Errorf("new projection runner: projector %s owns no tables", name)
		}
		r.workers[name] = &worker{p: p, name: name, metrics: opts.Metrics, state: StateStopped}
	}
	r.waiter = newWaiter(pool, opts.WaitPoll, opts.Logger)
	return r, nil
}

// Names returns the names of the runner's projectors, in the order they were given.
func (r *Runner) Names() []string {
	names := make([]string, len(r.projectors))
	for i, p := range r.projectors {
		names[i] = p.Name()
	}
	return names
}

// Close stops WaitFor's listener. Waits in progress end with ErrBehind.
func (r *Runner) Close() {
	r.waiter.close()
}

// lookup finds a projector by its name, or by its base name ("catalog" finds "catalog.v2").
func (r *Runner) lookup(name string) (*worker, error) {
	if w, ok := r.workers[name]; ok {
		return w, nil
	}
	for _, p := range r.projectors {
		if BaseName(p.Name()) == name {
			return r.workers[p.Name()], nil
		}
	}
	return nil, fmt.Errorf("projector %q: %w", name, ErrUnknownProjector)
}

// Run follows the log for every projector until ctx ends, then returns nil. Each projector runs
// where its advisory lock is held: in this process, or in another one while this one stands by
// and takes over when the other's session ends. Run sets up each projector's tables when it
// starts, and rebuilds a projector whose version changed (see Rebuild). Failures are retried with
// backoff and reported through Status, List, the Metrics and the Logger; Run never skips an event.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, p := range r.projectors {
		w := r.workers[p.Name()]
		wg.Go(func() { r.runWorker(ctx, w) })
	}
	wg.Wait()
	return nil
}

// runWorker keeps one projector going until ctx ends or a newer version replaces it: it leads the
// projector while it holds its lock and starts over after a failure, with a backoff that starts
// again from RetryMin once the projector has applied events.
func (r *Runner) runWorker(ctx context.Context, w *worker) {
	b := r.backoff()
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := r.lead(ctx, w, b)
		switch {
		case ctx.Err() != nil:
			return struct{}{}, backoff.Permanent(ctx.Err())
		case errors.Is(err, errSuperseded):
			return struct{}{}, backoff.Permanent(err)
		}
		w.fail(err)
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, d time.Duration) {
		r.log.Error("projection runner stopped, restarting", "projector", w.name, "err", err, "retry_in", d)
	}))
	w.setState(StateStopped)
	if errors.Is(err, errSuperseded) {
		r.log.Warn("projection stopped: a newer version replaced it", "projector", w.name)
	}
}

// backoff returns the runner's backoff between attempts: from RetryMin, doubling, up to RetryMax.
func (r *Runner) backoff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: r.opts.RetryMin, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: r.opts.RetryMax}
}

// lead waits for the projector's advisory lock, then sets it up and follows the log while the lock
// is held. It returns when ctx ends, the lock's connection fails, or following fails. b is reset
// whenever a batch commits.
func (r *Runner) lead(ctx context.Context, w *worker, b *backoff.ExponentialBackOff) error {
	w.setState(StateStandby)
	return leader.Lead(ctx, r.pool.Config().ConnConfig, leader.Lock{Class: liveLockClass, Key: lockKey(w.name)}, leader.Options{},
		func(ctx context.Context, _ *leader.Session) error {
			r.log.Info("projection runner active", "projector", w.name)
			w.setState(StateRunning)
			var wg sync.WaitGroup
			defer wg.Wait()
			mctx, stop := context.WithCancel(ctx)
			defer stop()
			wg.Go(func() { r.measure(mctx, w) })
			if err := r.prepare(ctx, w); err != nil {
				return err
			}
			return r.follow(ctx, w, b)
		})
}

// measure reads the log's head and measures the projector's lag every CheckEvery until ctx ends.
func (r *Runner) measure(ctx context.Context, w *worker) {
	t := time.NewTicker(r.opts.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		head, err := r.store.Head(ctx)
		if err != nil {
			continue
		}
		w.setHead(head)
		pos := w.info().Position
		if n, err := r.lagEvents(ctx, pos, head); err == nil {
			w.metrics.Lag(w.name, uint64(max(head, pos)-pos), n)
		}
	}
}

// connect opens a connection outside the pool for a LISTEN or a rebuild's lock, which hold a
// session for a long time, with leader's keepalives: a peer that vanished frees its locks in
// seconds, not hours.
func (r *Runner) connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.ConnectConfig(ctx, leader.Keepalive(r.pool.Config().ConnConfig))
}

// prepare readies the live tables of the projector: set up (creating what a new release added), built
// from scratch for a new projector, or rebuilt for a new version while the old version's tables keep
// serving.
func (r *Runner) prepare(ctx context.Context, w *worker) error {
	rows, err := loadCheckpoints(ctx, r.pool)
	if err != nil {
		return err
	}
	if _, ok := rows[w.name]; ok {
		return r.setupLive(ctx, w.p)
	}
	if len(olderVersions(rows, w.name)) > 0 {
		r.log.Info("projection version changed: rebuilding", "projector", w.name)
		return r.rebuild(ctx, []*worker{w}, r.logProgress(w.name))
	}
	return r.createLive(ctx, w.p)
}

// olderVersions returns the names of the rows that are other versions of name.
func olderVersions(rows map[string]checkpointRow, name string) []string {
	var out []string
	for n := range rows {
		if n != name && BaseName(n) == BaseName(name) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// setupLive runs Setup in the live schema for a projector that has a checkpoint.
func (r *Runner) setupLive(ctx context.Context, p Projector) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, ok, err := lockCheckpoint(ctx, tx, p.Name()); err != nil {
			return err
		} else if !ok {
			return errSuperseded
		}
		if err := setSearchPath(ctx, tx, LiveSchema); err != nil {
			return err
		}
		if err := p.Setup(ctx, tx); err != nil {
			return fmt.Errorf("set up %s: %w", p.Name(), err)
		}
		if _, err := tx.Exec(ctx, `UPDATE `+checkpointTable+` SET tables = $2 WHERE name = $1`, p.Name(), p.Tables()); err != nil {
			return fmt.Errorf("record tables of %s: %w", p.Name(), err)
		}
		return nil
	})
}

// createLive starts a projector that has no checkpoint and no older version: tables left behind
// without a checkpoint are dropped (their position is unknown), then created empty at position 0.
func (r *Runner) createLive(ctx context.Context, p Projector) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO `+checkpointTable+` (name, tables) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
			p.Name(), p.Tables())
		if err != nil {
			return fmt.Errorf("create checkpoint of %s: %w", p.Name(), err)
		}
		if tag.RowsAffected() == 1 {
			if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+qualified(LiveSchema, p.Tables())); err != nil {
				return fmt.Errorf("drop tables of %s without checkpoint: %w", p.Name(), err)
			}
		}
		if err := setSearchPath(ctx, tx, LiveSchema); err != nil {
			return err
		}
		if err := p.Setup(ctx, tx); err != nil {
			return fmt.Errorf("set up %s: %w", p.Name(), err)
		}
		return nil
	})
}

// qualified lists tables in schema for a DROP TABLE statement.
func qualified(schema string, tables []string) string {
	out := make([]byte, 0, 64)
	for i, t := range tables {
		if i > 0 {
			out = append(out, ", "...)
		}
		out = append(out, pgx.Identifier{schema, t}.Sanitize()...)
	}
	return string(out)
}

// follow applies the log to the live tables from the checkpoint: in large batches while it catches
// up, then as the store's subscription delivers events.
func (r *Runner) follow(ctx context.Context, w *worker, b *backoff.ExponentialBackOff) error {
	var p int64
	if err := r.pool.QueryRow(ctx, `SELECT position FROM `+checkpointTable+` WHERE name = $1`, w.name).Scan(&p); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return errSuperseded
		}
		return fmt.Errorf("read checkpoint of %s: %w", w.name, err)
	}
	pos := eventstore.Position(p)
	w.committed(pos, 0, 0)
	r.waiter.advance(w.name, pos)
	if head, err := r.store.Head(ctx); err == nil {
		w.setHead(head)
	}

	a := &analyzer{r: r, w: w, ctx: ctx}
	defer a.wg.Wait()
	rctx, cancel := context.WithCancel(ctx)
	caughtUp := 0
	for res := range readAhead(rctx, r.store, pos, r.opts.CatchUpBatch, r.opts.CatchUpBatch) {
		if res.err != nil {
			cancel()
			return fmt.Errorf("catch up %s: %w", w.name, res.err)
		}
		if len(res.recs) == 0 {
			break
		}
		if err := r.applyLive(ctx, w, res.recs, b); err != nil {
			cancel()
			return err
		}
		pos = res.recs[len(res.recs)-1].Position
		caughtUp += len(res.recs)
		a.applied(len(res.recs))
	}
	cancel()
	if caughtUp >= analyzeAfter {
		a.wg.Wait()
		if err := analyze(ctx, r.pool, LiveSchema, w.p.Tables()); err != nil {
			r.log.Warn("projection tables not analyzed after catching up", "projector", w.name, "err", err)
		}
	}
	err := r.opts.Log.SubscribeAll(ctx, pos, func(ctx context.Context, recs []eventstore.Record) error {
		if len(recs) == 0 {
			return nil
		}
		w.setHead(recs[len(recs)-1].Position)
		if err := r.applyLive(ctx, w, recs, b); err != nil {
			return err
		}
		a.applied(len(recs))
		return nil
	})
	if err != nil {
		return fmt.Errorf("follow %s: %w", w.name, err)
	}
	return nil
}

// analyzeAfter is how many events a catch-up applies before the runner analyzes the projector's
// tables rather than leave it to autovacuum, which may not come for a minute or more: until then
// the planner believes in the tables' old sizes (empty, for a new projector) and may sort every
// row of a catalog page query instead of walking its index, or read every order line to find
// the lines of one page of orders. It is also how many events the analyzer lets pass between two
// looks at the tables' sizes.
const analyzeAfter = 1000

// analyzeGrowth is how many rows a table must have gained since it was last analyzed, besides
// doubling, before the analyzer analyzes it again.
const analyzeGrowth = 500

// grownTablesSQL returns those of the tables $2 in schema $1 that at least doubled, by at least $3
// rows, since they were last analyzed (reltuples is -1 for a table never analyzed).
const grownTablesSQL = `SELECT c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE n.nspname = $1 AND c.relname = ANY($2)
  AND s.n_live_tup >= 2 * greatest(c.reltuples, 0) AND s.n_live_tup - greatest(c.reltuples, 0) >= $3`

// analyzer keeps the planner's statistics of a projector's live tables current while they grow:
// every analyzeAfter events applied, in the background and one look at a time, it analyzes the
// tables that doubled since their last analysis. Tables that start empty and fill fast (a new
// shop, or a new projector's order tables after a catch-up over the products) so are planned by
// their size while they grow, and the analyses become rare once they are large, where
// autovacuum's share of changed rows takes over.
type analyzer struct {
	r       *Runner
	w       *worker
	ctx     context.Context
	wg      sync.WaitGroup
	looking atomic.Bool
	events  int // applied since the last look
}

// applied counts n more events applied and starts a look when one is due and none is under way.
func (a *analyzer) applied(n int) {
	if a.events += n; a.events < analyzeAfter || !a.looking.CompareAndSwap(false, true) {
		return
	}
	a.events = 0
	a.wg.Go(func() {
		defer a.looking.Store(false)
		if err := a.analyzeGrown(); err != nil && a.ctx.Err() == nil {
			a.r.log.Warn("projection tables not analyzed while they grow", "projector", a.w.name, "err", err)
		}
	})
}

// analyzeGrown analyzes the projector's tables that doubled since their last analysis.
func (a *analyzer) analyzeGrown() error {
	rows, err := a.r.pool.Query(a.ctx, grownTablesSQL, LiveSchema, a.w.p.Tables(), analyzeGrowth)
	if err != nil {
		return fmt.Errorf("read sizes of %s: %w", qualified(LiveSchema, a.w.p.Tables()), err)
	}
	grown, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read sizes of %s: %w", qualified(LiveSchema, a.w.p.Tables()), err)
	}
	if len(grown) == 0 {
		return nil
	}
	return analyze(a.ctx, a.r.pool, LiveSchema, grown)
}

// analyze updates the planner's statistics of tables in schema.
func analyze(ctx context.Context, pool *pgxpool.Pool, schema string, tables []string) error {
	if _, err := pool.Exec(ctx, `ANALYZE `+qualified(schema, tables)); err != nil {
		return fmt.Errorf("analyze %s: %w", qualified(schema, tables), err)
	}
	return nil
}

// readResult is one batch of readAhead.
type readResult struct {
	recs []eventstore.Record
	err  error
}

// readAhead reads the log after from in batches of limit on its own goroutine, up to two batches
// ahead of the consumer, so that reading overlaps applying. The first batch is of first events
// (at most limit), and each next one twice the one before until it is limit: a consumer of large
// batches starts while the reader fills them. The channel closes after the first batch shorter
// than asked for (the head, as far as the reader could see), an error, or when ctx ends; a consumer
// that stops early cancels ctx.
func readAhead(ctx context.Context, store eventstore.Store, from eventstore.Position, first, limit int) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		defer close(ch)
		n := max(1, min(first, limit))
		for {
			recs, err := store.ReadAll(ctx, from, n)
			select {
			case ch <- readResult{recs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(recs) < n {
				return
			}
			from = recs[len(recs)-1].Position
			n = min(2*n, limit)
		}
	}()
	return ch
}

// applyLive applies recs to the live tables, retrying with b until it succeeds or ctx ends; a
// commit resets b. When one event is to blame, the events before it are committed, and the runner
// stays at that event, reporting it, until it applies.
func (r *Runner) applyLive(ctx context.Context, w *worker, recs []eventstore.Record, b *backoff.ExponentialBackOff) error {
	commit := func(recs []eventstore.Record) error {
		start := time.Now()
		pos, n, err := r.commitLive(ctx, w.p, recs)
		if err == nil {
			w.committed(pos, n, time.Since(start))
			r.traceApplied(w.name, recs, start)
			r.waiter.advance(w.name, pos)
			b.Reset()
		}
		return err
	}
	b.Reset()
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := commit(recs)
		if err == nil || ctx.Err() != nil || errors.Is(err, errSuperseded) {
			return struct{}{}, backoff.Permanent(err)
		}
		var ee *EventError
		if errors.As(err, &ee) {
			if i := indexOf(recs, ee.Record.Position); i > 0 && commit(recs[:i]) == nil {
				recs = recs[i:]
			}
		}
		w.fail(err)
		if head, herr := r.store.Head(ctx); herr == nil {
			w.setHead(head)
		}
		if rerr := recordFailure(ctx, r.pool, w.name, err); rerr != nil {
			r.log.Error("projection failure not recorded", "projector", w.name, "err", rerr)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, d time.Duration) {
		attrs := []any{"projector", w.name, "err", err, "retry_in", d}
		if ee := (*EventError)(nil); errors.As(err, &ee) {
			attrs = append(attrs, eventLogAttrs(ee.Record)...)
		}
		r.log.Error("projection failed, retrying", attrs...)
	}))
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// indexOf returns the index of the record at pos in recs, or -1.
func indexOf(recs []eventstore.Record, pos eventstore.Position) int {
	for i, rec := range recs {
		if rec.Position == pos {
			return i
		}
	}
	return -1
}

// commitLive applies the records after the checkpoint to the live tables and moves the checkpoint,
// in one transaction. It returns the checkpoint after the commit and the number of events applied.
func (r *Runner) commitLive(ctx context.Context, p Projector, recs []eventstore.Record) (eventstore.Position, int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("begin batch of %s: %w", p.Name(), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	cp, ok, err := lockBatch(ctx, tx, p.Name(), LiveSchema)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, errSuperseded
	}
	todo := after(recs, cp)
	if len(todo) == 0 {
		return cp, 0, nil
	}
	if err := applyAll(ctx, tx, p, todo); err != nil {
		return 0, 0, err
	}
	last := todo[len(todo)-1].Position
	if err := moveCheckpoint(ctx, tx, p.Name(), last); err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("commit batch of %s at %d: %w", p.Name(), last, err)
	}
	return last, len(todo), nil
}

// after returns the records of recs past pos: the ones a checkpoint at pos has not applied yet.
func after(recs []eventstore.Record, pos eventstore.Position) []eventstore.Record {
	for i, rec := range recs {
		if rec.Position > pos {
			return recs[i:]
		}
	}
	return nil
}

// applyAll applies recs in tx with p: planned and written. A failure is an *EventError when p names
// the event.
func applyAll(ctx context.Context, tx pgx.Tx, p Projector, recs []eventstore.Record) error {
	pl, err := plan(p, recs)
	if err != nil {
		return err
	}
	return write(ctx, tx, p, recs, pl)
}

// plan decodes recs with p's Plan, or, when p is not a Planner, returns a Plan that is its Apply.
func plan(p Projector, recs []eventstore.Record) (Plan, error) {
	pl, ok := p.(Planner)
	if !ok {
		return applyPlan{p, recs}, nil
	}
	out, err := pl.Plan(recs)
	if err != nil {
		return nil, applyError(p, recs, err)
	}
	return out, nil
}

// write writes pl, the plan of recs, in tx.
func write(ctx context.Context, tx pgx.Tx, p Projector, recs []eventstore.Record, pl Plan) error {
	if err := pl.Write(ctx, tx); err != nil {
		return applyError(p, recs, err)
	}
	return nil
}

// applyError names the batch an error of p's is about, unless it names its event.
func applyError(p Projector, recs []eventstore.Record, err error) error {
	var ee *EventError
	if errors.As(err, &ee) {
		return err
	}
	return fmt.Errorf("apply batch of %s from position %d: %w", p.Name(), recs[0].Position, err)
}

// applyPlan is the Plan of a projector that is not a Planner: its Apply.
type applyPlan struct {
	p    Projector
	recs []eventstore.Record
}

func (a applyPlan) Write(ctx context.Context, tx pgx.Tx) error { return a.p.Apply(ctx, tx, a.recs) }

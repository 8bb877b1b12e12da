package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/leader"
)

// Progress is how far a rebuild is. A rebuild reports it after every batch and once at the end.
type Progress struct {
	Projector string
	Done      int64               // events replayed into the shadow tables so far
	Total     int64               // events to replay: an estimate, which grows while writes continue
	Position  eventstore.Position // the last event replayed
	Head      eventstore.Position // the log's head when last measured
	Elapsed   time.Duration
	Rate      float64       // events per second since the start
	ETA       time.Duration // the time left at Rate
	Swapped   bool          // the final report: the rebuilt tables serve queries now
}

// IndexDeferrer is implemented by projectors whose tables have indexes that only queries use. A
// rebuild drops them from the shadow tables right after Setup and creates them again, as Setup
// defined them, after the replay and before the swap: building an index once is much cheaper than
// maintaining it through every event of the log. An index the projector's own statements find rows
// by must not be listed, or the replay would scan whole tables.
type IndexDeferrer interface {
	// DeferredIndexes names the indexes (without a schema) a rebuild may build after the replay.
	DeferredIndexes() []string
}

// BatchFolder is implemented by projectors that fold the events of a batch into one write of each
// row they change, where a log cut into fewer batches means fewer rows written: every order
// changes the stock of its products, and the catalog writes each product a batch changes once. A
// rebuild plans FoldBatches of its batches (of Options.RebuildBatch events) at once for them.
type BatchFolder interface {
	// FoldBatches is how many of a rebuild's batches the projector plans and writes as one.
	FoldBatches() int
}

// swapAttempts is how many times a rebuild tries its swap when queries on the live tables keep it
// from taking their locks within SwapLockTimeout.
const swapAttempts = 3

// Rebuild rebuilds the projector named name (or whose base name is name) from the beginning of the
// log without downtime: it builds the tables in a shadow schema (ShadowSchema) while the live
// tables keep serving queries and the live runner keeps them current, replays the log into them in
// large batches, and then, in one transaction that makes the live runners of every version of the
// projector wait, applies the last events, drops the live tables (and those of older versions),
// moves the shadow tables into the live schema and sets the checkpoint. progress, if not nil, is
// called after each batch and once after the swap. Only one rebuild of a projector runs at a time
// across processes: another one is refused with ErrRebuildRunning. On failure the live tables are
// untouched; an *EventError names the event a projector failed at.
func (r *Runner) Rebuild(ctx context.Context, name string, progress func(Progress)) error {
	return r.RebuildAll(ctx, []string{name}, progress)
}

// RebuildAll is Rebuild for several projectors at once (all of the runner's when names is empty):
// the log is read once and every batch goes to each projector's shadow tables on its own
// connection, so the projectors replay side by side; then each is swapped in. progress gets one
// Progress for them all: Done is the slowest projector's, Swapped comes when every one is swapped.
// The first failure stops them all; the live tables of those not yet swapped stay as they were.
func (r *Runner) RebuildAll(ctx context.Context, names []string, progress func(Progress)) error {
	if len(names) == 0 {
		names = r.Names()
	}
	var ws []*worker
	for _, name := range names {
		w, err := r.lookup(name)
		if err != nil {
			return err
		}
		if !slices.Contains(ws, w) {
			ws = append(ws, w)
		}
	}
	return r.rebuild(ctx, ws, progress)
}

// rebuildJob is one projector's part of a rebuild.
type rebuildJob struct {
	w        *worker
	shadow   string
	hadRow   bool                // it had a checkpoint when the rebuild began
	deferred map[string][]string // index definitions by table
	pos      eventstore.Position
	t        *tracker
}

func (r *Runner) rebuild(ctx context.Context, ws []*worker, progress func(Progress)) error {
	what := ws[0].name
	if len(ws) > 1 {
		what = fmt.Sprintf("%d projectors", len(ws))
	}
	conn, err := r.connect(ctx)
	if err != nil {
		return fmt.Errorf("rebuild %s: connect for lock: %w", what, err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) // releases the locks
	for _, w := range ws {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, rebuildLockClass, lockKey(w.name)).Scan(&ok); err != nil {
			return fmt.Errorf("rebuild %s: take lock: %w", w.name, err)
		}
		if !ok {
			return fmt.Errorf("rebuild %s: %w", w.name, ErrRebuildRunning)
		}
	}
	rows, err := loadCheckpoints(ctx, r.pool)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", what, err)
	}
	report := progress
	if len(ws) > 1 && progress != nil {
		report = newCombined(ws, progress).report
	}
	head, counted, err := r.measureLog(ctx, what)
	if err != nil {
		return err
	}
	jobs := make([]*rebuildJob, len(ws))
	for i, w := range ws {
		_, hadRow := rows[w.name]
		jobs[i] = &rebuildJob{w: w, shadow: ShadowSchema(w.name), hadRow: hadRow, t: newTracker(r, w, report)}
		defer w.setRebuild(nil)
		jobs[i].t.begin(head, counted)
	}
	err = eachJob(ctx, jobs, func(ctx context.Context, j *rebuildJob) (err error) {
		j.deferred, err = r.createShadow(ctx, j.w.p, j.shadow)
		return err
	})
	if err != nil {
		return err
	}
	if err := r.replay(ctx, jobs); err != nil {
		return err
	}
	return eachJob(ctx, jobs, r.finish)
}

// eachJob runs fn for every job side by side: the work of each is the database's, on a connection
// of its own. The first failure cancels the others and is returned.
func eachJob(ctx context.Context, jobs []*rebuildJob, fn func(context.Context, *rebuildJob) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			if err := fn(ctx, j); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// measureLog returns the log's head and, when the store can count, its number of events (else -1),
// which every job of a rebuild starts its Progress with.
func (r *Runner) measureLog(ctx context.Context, what string) (eventstore.Position, int64, error) {
	head, err := r.store.Head(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("rebuild %s: read log head: %w", what, err)
	}
	c, ok := r.store.(EventCounter)
	if !ok {
		return head, -1, nil
	}
	n, err := c.CountEvents(ctx, 0, head)
	if err != nil {
		return 0, 0, fmt.Errorf("rebuild %s: count events: %w", what, err)
	}
	return head, n, nil
}

// finish builds a replayed job's deferred indexes, catches up with what was written meanwhile (so
// that the swap, which makes the live runners wait, has little left to apply) and swaps its tables
// in.
func (r *Runner) finish(ctx context.Context, j *rebuildJob) error {
	// Swapped in without statistics, the new tables would be planned as empty.
	if err := r.indexAndAnalyze(ctx, j); err != nil {
		return err
	}
	for {
		recs, err := r.store.ReadAll(ctx, j.pos, r.opts.RebuildBatch)
		if err != nil {
			return fmt.Errorf("rebuild %s: read the log after %d: %w", j.w.name, j.pos, err)
		}
		if len(recs) == 0 {
			break
		}
		if err := r.applyShadow(ctx, j.w.p, j.shadow, recs); err != nil {
			return fmt.Errorf("rebuild %s: %w", j.w.name, err)
		}
		j.pos = recs[len(recs)-1].Position
		j.t.add(ctx, len(recs), j.pos)
		if len(recs) < r.opts.RebuildBatch {
			break
		}
	}
	for attempt := 1; ; attempt++ {
		pos, err := r.swap(ctx, j.w.p, j.shadow, j.pos, j.hadRow, j.t)
		if err == nil {
			j.pos = pos
			break
		}
		var pgErr *pgconn.PgError
		if attempt == swapAttempts || !errors.As(err, &pgErr) || pgErr.Code != "55P03" { // lock_not_available
			return err
		}
		r.log.Warn("rebuild swap waited too long for the live tables; trying again", "projector", j.w.name, "err", err)
	}
	r.waiter.advance(j.w.name, j.pos)
	if _, err := r.pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+quoteIdent(j.shadow)+` CASCADE`); err != nil {
		r.log.Warn("drop rebuild schema", "projector", j.w.name, "schema", j.shadow, "err", err)
	}
	j.t.finish()
	return nil
}

// createShadow creates an empty shadow schema with the projector's tables, without the indexes
// the projector lets a rebuild defer; it returns their definitions by table.
func (r *Runner) createShadow(ctx context.Context, p Projector, schema string) (deferred map[string][]string, err error) {
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DROP SCHEMA IF EXISTS `+quoteIdent(schema)+` CASCADE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+quoteIdent(schema)); err != nil {
			return err
		}
		if err := setSearchPath(ctx, tx, schema); err != nil {
			return err
		}
		if err := p.Setup(ctx, tx); err != nil {
			return err
		}
		d, ok := p.(IndexDeferrer)
		if !ok {
			return nil
		}
		deferred = map[string][]string{}
		for _, index := range d.DeferredIndexes() {
			var table, def string
			err := tx.QueryRow(ctx, `SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2`, schema, index).Scan(&table, &def)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("deferred index %s: Setup did not create it", index)
			}
			if err != nil {
				return fmt.Errorf("read definition of index %s: %w", index, err)
			}
			if _, err := tx.Exec(ctx, `DROP INDEX `+pgx.Identifier{schema, index}.Sanitize()); err != nil {
				return fmt.Errorf("defer index %s: %w", index, err)
			}
			deferred[table] = append(deferred[table], def)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rebuild %s: create schema %s: %w", p.Name(), schema, err)
	}
	return deferred, nil
}

// finishers is how many statements a rebuild runs at once for each projector to build its
// deferred indexes and statistics: index builds of one table do not block each other, and each
// keeps a core busy sorting.
const finishers = 2

// indexAndAnalyze builds the indexes createShadow deferred (their definitions name the shadow
// schema), with room to sort in memory, and then the planner's statistics of each of the job's
// tables: a table's ANALYZE waits for its own index builds only. Up to finishers statements run at
// once, each in a transaction of its own.
func (r *Runner) indexAndAnalyze(ctx context.Context, j *rebuildJob) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	slots := make(chan struct{}, finishers)
	run := func(sqls ...string) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-slots }()
		err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
			for _, sql := range sqls {
				if _, err := tx.Exec(ctx, sql); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			cancel(fmt.Errorf("rebuild %s: %s: %w", j.w.name, sqls[len(sqls)-1], err))
		}
	}
	var wg sync.WaitGroup
	for _, table := range j.w.p.Tables() {
		wg.Go(func() {
			var builds sync.WaitGroup
			for _, def := range j.deferred[table] {
				builds.Go(func() { run(`SET LOCAL maintenance_work_mem = '256MB'`, def) })
			}
			builds.Wait()
			if ctx.Err() == nil {
				run(`ANALYZE ` + qualified(j.shadow, []string{table}))
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// replay applies the whole log, as far as it can read, to the jobs' shadow tables: one reader, and
// for each job a goroutine that plans every batch (see Planner), or every few for a BatchFolder,
// and one that writes the plans in order, each in a transaction of its own, on a connection of the
// job's whose session points at its shadow schema. The shadow tables are thrown away if anything
// fails, so their commits need not wait for the disk.
func (r *Runner) replay(ctx context.Context, jobs []*rebuildJob) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	conns := make([]*pgx.Conn, len(jobs))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	for i, j := range jobs {
		c, err := r.connectShadow(ctx, j.shadow)
		if err != nil {
			return fmt.Errorf("rebuild %s: connect to replay: %w", j.w.name, err)
		}
		conns[i] = c
	}
	type planned struct {
		recs []eventstore.Record
		plan Plan
	}
	var wg sync.WaitGroup
	feeds := make([]chan []eventstore.Record, len(jobs))
	for i, j := range jobs {
		feed, plans := make(chan []eventstore.Record, 1), make(chan planned, 1)
		feeds[i] = feed
		fold := 1
		if f, ok := j.w.p.(BatchFolder); ok {
			fold = max(1, f.FoldBatches())
		}
		wg.Go(func() {
			defer close(plans)
			send := func(recs []eventstore.Record) {
				pl, err := plan(j.w.p, recs)
				if err != nil {
					cancel(fmt.Errorf("rebuild %s: %w", j.w.name, err))
					return
				}
				select {
				case plans <- planned{recs, pl}:
				case <-ctx.Done():
				}
			}
			var pending []eventstore.Record // batches to plan as one
			for recs := range feed {
				switch {
				case ctx.Err() != nil:
					// drain: the reader stops soon
				case fold == 1:
					send(recs)
				default:
					if pending == nil {
						pending = make([]eventstore.Record, 0, fold*r.opts.RebuildBatch)
					}
					if pending = append(pending, recs...); len(pending) >= fold*r.opts.RebuildBatch {
						send(pending)
						pending = nil
					}
				}
			}
			if len(pending) > 0 && ctx.Err() == nil {
				send(pending)
			}
		})
		wg.Go(func() {
			for b := range plans {
				if ctx.Err() != nil {
					continue
				}
				err := pgx.BeginFunc(ctx, conns[i], func(tx pgx.Tx) error { return write(ctx, tx, j.w.p, b.recs, b.plan) })
				if err != nil {
					cancel(fmt.Errorf("rebuild %s: %w", j.w.name, err))
					continue
				}
				j.pos = b.recs[len(b.recs)-1].Position
				j.t.add(ctx, len(b.recs), j.pos)
			}
		})
	}
	var pos eventstore.Position
	for res := range readAhead(ctx, r.store, 0, r.opts.RebuildBatch/16, r.opts.RebuildBatch) {
		if res.err != nil {
			cancel(fmt.Errorf("rebuild: read the log after %d: %w", pos, res.err))
			break
		}
		if len(res.recs) == 0 {
			break
		}
		pos = res.recs[len(res.recs)-1].Position
		for _, feed := range feeds {
			select {
			case feed <- res.recs:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, feed := range feeds {
		close(feed)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// connectShadow opens a connection outside the pool, as connect does, for a replay into schema:
// its session's search_path points there and its commits do not wait for the disk (startBatch's
// settings, without a round trip per batch).
func (r *Runner) connectShadow(ctx context.Context, schema string) (*pgx.Conn, error) {
	cfg := leader.Keepalive(r.pool.Config().ConnConfig)
	cfg.RuntimeParams["search_path"] = schema // a ShadowSchema: lower case, digits and _, nothing to quote
	cfg.RuntimeParams["synchronous_commit"] = "off"
	return pgx.ConnectConfig(ctx, cfg)
}

// applyShadow applies recs to the shadow tables in schema, in one transaction.
func (r *Runner) applyShadow(ctx context.Context, p Projector, schema string, recs []eventstore.Record) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if err := startBatch(ctx, tx, schema); err != nil {
			return err
		}
		return applyAll(ctx, tx, p, recs)
	})
}

// swap applies the events after pos to the shadow tables and makes them the live ones, in one
// transaction. Locking the checkpoint rows of every version first makes their live runners wait,
// here or in other processes, and then find the new checkpoint and go on from there.
//
// hadRow says whether the projector had a checkpoint when the rebuild began: if it has none now, a
// newer version replaced it meanwhile, and swapping it back in would undo that.
func (r *Runner) swap(ctx context.Context, p Projector, schema string, pos eventstore.Position, hadRow bool, t *tracker) (eventstore.Position, error) {
	name := p.Name()
	all, err := loadCheckpoints(ctx, r.pool)
	if err != nil {
		return 0, err
	}
	older := olderVersions(all, name)
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("rebuild %s: begin swap: %w", name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = %d`, r.opts.SwapLockTimeout.Milliseconds())); err != nil {
		return 0, fmt.Errorf("rebuild %s: set lock timeout: %w", name, err)
	}
	locked := map[string]checkpointRow{}
	rows, err := tx.Query(ctx, `SELECT `+checkpointColumns+` FROM `+checkpointTable+`
WHERE name = ANY($1) ORDER BY name FOR UPDATE`, append([]string{name}, older...))
	if err != nil {
		return 0, fmt.Errorf("rebuild %s: lock checkpoints: %w", name, err)
	}
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("rebuild %s: lock checkpoints: %w", name, err)
		}
		locked[c.Name] = c
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("rebuild %s: lock checkpoints: %w", name, err)
	}

	if _, ok := locked[name]; hadRow && !ok {
		return 0, fmt.Errorf("rebuild %s: %w", name, errSuperseded)
	}

	// The tail: what was written since the replay read the log.
	if err := setSearchPath(ctx, tx, schema); err != nil {
		return 0, err
	}
	done := t.mark()
	for {
		recs, err := r.store.ReadAll(ctx, pos, r.opts.RebuildBatch)
		if err != nil {
			t.restore(done)
			return 0, fmt.Errorf("rebuild %s: read the log after %d: %w", name, pos, err)
		}
		if len(recs) == 0 {
			break
		}
		if err := applyAll(ctx, tx, p, recs); err != nil {
			t.restore(done)
			return 0, fmt.Errorf("rebuild %s: %w", name, err)
		}
		pos = recs[len(recs)-1].Position
		t.add(ctx, len(recs), pos)
		if len(recs) < r.opts.RebuildBatch {
			break
		}
	}
	if own, ok := locked[name]; ok && own.Position > pos {
		t.restore(done)
		return 0, fmt.Errorf("rebuild %s: replay ended at position %d, before the live checkpoint %d", name, pos, own.Position)
	}

	drop := append([]string(nil), p.Tables()...)
	for _, c := range locked {
		for _, tbl := range c.Tables {
			if !slices.Contains(drop, tbl) {
				drop = append(drop, tbl)
			}
		}
	}
	err = func() error {
		if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+qualified(LiveSchema, drop)); err != nil {
			return fmt.Errorf("drop live tables: %w", err)
		}
		for _, tbl := range p.Tables() {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+pgx.Identifier{schema, tbl}.Sanitize()+` SET SCHEMA `+quoteIdent(LiveSchema)); err != nil {
				return fmt.Errorf("move %s into %s: %w", tbl, LiveSchema, err)
			}
		}
		if len(older) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM `+checkpointTable+` WHERE name = ANY($1)`, older); err != nil {
				return fmt.Errorf("delete checkpoints of older versions: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+checkpointTable+` (name, tables) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET tables = EXCLUDED.tables`, name, p.Tables()); err != nil {
			return fmt.Errorf("write checkpoint: %w", err)
		}
		if err := moveCheckpoint(ctx, tx, name, pos); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}()
	if err != nil {
		t.restore(done)
		return 0, fmt.Errorf("rebuild %s: swap: %w", name, err)
	}
	return pos, nil
}

// tracker computes a rebuild's Progress.
type tracker struct {
	r       *Runner
	w       *worker
	fn      func(Progress)
	start   time.Time
	counted int64 // events up to startHead, or -1 when the store cannot count
	first   eventstore.Position
	head0   eventstore.Position
	headAt  time.Time
	p       Progress
}

func newTracker(r *Runner, w *worker, fn func(Progress)) *tracker {
	return &tracker{r: r, w: w, fn: fn, counted: -1, p: Progress{Projector: w.name}}
}

// begin starts the clock at the log's head, as measureLog found it, with counted events up to it
// (-1 when the store cannot count).
func (t *tracker) begin(head eventstore.Position, counted int64) {
	t.start = time.Now()
	t.head0, t.headAt, t.p.Head = head, time.Now(), head
	if counted >= 0 {
		t.counted, t.p.Total = counted, counted
	}
	t.report()
}

// add records n more events replayed, up to pos.
func (t *tracker) add(ctx context.Context, n int, pos eventstore.Position) {
	if t.p.Done == 0 {
		t.first = pos
	}
	t.p.Done += int64(n)
	t.p.Position = pos
	if time.Since(t.headAt) > time.Second {
		if head, err := t.r.store.Head(ctx); err == nil {
			t.p.Head, t.headAt = head, time.Now()
		}
	}
	t.p.Head = max(t.p.Head, pos)
	// Events per unit of position so far: positions are not dense, but they fill evenly enough
	// to estimate how many events lie between here and the head.
	var density float64
	if pos > t.first {
		density = float64(t.p.Done) / float64(pos-t.first)
	}
	if t.counted >= 0 {
		t.p.Total = t.counted + int64(float64(t.p.Head-min(t.p.Head, t.head0))*density)
	} else {
		t.p.Total = t.p.Done + int64(float64(t.p.Head-pos)*density)
	}
	t.p.Total = max(t.p.Total, t.p.Done)
	t.report()
}

func (t *tracker) mark() Progress { return t.p }

func (t *tracker) restore(p Progress) {
	t.p = p
	t.report()
}

// finish reports the swap.
func (t *tracker) finish() {
	t.p.Total = t.p.Done
	t.p.Swapped = true
	t.report()
}

func (t *tracker) report() {
	t.p.Elapsed = time.Since(t.start)
	if s := t.p.Elapsed.Seconds(); s > 0 {
		t.p.Rate = float64(t.p.Done) / s
	}
	t.p.ETA = 0
	if t.p.Rate > 0 && t.p.Total > t.p.Done {
		t.p.ETA = time.Duration(float64(t.p.Total-t.p.Done) / t.p.Rate * float64(time.Second))
	}
	p := t.p
	if p.Swapped {
		t.w.setRebuild(nil)
	} else {
		t.w.setRebuild(&p)
	}
	if t.fn != nil {
		t.fn(p)
	}
}

// logProgress returns a progress callback that logs a rebuild every ten seconds and at its end.
func (r *Runner) logProgress(name string) func(Progress) {
	var last time.Time
	return func(p Progress) {
		if !p.Swapped && time.Since(last) < 10*time.Second {
			return
		}
		last = time.Now()
		r.log.Info("projection rebuild", "projector", name, "done", p.Done, "total", p.Total,
			"rate", int64(p.Rate), "eta", p.ETA.Round(time.Second), "swapped", p.Swapped)
	}
}

// combined merges the progress of several projectors rebuilt together into one Progress.
type combined struct {
	mu    sync.Mutex
	fn    func(Progress)
	name  string
	start time.Time
	parts map[string]Progress
	n     int
}

func newCombined(ws []*worker, fn func(Progress)) *combined {
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.name
	}
	return &combined{fn: fn, name: strings.Join(names, ","), start: time.Now(), parts: map[string]Progress{}, n: len(ws)}
}

// report records one projector's progress and reports them all: as far as the slowest has got.
func (c *combined) report(p Progress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parts[p.Projector] = p
	all := Progress{Projector: c.name, Swapped: len(c.parts) == c.n, Elapsed: time.Since(c.start)}
	first := true
	for _, part := range c.parts {
		if first || part.Done < all.Done {
			all.Done, all.Position = part.Done, part.Position
		}
		first = false
		all.Total = max(all.Total, part.Total)
		all.Head = max(all.Head, part.Head)
		all.Swapped = all.Swapped && part.Swapped
	}
	if len(c.parts) < c.n {
		all.Done, all.Position = 0, 0
	}
	if all.Swapped {
		all.Total = all.Done
	}
	if s := all.Elapsed.Seconds(); s > 0 {
		all.Rate = float64(all.Done) / s
	}
	if all.Rate > 0 && all.Total > all.Done {
		all.ETA = time.Duration(float64(all.Total-all.Done) / all.Rate * float64(time.Second))
	}
	c.fn(all)
}

// Package relay publishes the global event log to the bus. A Relay follows the log from its own
// checkpoint (table relay_checkpoints), publishes every event through a Watermill publisher, and
// moves the checkpoint only after the publish returned: every event is published at least once,
// and a stream's events in order (an event is published only after the stream's previous ones
// were).
//
// One relay is active at a time: a Relay leads through package leader (a Postgres advisory lock on
// a connection of its own, with keepalives) while it publishes, and writes its checkpoint on that
// connection. Another instance waits for the lock and takes over from the checkpoint when the
// first stops or dies (its connection closes, or its keepalives go unanswered for a few seconds,
// and the server releases the lock). Events published by the first after its last checkpoint are
// published again: consumers are idempotent.
//
// A publish that fails (Kafka unreachable) is retried with backoff until it succeeds; Active is
// false meanwhile, and the relay catches up when the broker is back.
package relay

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/leader"
)

// lockClass is the first key of the relay's advisory lock (the second is hashtext(name)); it
// keeps the relay's locks apart from other users of two-key advisory locks.
const lockClass = 420

// Options tune a Relay. Zero fields take the defaults named on each.
type Options struct {
	// Name is the checkpoint row and the lock: relays with the same name are one relay with
	// standbys. Default "relay".
	Name string
	// Workers is how many goroutines publish; a stream always goes to the same one, which
	// publishes its messages in order. With the in-process bus it is how many events are being
	// handled at once. Default 256.
	Workers int
	// BatchSize is the most messages a worker publishes in one call. Default 500.
	BatchSize int
	// CheckpointEvery is how often the checkpoint is written while events are published.
	// Default 100ms.
	CheckpointEvery time.Duration
	// LockCheck is how often the active relay checks the connection that holds its lock, and
	// stops publishing if it is gone. Default 1s.
	LockCheck time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts of a failing publish, and
	// between restarts after a failure (a success starts again from MinBackoff). Defaults 100ms
	// and 500ms (each wait is jittered by half either way): a relay that lost its database or
	// broker is back within about a second of their return.
	MinBackoff, MaxBackoff time.Duration
	// Log is what the relay follows the log through: the process's shared tail of the log
	// (logtail.Tail), or nil for the store's own subscription.
	Log eventstore.Subscriber
	// Topic maps a stream id to its topic. Default bus.Topic.
	Topic func(stream string) string
	// DurableOnly makes the relay wait, before it publishes what it read, until the store has
	// made it durable (eventstore.DelayedAppender's WaitDurable; stores without delayed appends
	// have nothing to wait for). Consumers outside the database then never see an event that a
	// crash of the database can still take back. serve sets it when publishing to Kafka. The
	// in-process bus does not need it: its consumers write to the same database after the event,
	// so a crash takes their work back with it.
	DurableOnly bool
	// Logger receives failures and take-overs. Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "relay"
	}
	if o.Workers <= 0 {
		o.Workers = 256
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 100 * time.Millisecond
	}
	if o.LockCheck <= 0 {
		o.LockCheck = time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(500*time.Millisecond, o.MinBackoff)
	}
	if o.Topic == nil {
		o.Topic = bus.Topic
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Relay publishes the event log to the bus; see the package doc. Run it with Run; read its state
// with Status and Ready from any goroutine.
type Relay struct {
	store eventstore.Store
	pool  *pgxpool.Pool
	pub   message.Publisher
	opts  Options

	active     atomic.Bool
	checkpoint atomic.Uint64
	published  atomic.Uint64
	progress   atomic.Pointer[tracker] // the events being published, while active

	mu           sync.Mutex
	err          error
	failingSince time.Time
}

// New returns a relay that reads the log from store, keeps its checkpoint and lock in pool's
// database, and publishes to pub.
func New(store eventstore.Store, pool *pgxpool.Pool, pub message.Publisher, opts Options) *Relay {
	opts = opts.withDefaults()
	if opts.Log == nil {
		opts.Log = store
	}
	return &Relay{store: store, pool: pool, pub: pub, opts: opts}
}

// Status is a relay's state, for /metrics and /readyz.
type Status struct {
	// Active is true while this instance holds the lock and publishes; false on a standby.
	Active bool
	// Checkpoint is the position of the last event published and checkpointed.
	Checkpoint eventstore.Position
	// Published counts the messages this instance published (retries included).
	Published uint64
	// Lag is how long ago the oldest event not yet published was recorded; 0 when caught up.
	Lag time.Duration
	// Err is the last failure (a publish, the lock, the checkpoint) when nothing succeeded since,
	// and FailingSince when the failures began.
	Err          error
	FailingSince time.Time
}

// Status returns the relay's current state.
func (r *Relay) Status() Status {
	s := Status{
		Active:     r.active.Load(),
		Checkpoint: eventstore.Position(r.checkpoint.Load()),
		Published:  r.published.Load(),
	}
	if t := r.progress.Load(); t != nil {
		if since := t.oldest(); since != 0 {
			s.Lag = max(0, time.Since(time.Unix(0, since)))
		}
	}
	r.mu.Lock()
	s.Err, s.FailingSince = r.err, r.failingSince
	r.mu.Unlock()
	return s
}

// Active reports whether this instance holds the lock and publishes without failing: what it
// records in the shared liveness table, which tells every process's /readyz whether some relay
// publishes. A standby is not active; a relay that failed is active again as soon as it holds
// the lock and has read its checkpoint, without waiting for an event to publish.
func (r *Relay) Active() bool {
	if !r.active.Load() {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err == nil
}

func (r *Relay) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.failingSince = time.Now()
		r.opts.Logger.Warn("relay failing", "relay", r.opts.Name, "err", err)
	}
	r.err = err
}

func (r *Relay) ok() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		r.opts.Logger.Info("relay recovered", "relay", r.opts.Name, "failing_for", time.Since(r.failingSince).Round(time.Millisecond))
	}
	r.err = nil
}

// Run waits for the lock, then publishes the log from the checkpoint, live, until ctx ends (it
// returns nil then). When it loses its lock connection or the store fails, it starts over after a
// backoff: waits for the lock again and resumes from the checkpoint. The backoff starts again
// from MinBackoff once a run has taken the lock and read its checkpoint.
func (r *Relay) Run(ctx context.Context) error {
	b := r.backoff()
	_, _ = backoff.Retry(ctx, func() (struct{}, error) {
		var key int32
		err := r.pool.QueryRow(ctx, `SELECT hashtext($1)`, r.opts.Name).Scan(&key)
		if err == nil {
			err = r.lead(ctx, key, b)
		}
		if ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		if err == nil {
			err = errors.New("stopped")
		}
		r.fail(fmt.Errorf("relay %s: %w", r.opts.Name, err))
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, d time.Duration) {
		r.opts.Logger.Warn("relay stopped, starting over", "relay", r.opts.Name, "err", err, "retry_in", d)
	}))
	return nil
}

// backoff returns the relay's backoff: from MinBackoff, doubling, up to MaxBackoff, jittered.
func (r *Relay) backoff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: r.opts.MinBackoff, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: r.opts.MaxBackoff}
}

// lead waits for the relay's lock (its second key is hashtext of the relay's name), then
// publishes while it holds it.
func (r *Relay) lead(ctx context.Context, key int32, b *backoff.ExponentialBackOff) error {
	return leader.Lead(ctx, r.pool.Config().ConnConfig, leader.Lock{Class: lockClass, Key: key},
		leader.Options{Check: r.opts.LockCheck, Waiting: func() {
			r.opts.Logger.Info("relay standing by: another instance holds the lock", "relay", r.opts.Name)
		}},
		func(ctx context.Context, s *leader.Session) error { return r.publish(ctx, s, b) })
}

// publish publishes from the checkpoint while the lock is held (s is its session), until ctx
// ends or something fails. It resets b once it has read the checkpoint.
func (r *Relay) publish(ctx context.Context, s *leader.Session, b *backoff.ExponentialBackOff) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := make(chan error, 1)
	// loop runs f every d on a goroutine of wg until runCtx ends; when f fails, it reports the
	// error and stops the run.
	loop := func(wg *sync.WaitGroup, d time.Duration, f func() error) {
		wg.Go(func() {
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
				}
				if err := f(); err != nil && runCtx.Err() == nil {
					select {
					case failed <- err:
					default:
					}
					cancel()
					return
				}
			}
		})
	}

	var from eventstore.Position
	err := s.Do(runCtx, statementTimeout, func(ctx context.Context, conn *pgx.Conn) (err error) {
		from, err = r.loadCheckpoint(ctx, conn)
		return err
	})
	if err != nil {
		return err
	}
	r.checkpoint.Store(uint64(from))
	var progress tracker
	r.progress.Store(&progress)
	r.active.Store(true)
	defer func() {
		r.active.Store(false)
		r.progress.Store(nil)
	}()
	b.Reset()
	r.ok()
	r.opts.Logger.Info("relay active", "relay", r.opts.Name, "from", from)

	// Published events are checkpointed in log order by a loop of their own, so the workers never
	// wait for a checkpoint and one slow event holds back only the checkpoint, not the others.
	saved := from
	save := func(ctx context.Context) error {
		pos, ok := progress.advance()
		if !ok || pos == saved {
			return nil
		}
		err := s.Do(ctx, statementTimeout, func(ctx context.Context, conn *pgx.Conn) error {
			return r.saveCheckpoint(ctx, conn, pos)
		})
		if err != nil {
			return err
		}
		saved = pos
		r.checkpoint.Store(uint64(pos))
		return nil
	}
	var cwg sync.WaitGroup
	loop(&cwg, r.opts.CheckpointEvery, func() error { return save(runCtx) })

	lanes := make([]chan work, r.opts.Workers)
	var lwg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan work, r.opts.BatchSize)
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			r.worker(runCtx, lanes[i], &progress)
		}()
	}
	durable, _ := r.store.(eventstore.DelayedAppender)
	if !r.opts.DurableOnly {
		durable = nil
	}
	err = r.opts.Log.SubscribeAll(runCtx, from, func(ctx context.Context, recs []eventstore.Record) error {
		if durable != nil {
			if err := durable.WaitDurable(ctx); err != nil {
				return err
			}
		}
		for _, rec := range recs {
			w := work{rec: rec, item: progress.add(rec)}
			select {
			case lanes[lane(rec.Stream, len(lanes))] <- w:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	cancel()
	lwg.Wait()
	cwg.Wait()
	// What was published before the stop is checkpointed, if the lock is still ours.
	final, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	finalErr := save(final)
	done()
	select {
	case err := <-failed:
		return err
	default:
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("relay %s: %w", r.opts.Name, err)
	}
	if finalErr != nil && ctx.Err() == nil {
		return finalErr
	}
	return nil
}

// statementTimeout bounds each statement on the lock connection: no longer than the leader's
// own ping, so that a checkpoint write on a silent connection does not keep the relay publishing
// after the server may have freed its lock.
const statementTimeout = leader.PingTimeout

// work is one event for a worker, with its place in the checkpoint order.
type work struct {
	rec  eventstore.Record
	item *item
}

// worker publishes the events of its lane until ctx ends: it takes what is queued (up to
// BatchSize), publishes it per topic in log order, retrying until it succeeds, and marks it done.
func (r *Relay) worker(ctx context.Context, in <-chan work, progress *tracker) {
	// In process, the bus tells which topics anyone subscribes to; a message for another would be
	// dropped, so none is built.
	wanter, _ := r.pub.(interface{ Wants(topic string) bool })
	for {
		var batch []work
		select {
		case <-ctx.Done():
			return
		case w := <-in:
			batch = append(batch, w)
		}
	drain:
		for len(batch) < r.opts.BatchSize {
			select {
			case w := <-in:
				batch = append(batch, w)
			default:
				break drain
			}
		}
		var groups []group
		var dropped []*item
		for _, w := range batch {
			topic := r.opts.Topic(w.rec.Stream)
			if wanter != nil && !wanter.Wants(topic) {
				dropped = append(dropped, w.item)
				continue
			}
			j := 0
			for j < len(groups) && groups[j].topic != topic {
				j++
			}
			if j == len(groups) {
				groups = append(groups, group{topic: topic})
			}
			groups[j].msgs = append(groups[j].msgs, bus.NewMessage(w.rec))
			groups[j].items = append(groups[j].items, w.item)
		}
		progress.done(dropped)
		for _, g := range groups {
			if !r.publishGroup(ctx, g) {
				return
			}
			progress.done(g.items)
		}
	}
}

// tracker keeps the events being published in log order, so that the checkpoint moves only past
// events that are published and every event before them.
type tracker struct {
	mu    sync.Mutex
	queue []*item // in log order; the front is the oldest not yet checkpointed
}

type item struct {
	pos  eventstore.Position
	at   int64 // recorded at, unix nanos
	done bool
}

func (t *tracker) add(rec eventstore.Record) *item {
	it := &item{pos: rec.Position, at: rec.RecordedAt.UnixNano()}
	t.mu.Lock()
	t.queue = append(t.queue, it)
	t.mu.Unlock()
	return it
}

func (t *tracker) done(items []*item) {
	t.mu.Lock()
	for _, it := range items {
		it.done = true
	}
	t.mu.Unlock()
}

// advance drops the published events at the front and returns the position of the last one, and
// false when the front is not published.
func (t *tracker) advance() (eventstore.Position, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for n < len(t.queue) && t.queue[n].done {
		n++
	}
	if n == 0 {
		return 0, false
	}
	pos := t.queue[n-1].pos
	t.queue = t.queue[n:]
	return pos, true
}

// oldest returns when the oldest event not yet published was recorded, 0 when none waits.
func (t *tracker) oldest() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, it := range t.queue {
		if !it.done {
			return it.at
		}
	}
	return 0
}

func (r *Relay) loadCheckpoint(ctx context.Context, conn *pgx.Conn) (eventstore.Position, error) {
	var pos int64
	err := conn.QueryRow(ctx, `
		INSERT INTO relay_checkpoints (name) VALUES ($1)
		ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
		RETURNING position`, r.opts.Name).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("relay %s: load checkpoint: %w", r.opts.Name, err)
	}
	return eventstore.Position(uint64(pos)), nil
}

func (r *Relay) saveCheckpoint(ctx context.Context, conn *pgx.Conn, pos eventstore.Position) error {
	// The commit does not wait for the disk: a checkpoint lost in a crash of the database only
	// means that a few events are published again.
	_, err := conn.Exec(ctx, `
		WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
		UPDATE relay_checkpoints SET position = $2, updated_at = now() FROM async WHERE name = $1`,
		r.opts.Name, int64(uint64(pos)))
	if err != nil {
		return fmt.Errorf("relay %s: save checkpoint %d: %w", r.opts.Name, pos, err)
	}
	return nil
}

// group is the messages of one worker to one topic, in log order.
type group struct {
	topic string
	msgs  []*message.Message
	items []*item
}

// publishGroup publishes g until it succeeds (true) or ctx ends (false).
func (r *Relay) publishGroup(ctx context.Context, g group) bool {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		if err := r.pub.Publish(g.topic, g.msgs...); err != nil {
			r.fail(fmt.Errorf("publish to %s: %w", g.topic, err))
			return struct{}{}, err
		}
		r.published.Add(uint64(len(g.msgs)))
		r.ok()
		return struct{}{}, nil
	}, backoff.WithBackOff(r.backoff()), backoff.WithMaxElapsedTime(0))
	return err == nil
}

func lane(stream string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(stream))
	return int(h.Sum32() % uint32(n))
}

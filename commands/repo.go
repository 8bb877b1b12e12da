package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Event is what the event type of every domain package satisfies.
type Event interface {
	// EventType returns the event's wire name.
	EventType() string
}

// Aggregate tells a Repo how one kind of aggregate is stored and folded.
type Aggregate[S any, E Event] struct {
	// StreamID returns the stream id of the aggregate with the given id, such as product.StreamID.
	StreamID func(uuid.UUID) string
	// Evolve applies one event to a state; it must not modify what the state shares (maps, slices).
	Evolve func(S, E) S
	// FoldFrom, when set, applies many events at once; states that copy on write fold a long tail
	// with one copy instead of one per event. Nil means Evolve in a loop.
	FoldFrom func(S, ...E) S
	// Decode turns a stored event back into its value, such as product.Decode.
	Decode func(typ string, data []byte) (E, error)
	// SnapshotCost, when set, says how many events' worth of work a snapshot of the state is: a
	// snapshot is due only when the stream has grown by that many events since the last one, as
	// well as by Options.SnapshotEvery. A state that grows with its stream (a product's open
	// reservations) so costs a bounded amount of snapshot work per event, instead of a snapshot
	// of everything every SnapshotEvery events. Nil means every snapshot costs nothing extra.
	SnapshotCost func(S) int64
}

// Options tune a Repo. The zero Options mean no snapshots, no cache, DefaultMaxAttempts and no
// observer.
type Options struct {
	// Snapshots stores snapshots; nil disables them.
	Snapshots SnapshotStore
	// SnapshotEvery saves a snapshot when the stream has grown by this many events since the last
	// one; 0 disables snapshots.
	SnapshotEvery int64
	// SnapshotSchema is the version of the state's JSON shape; bump it when the state type changes
	// so that old snapshots are ignored.
	SnapshotSchema int
	// CacheSize is how many streams' latest state the Repo keeps in memory; 0 disables the cache.
	CacheSize int
	// MaxAttempts bounds the decide-append attempts of one Update; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// Observer is told about conflicts, retries and snapshot failures; nil means NopObserver.
	Observer Observer
}

// DefaultMaxAttempts is how many times Update decides and appends before it gives up on a stream
// that keeps changing under it.
const DefaultMaxAttempts = 10

// Backoff between attempts: a random duration up to retryBase·2^(attempt-1), at most retryMax.
const (
	retryBase = 2 * time.Millisecond
	retryMax  = 200 * time.Millisecond
	pageSize  = 1000
)

// State is an aggregate's state at a stream version.
type State[S any] struct {
	// Value is the folded state; the zero value when the stream has no events.
	Value S
	// Version is the stream's version: the number of events folded, 0 for no stream.
	Version int64
	// Position is the global position of the event at Version, 0 for no stream.
	Position eventstore.Position
}

// Repo loads aggregates of one kind and appends what their decisions return. It is safe for
// concurrent use.
type Repo[S any, E Event] struct {
	store eventstore.Store
	agg   Aggregate[S, E]
	opts  Options
	cache *stateCache[S]
	obs   Observer

	// Background snapshot saves: at most one in flight per stream (snapping), at most
	// maxSnapshotSaves in all (saveSlots); bg tracks them for WaitSnapshots.
	snapMu    sync.Mutex
	snapping  map[string]bool
	saveSlots chan struct{}
	bg        sync.WaitGroup

	// watchers counts the followers of the global log that keep the cache current (watch).
	watchers atomic.Int32
}

// maxSnapshotSaves bounds a Repo's snapshot saves in flight; a save that finds no free slot is
// skipped, and a later load or update of the stream tries again.
const maxSnapshotSaves = 8

// snapshotTimeout bounds one background snapshot save.
const snapshotTimeout = 30 * time.Second

// NewRepo returns a Repo for the aggregate agg stored in store.
func NewRepo[S any, E Event](store eventstore.Store, agg Aggregate[S, E], opts Options) *Repo[S, E] {
	r := &Repo[S, E]{store: store, agg: agg, opts: opts, obs: opts.Observer,
		snapping: make(map[string]bool), saveSlots: make(chan struct{}, maxSnapshotSaves)}
	if r.obs == nil {
		r.obs = NopObserver{}
	}
	if r.opts.MaxAttempts <= 0 {
		r.opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Snapshots == nil {
		r.opts.SnapshotEvery = 0
	}
	if opts.CacheSize > 0 {
		r.cache = newStateCache[S](opts.CacheSize)
	}
	return r
}

// Load returns the aggregate's current state. A stream without events is the zero state at
// version 0, not an error.
func (r *Repo[S, E]) Load(ctx context.Context, id uuid.UUID) (State[S], error) {
	l, err := r.load(ctx, r.agg.StreamID(id), true, nil)
	if err != nil {
		return State[S]{}, err
	}
	return State[S]{Value: l.state, Version: l.version, Position: l.position}, nil
}

// Update loads the aggregate, calls decide with its state and appends the events decide returns
// with the loaded version as the expected version. When another writer appended first it loads
// again and decides again, up to MaxAttempts times, sleeping a jittered, growing pause between
// attempts; ctx ends the wait. An error from decide is returned as it is, at once, never retried.
// A decision with no events appends nothing and returns the current version and position.
//
// Every event gets meta in its metadata. With meta.CommandID set, event ids are derived from it,
// and an Update that finds the command's first event among the events after the latest snapshot
// returns the earlier append's result without deciding again (a command re-run after a crash
// between its append and the storing of its idempotent result).
func (r *Repo[S, E]) Update(ctx context.Context, id uuid.UUID, meta Meta, decide func(S) ([]E, error)) (eventstore.AppendResult, error) {
	st, err := r.UpdateState(ctx, id, meta, decide)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	return eventstore.AppendResult{Version: st.Version, Position: st.Position}, nil
}

// UpdateState is Update returning the aggregate's state after the append (or after the no-op).
func (r *Repo[S, E]) UpdateState(ctx context.Context, id uuid.UUID, meta Meta, decide func(S) ([]E, error)) (_ State[S], err error) {
	stream := r.agg.StreamID(id)
	ctx, span := startAppend(ctx, "update", stream)
	defer func() { endSpan(span, err) }()
	meta = meta.complete().traced(ctx)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return State[S]{}, fmt.Errorf("update %s: %w", stream, err)
		}
		// A command with an id reads its first attempt from the snapshot, not the cache, so that
		// it sees its own events if an earlier run appended them after the snapshot.
		find := newCommandFinder(meta.CommandID, stream)
		cur, err := r.load(ctx, stream, attempt > 1 || find == nil, find)
		if err != nil {
			return State[S]{}, err
		}
		if find != nil && find.found {
			return State[S]{Value: cur.state, Version: find.res.Version, Position: find.res.Position}, nil
		}
		events, err := decide(cur.state)
		if err != nil {
			return State[S]{}, err
		}
		if len(events) == 0 {
			return State[S]{Value: cur.state, Version: cur.version, Position: cur.position}, nil
		}
		data, err := eventData(stream, events, func(int) Meta { return meta })
		if err != nil {
			return State[S]{}, err
		}
		res, err := r.store.Append(ctx, stream, eventstore.Exact(cur.version), data...)
		if err == nil {
			next := loaded[S]{state: r.fold(cur.state, events), version: res.Version, position: res.Position, snapshot: cur.snapshot, lastID: data[len(data)-1].ID}
			r.remember(ctx, stream, next)
			return State[S]{Value: next.state, Version: next.version, Position: next.position}, nil
		}
		if !errors.Is(err, eventstore.ErrWrongVersion) {
			return State[S]{}, fmt.Errorf("update %s: %w", stream, err)
		}
		r.obs.Conflict(stream)
		if attempt >= r.opts.MaxAttempts {
			return State[S]{}, fmt.Errorf("update %s after %d attempts: %w", stream, attempt, err)
		}
		r.obs.Retry(stream, attempt+1)
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return State[S]{}, fmt.Errorf("update %s: %w", stream, err)
		}
	}
}

// CreateState is UpdateState for a command that starts a stream under a new id: it decides on the
// empty state and appends expecting no stream, without reading the stream first. When the stream
// exists after all (the id is taken, or the command ran before with these event ids and the store
// reports the earlier append) the store refuses or answers idempotently; a refusal falls back to
// UpdateState, which reads the stream and decides again.
func (r *Repo[S, E]) CreateState(ctx context.Context, id uuid.UUID, meta Meta, decide func(S) ([]E, error)) (_ State[S], err error) {
	stream := r.agg.StreamID(id)
	ctx, span := startAppend(ctx, "create", stream)
	defer func() { endSpan(span, err) }()
	meta = meta.complete().traced(ctx)
	var empty S
	events, err := decide(empty)
	if err != nil || len(events) == 0 {
		if err == nil {
			err = fmt.Errorf("create %s: the decision on the empty state made no events", stream)
		}
		return State[S]{}, err
	}
	data, err := eventData(stream, events, func(int) Meta { return meta })
	if err != nil {
		return State[S]{}, err
	}
	res, err := r.store.Append(ctx, stream, eventstore.NoStream, data...)
	switch {
	case errors.Is(err, eventstore.ErrWrongVersion):
		return r.UpdateState(ctx, id, meta, decide)
	case err != nil:
		return State[S]{}, fmt.Errorf("create %s: %w", stream, err)
	}
	next := loaded[S]{state: r.fold(empty, events), version: res.Version, position: res.Position, lastID: data[len(data)-1].ID}
	r.remember(ctx, stream, next)
	return State[S]{Value: next.state, Version: next.version, Position: next.position}, nil
}

// commandFinder looks for a command's events among the records a load reads: the first event id
// the command would have written, then the ones after it.
type commandFinder struct {
	command uuid.UUID
	stream  string
	first   uuid.UUID
	next    int // index of the next event id to match after a found first event; 0 when not extending
	found   bool
	res     eventstore.AppendResult
}

func newCommandFinder(command uuid.UUID, stream string) *commandFinder {
	if command == uuid.Nil {
		return nil
	}
	return &commandFinder{command: command, stream: stream, first: commandEventID(command, stream, 0)}
}

func (f *commandFinder) see(rec eventstore.Record) {
	if f == nil {
		return
	}
	if f.next > 0 {
		if rec.ID == commandEventID(f.command, f.stream, f.next) {
			f.res = eventstore.AppendResult{Version: rec.Version, Position: rec.Position}
			f.next++
			return
		}
		f.next = 0
	}
	if !f.found && rec.ID == f.first {
		f.found, f.next = true, 1
		f.res = eventstore.AppendResult{Version: rec.Version, Position: rec.Position}
	}
}

// load returns the stream's current state: the cached state or the latest snapshot, plus the
// events after it. Without useCache it starts from the snapshot. find, if not nil, sees every
// record read.
func (r *Repo[S, E]) load(ctx context.Context, stream string, useCache bool, find *commandFinder) (loaded[S], error) {
	var cur loaded[S]
	ok := false
	if useCache {
		cur, ok = r.cache.get(stream)
	}
	if !ok {
		cur = r.fromSnapshot(ctx, stream)
	}
	read, verified := false, false
	events := make([]E, 0, 16)
	// A cached state whose last event is known is checked against the stream: the first page
	// starts at that event, which must still be there.
	check := ok && cur.lastID != uuid.Nil
	from := cur.version + 1
	if check {
		from = cur.version
	}
	for {
		recs, err := r.store.ReadStream(ctx, stream, from, pageSize)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return loaded[S]{}, fmt.Errorf("read %s from version %d: %w", stream, from, err)
		}
		full := len(recs) == pageSize
		if check {
			check = false
			if !cur.endsWith(recs) {
				// The store took back events the cache had seen: start over from the snapshot.
				r.cache.remove(stream)
				r.obs.StaleCache(stream, cur.version)
				return r.load(ctx, stream, false, find)
			}
			recs, verified = recs[1:], true
		}
		if len(recs) == 0 {
			break
		}
		events = events[:0]
		for _, rec := range recs {
			e, err := r.agg.Decode(rec.Type, rec.Data)
			if err != nil {
				return loaded[S]{}, fmt.Errorf("load %s at version %d: %w", stream, rec.Version, err)
			}
			events = append(events, e)
			find.see(rec)
		}
		last := recs[len(recs)-1]
		cur.state = r.fold(cur.state, events)
		cur.version, cur.position, cur.lastID = last.Version, last.Position, last.ID
		read = true
		if !full {
			break
		}
		from = last.Version + 1
	}
	// An empty stream is not cached: lookups of unknown ids must not push out real states. A
	// cached state the read found current is put back too: it has just been checked.
	if cur.version > 0 && (read || !ok || verified) {
		r.remember(ctx, stream, cur)
	}
	return cur, nil
}

func (r *Repo[S, E]) fold(s S, events []E) S {
	if r.agg.FoldFrom != nil {
		return r.agg.FoldFrom(s, events...)
	}
	for _, e := range events {
		s = r.agg.Evolve(s, e)
	}
	return s
}

// fromSnapshot returns the latest usable snapshot as a loaded state, or the empty state. A snapshot
// that cannot be read is reported and ignored: the stream itself is the truth.
func (r *Repo[S, E]) fromSnapshot(ctx context.Context, stream string) loaded[S] {
	if r.opts.SnapshotEvery <= 0 {
		return loaded[S]{}
	}
	snap, ok, err := r.opts.Snapshots.Load(ctx, stream, r.opts.SnapshotSchema)
	if err != nil {
		r.obs.SnapshotFailed(stream, fmt.Errorf("load snapshot of %s: %w", stream, err))
		return loaded[S]{}
	}
	if !ok {
		return loaded[S]{}
	}
	var s S
	if err := json.Unmarshal(snap.State, &s); err != nil {
		r.obs.SnapshotFailed(stream, fmt.Errorf("decode snapshot of %s at version %d: %w", stream, snap.Version, err))
		return loaded[S]{}
	}
	return loaded[S]{state: s, version: snap.Version, position: snap.Position, snapshot: snap.Version}
}

// remember caches cur and, when the stream has grown by SnapshotEvery events since the last
// snapshot known to be saved, starts saving a snapshot of it in the background. The cache is
// updated first, so that concurrent loads find the new state instead of folding the tail and
// snapshotting it themselves, and the save never delays the caller. Saves are single-flight per
// stream: while one is in flight, others are skipped. Snapshots are best-effort: a failed save is
// reported to the Observer, and a later load or update tries again.
func (r *Repo[S, E]) remember(ctx context.Context, stream string, cur loaded[S]) {
	cur.snapshot = r.cache.put(stream, cur)
	if !r.snapshotDue(cur) {
		return
	}
	r.snapMu.Lock()
	if r.snapping[stream] {
		r.snapMu.Unlock()
		return
	}
	select {
	case r.saveSlots <- struct{}{}:
	default:
		r.snapMu.Unlock()
		return
	}
	r.snapping[stream] = true
	r.bg.Add(1)
	r.snapMu.Unlock()
	// The save outlives the command that triggered it, but keeps its context's values.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), snapshotTimeout)
	go func() {
		defer r.bg.Done()
		defer cancel()
		err := r.saveSnapshot(sctx, stream, cur)
		for err == nil {
			r.cache.snapshotSaved(stream, cur.version)
			// Loads skipped while this save was in flight: save the cached state if it is due.
			next, ok := r.cache.get(stream)
			if !ok || !r.snapshotDue(next) {
				break
			}
			cur = next
			err = r.saveSnapshot(sctx, stream, cur)
		}
		r.snapMu.Lock()
		delete(r.snapping, stream)
		<-r.saveSlots
		r.snapMu.Unlock()
		if err != nil {
			r.obs.SnapshotFailed(stream, err)
		}
	}()
}

// snapshotDue reports whether cur's stream has grown enough since its last snapshot for another:
// by SnapshotEvery events, and by the state's SnapshotCost.
func (r *Repo[S, E]) snapshotDue(cur loaded[S]) bool {
	grown := cur.version - cur.snapshot
	if r.opts.SnapshotEvery <= 0 || grown < r.opts.SnapshotEvery {
		return false
	}
	return r.agg.SnapshotCost == nil || grown >= r.agg.SnapshotCost(cur.state)
}

// WaitSnapshots waits until the snapshot saves started so far in the background have ended, such
// as before shutting down or before a test looks at the snapshots.
func (r *Repo[S, E]) WaitSnapshots() { r.bg.Wait() }

func (r *Repo[S, E]) saveSnapshot(ctx context.Context, stream string, cur loaded[S]) error {
	if cur.lastID != uuid.Nil {
		// Only a state the stream still has is saved (see stateCache).
		recs, err := r.store.ReadStream(ctx, stream, cur.version, 1)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return fmt.Errorf("check %s at version %d before its snapshot: %w", stream, cur.version, err)
		}
		if !cur.endsWith(recs) {
			r.cache.remove(stream)
			return fmt.Errorf("snapshot of %s at version %d not saved: the stream no longer has that state", stream, cur.version)
		}
	}
	b, err := json.Marshal(cur.state)
	if err != nil {
		return fmt.Errorf("encode snapshot of %s at version %d: %w", stream, cur.version, err)
	}
	s := Snapshot{Stream: stream, Version: cur.version, Position: cur.position, Schema: r.opts.SnapshotSchema, State: b}
	if err := r.opts.Snapshots.Save(ctx, s); err != nil {
		return fmt.Errorf("save snapshot of %s at version %d: %w", stream, cur.version, err)
	}
	return nil
}

// watch is called by a follower of the global log in this process as it starts following from a
// position it read before the call: every cached state is forgotten, and from then on, until
// unwatch, the follower passes every event of the log to seen, so that a cached state is at most
// as far behind the store as the follower is behind the log. recent trusts the cache only while a
// follower watches.
func (r *Repo[S, E]) watch() {
	r.cache.clear()
	r.watchers.Add(1)
}

// unwatch ends what watch started.
func (r *Repo[S, E]) unwatch() { r.watchers.Add(-1) }

// seen tells the cache of rec, an event of the log (see stateCache.seen).
func (r *Repo[S, E]) seen(rec eventstore.Record) { r.cache.seen(rec.Stream, rec.Version, rec.ID) }

// recent returns the cached state of the aggregate id, without reading the store, while a follower
// of the log watches the cache: it may miss events appended by other processes since the follower
// last read the log. ok is false when the state is not cached, is behind an event the follower
// saw, or nobody watches.
func (r *Repo[S, E]) recent(id uuid.UUID) (st State[S], ok bool) {
	if r.watchers.Load() == 0 {
		return st, false
	}
	l, ok := r.cache.current(r.agg.StreamID(id))
	if !ok {
		return st, false
	}
	return State[S]{Value: l.state, Version: l.version, Position: l.position}, true
}

// Forget drops the cached state of the aggregate id, so that the next load reads the snapshot and
// the stream again.
func (r *Repo[S, E]) Forget(id uuid.UUID) { r.cache.remove(r.agg.StreamID(id)) }

func backoff(attempt int) time.Duration {
	d := retryMax
	if attempt < 20 {
		d = min(retryBase<<(attempt-1), retryMax)
	}
	return rand.N(d) + time.Microsecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

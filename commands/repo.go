package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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
	// Own and Apply, when both set, fold many events with one copy of the state instead of one per
	// event: Own returns a copy whose maps and slices the caller may change, Apply applies one event
	// to such a copy in place. A writer so decides a whole batch of commands on a product with
	// thousands of open reservations with one copy of its map. Nil means Evolve for every event.
	Own   func(S) S
	Apply func(*S, E)
	// Decode turns a stored event back into its value, such as product.Decode.
	Decode func(typ string, data []byte) (E, error)
	// SnapshotCost, when set, says how many events' worth of work a snapshot of the state is: a
	// snapshot is due only when the stream has grown by that many events since the last one, as
	// well as by Options.SnapshotEvery. A state that grows with its stream (a product's open
	// reservations) so costs a bounded amount of snapshot work per event, instead of a snapshot
	// of everything every SnapshotEvery events. Nil means every snapshot costs nothing extra.
	SnapshotCost func(S) int64
}

// Options tune a Repo. The zero Options mean no snapshots, no cache, DefaultMaxBatch and no
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
	// MaxBatch bounds the commands one append of a stream's writer carries; 0 means
	// DefaultMaxBatch.
	MaxBatch int
	// Observer is told about batches, conflicts, retries and snapshot failures; nil means
	// NopObserver.
	Observer Observer
}

// DefaultMaxBatch is how many waiting commands a stream's writer decides and appends at once.
const DefaultMaxBatch = 512

// State is an aggregate's state at a stream version.
type State[S any] struct {
	// Value is the folded state; the zero value when the stream has no events.
	Value S
	// Version is the stream's version: the number of events folded, 0 for no stream.
	Version int64
	// Position is the global position of the event at Version, 0 for no stream.
	Position eventstore.Position
}

// Repo loads aggregates of one kind and is the only code that appends their events. Every command
// on a stream goes to that stream's writer (writer.go), which decides the waiting commands in turn
// on the state the previous one left and appends them together with the expected version; a
// conflict with another process re-reads the stream and decides again (retry.go). The Repo owns
// the cache of recent states (cache.go) and the snapshots (snapshot.go). It is safe for
// concurrent use.
type Repo[S any, E Event] struct {
	store eventstore.Store
	agg   Aggregate[S, E]
	opts  Options
	cache *stateCache[S]
	obs   Observer

	// The writers: the commands waiting for each stream whose writer runs (writer.go).
	wmu    sync.Mutex
	queues map[string][]*writeRequest[S, E]

	// Background snapshot saves: at most one in flight per stream (snapping), at most
	// maxSnapshotSaves in all (saveSlots).
	snapMu    sync.Mutex
	snapping  map[string]bool
	saveSlots chan struct{}
}

// NewRepo returns a Repo for the aggregate agg stored in store.
func NewRepo[S any, E Event](store eventstore.Store, agg Aggregate[S, E], opts Options) *Repo[S, E] {
	r := &Repo[S, E]{store: store, agg: agg, opts: opts, obs: opts.Observer,
		queues:   make(map[string][]*writeRequest[S, E]),
		snapping: make(map[string]bool), saveSlots: make(chan struct{}, maxSnapshotSaves)}
	if r.obs == nil {
		r.obs = NopObserver{}
	}
	if r.opts.MaxBatch <= 0 {
		r.opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Snapshots == nil {
		r.opts.SnapshotEvery = 0
	}
	if opts.CacheSize > 0 {
		r.cache = newStateCache[S](opts.CacheSize)
	}
	return r
}

// Load returns the aggregate's state as the stream has it after the call: the cached state or
// the latest snapshot, plus the events after it, read from the store. A stream without events is
// the zero state at version 0, not an error.
func (r *Repo[S, E]) Load(ctx context.Context, id uuid.UUID) (State[S], error) {
	l, err := r.load(ctx, r.agg.StreamID(id), true, nil)
	if err != nil {
		return State[S]{}, err
	}
	return l.public(), nil
}

// Current is Load through the stream's writer: the state includes every event appended before the
// call, by any process, and the reads of many callers waiting at once cost one read of the
// stream (or none, when the writer's next append proves its state current). PlaceOrder reads the
// products' prices and statuses with it.
func (r *Repo[S, E]) Current(ctx context.Context, id uuid.UUID) (State[S], error) {
	return r.write(ctx, r.agg.StreamID(id), &writeRequest[S, E]{decide: func(S) ([]E, error) { return nil, nil }})
}

// Cached returns the aggregate's state as this process's cache holds it, without reading the
// stream, and where the stream ended then, as a condition an append can put on it
// (CreateStateIf): false when the cache does not hold the stream with its last event's id, or
// when the stream's writer has commands waiting or running (its next append moves the stream, so
// a condition on it would most likely fail: Current joins the writer's batch instead). The state
// may be behind the stream; only the condition tells.
func (r *Repo[S, E]) Cached(id uuid.UUID) (State[S], eventstore.StreamAt, bool) {
	return r.cached(r.agg.StreamID(id))
}

// cached is Cached by stream id.
func (r *Repo[S, E]) cached(stream string) (State[S], eventstore.StreamAt, bool) {
	r.wmu.Lock()
	_, busy := r.queues[stream]
	r.wmu.Unlock()
	if busy {
		return State[S]{}, eventstore.StreamAt{}, false
	}
	c, ok := r.cache.get(stream)
	if !ok || c.lastID == uuid.Nil {
		return State[S]{}, eventstore.StreamAt{}, false
	}
	return c.public(), eventstore.StreamAt{Stream: stream, Version: c.version, Last: c.lastID}, true
}

// Conditional reports whether the store checks conditions on other streams in an append
// (eventstore.ConditionalAppender), which CreateStateIf needs.
func (r *Repo[S, E]) Conditional() bool {
	_, ok := r.store.(eventstore.ConditionalAppender)
	return ok
}

// Update is UpdateState returning only where the stream ends after the command.
func (r *Repo[S, E]) Update(ctx context.Context, id uuid.UUID, meta Meta, decide func(S) ([]E, error)) (eventstore.AppendResult, error) {
	st, err := r.UpdateState(ctx, id, meta, decide)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	return eventstore.AppendResult{Version: st.Version, Position: st.Position}, nil
}

// UpdateState runs decide on the aggregate's current state through the stream's writer and
// appends the events it returns; it returns the state after the writer's append (which may hold
// the events of other commands decided in the same batch), or the current state when decide made
// no events. When another process appended first, the writer reads the stream and decides again,
// until ctx ends: traffic never makes a command fail. An error from decide is returned as it is,
// never retried.
//
// Every event gets meta in its metadata. With meta.CommandID set, event ids are derived from it,
// and an UpdateState that finds the command's first event among the events after the latest
// snapshot returns that earlier append's result without deciding again (a command re-run after a
// crash between its append and the storing of its idempotent result).
func (r *Repo[S, E]) UpdateState(ctx context.Context, id uuid.UUID, meta Meta, decide func(S) ([]E, error)) (State[S], error) {
	return r.update(ctx, id, meta, nil, decide, false)
}

// update is UpdateState; delayed lets the writer append without waiting for the disk when every
// command of the batch allows it (see Fulfilment); conds, when set, are conditions on other
// streams the events are appended under, as CreateStateIf's.
func (r *Repo[S, E]) update(ctx context.Context, id uuid.UUID, meta Meta, conds []eventstore.StreamAt, decide func(S) ([]E, error), delayed bool) (State[S], error) {
	stream := r.agg.StreamID(id)
	meta = meta.complete()
	if meta.CommandID != uuid.Nil {
		st, found, err := r.findCommand(ctx, stream, meta.CommandID)
		if err != nil || found {
			return st, err
		}
	}
	return r.write(ctx, stream, &writeRequest[S, E]{meta: meta, decide: decide, delayed: delayed, conds: conds})
}

// updateAlong is UpdateState for a command that decides other streams' events with the stream's
// own and appends them in the same transaction (writeRequest.along): its events are always
// durable.
func (r *Repo[S, E]) updateAlong(ctx context.Context, id uuid.UUID, meta Meta, decide func(S) ([]E, error),
	along func() (before, after []eventstore.StreamAppend, err error), alongDone func(before, after []eventstore.AppendResult)) (State[S], error) {
	return r.write(ctx, r.agg.StreamID(id), &writeRequest[S, E]{meta: meta.complete(), decide: decide, along: along, alongDone: alongDone})
}

// CreateState is UpdateState for a command that starts a stream under a new id: unless the stream
// is cached, the writer decides on the empty state and appends expecting no stream, without
// reading it first; when the stream exists after all, the append is refused and the writer reads
// it and decides again (and the decision refuses a second creation). A command with a CommandID
// whose events the stream already holds (a re-run: the store takes its append as a re-append, or
// the decision refuses a second creation) returns that earlier append's result and the state as
// stored, never one built from this run's decision (its clock, its prices).
func (r *Repo[S, E]) CreateState(ctx context.Context, id uuid.UUID, meta Meta, decide func(S) ([]E, error)) (State[S], error) {
	return r.CreateStateIf(ctx, id, meta, nil, decide)
}

// CreateStateIf is CreateState for a decision that rests on facts of other streams as the caller
// saw them (Cached): its events are appended only if every condition in conds still holds, in the
// same statement (eventstore.ConditionalAppender). When one does not, the answer is an error
// matching eventstore.ErrConditionFailed, and the caller reads the facts and decides again; the
// writer does not, since the facts are not its stream's. The store must be Conditional.
func (r *Repo[S, E]) CreateStateIf(ctx context.Context, id uuid.UUID, meta Meta, conds []eventstore.StreamAt, decide func(S) ([]E, error)) (State[S], error) {
	stream := r.agg.StreamID(id)
	meta = meta.complete()
	st, err := r.write(ctx, stream, &writeRequest[S, E]{meta: meta, decide: decide, create: true, conds: conds})
	if err != nil && meta.CommandID != uuid.Nil && ctx.Err() == nil {
		if earlier, found, ferr := r.findCommand(ctx, stream, meta.CommandID); ferr == nil && found {
			return earlier, nil
		}
	}
	return st, err
}

// findCommand reads stream from its latest snapshot (not the cache, which may have been folded
// past the command's events by another process) and reports whether it holds the events of
// command, with the state and where they ended.
func (r *Repo[S, E]) findCommand(ctx context.Context, stream string, command uuid.UUID) (State[S], bool, error) {
	find := newCommandFinder(command, stream)
	cur, err := r.load(ctx, stream, false, find)
	if err != nil || !find.found {
		return State[S]{}, false, err
	}
	return State[S]{Value: cur.state, Version: find.res.Version, Position: find.res.Position}, true, nil
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
	if useCache {
		if cur, ok := r.cache.get(stream); ok {
			return r.readOn(ctx, stream, cur, find)
		}
	}
	return r.readOn(ctx, stream, r.fromSnapshot(ctx, stream), find)
}

// readOn returns the stream's current state: cur plus the events after it. A cur whose last event
// is known is checked against the stream (the first page starts at that event, which must still be
// there); when the store took it back, the stream is loaded again from its snapshot.
func (r *Repo[S, E]) readOn(ctx context.Context, stream string, cur loaded[S], find *commandFinder) (loaded[S], error) {
	check := cur.lastID != uuid.Nil
	from := cur.version + 1
	if check {
		from = cur.version
	}
	events := make([]E, 0, 16)
	for {
		recs, err := r.store.ReadStream(ctx, stream, from, pageSize)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return loaded[S]{}, fmt.Errorf("read %s from version %d: %w", stream, from, err)
		}
		full := len(recs) == pageSize
		if check {
			check = false
			if !cur.endsWith(recs) {
				r.cache.remove(stream)
				r.obs.StaleCache(stream, cur.version)
				return r.load(ctx, stream, false, find)
			}
			recs = recs[1:]
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
		if !full {
			break
		}
		from = last.Version + 1
	}
	// An empty stream is not cached: lookups of unknown ids must not push out real states.
	if cur.version > 0 {
		r.remember(ctx, stream, cur)
	}
	return cur, nil
}

// pageSize is how many events one read of a stream returns at most.
const pageSize = 1000

// fold applies events to s without modifying what s shares.
func (r *Repo[S, E]) fold(s S, events []E) S {
	if len(events) == 0 {
		return s
	}
	if r.agg.Own != nil && r.agg.Apply != nil {
		s = r.agg.Own(s)
		for _, e := range events {
			r.agg.Apply(&s, e)
		}
		return s
	}
	for _, e := range events {
		s = r.agg.Evolve(s, e)
	}
	return s
}

// eventData encodes events for an append to stream, each with the metadata of meta(i) (completed)
// and an id from it: derived from its CommandID and n(i), the event's place among its command's
// events, when set, else new.
func eventData[E Event](stream string, events []E, meta func(i int) (Meta, int)) ([]eventstore.EventData, error) {
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s for %s: %w", e.EventType(), stream, err)
		}
		m, n := meta(i)
		data[i] = eventstore.EventData{ID: m.eventID(stream, n), Type: e.EventType(), Data: payload, Metadata: m.metadata().Marshal()}
	}
	return data, nil
}

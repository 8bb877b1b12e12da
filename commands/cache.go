package commands

import (
	"container/list"
	"sync"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// loaded is a state at a stream version, as a Repo keeps it.
type loaded[S any] struct {
	state    S
	version  int64
	position eventstore.Position
	// snapshot is the version of the latest snapshot known to be saved (0: none).
	snapshot int64
	// lastID is the id of the event at version, when known (uuid.Nil after a snapshot with no
	// events read on top). A load from the cache checks that the stream still has it there.
	lastID uuid.UUID
}

// stateCache keeps the most recently used states of up to size streams. An entry is a state that
// was true at its version; readers fold the events after it, and a writer's append expects its
// last event, so an entry never needs invalidating when others append. Only a store that takes
// back events (a crash that loses delayed appends, a fail-over to a replica that was behind) can
// make an entry wrong, and loads and appends check for that by the id of the entry's last event.
// States are shared between goroutines and must not be mutated: the domain's Evolve functions
// copy what they change, and a writer folds a batch into its own copy (Aggregate.Own).
type stateCache[S any] struct {
	mu    sync.Mutex
	size  int
	order *list.List // front = most recently used; values are *cacheEntry[S]
	items map[string]*list.Element
}

type cacheEntry[S any] struct {
	stream string
	value  loaded[S]
}

// endsWith reports whether recs, read from the stream from l's version on, start with l's last
// event: whether the stream still has the history l was folded from.
func (l loaded[S]) endsWith(recs []eventstore.Record) bool {
	return len(recs) > 0 && recs[0].Version == l.version && recs[0].ID == l.lastID
}

func newStateCache[S any](size int) *stateCache[S] {
	return &stateCache[S]{size: size, order: list.New(), items: make(map[string]*list.Element)}
}

// get returns stream's entry and marks it the most recently used.
func (c *stateCache[S]) get(stream string) (loaded[S], bool) {
	if c == nil {
		return loaded[S]{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[stream]
	if !ok {
		return loaded[S]{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry[S]).value, true
}

// put stores v unless the cache holds a later version of the stream. It returns the version of
// the latest snapshot known to be saved of the stream: v's or the cached entry's, whichever is
// later.
func (c *stateCache[S]) put(stream string, v loaded[S]) int64 {
	if c == nil {
		return v.snapshot
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[stream]; ok {
		e := el.Value.(*cacheEntry[S])
		snapshot := max(e.value.snapshot, v.snapshot)
		if e.value.version <= v.version {
			e.value = v
		}
		e.value.snapshot = max(e.value.snapshot, snapshot)
		c.order.MoveToFront(el)
		return snapshot
	}
	c.items[stream] = c.order.PushFront(&cacheEntry[S]{stream: stream, value: v})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry[S]).stream)
	}
	return v.snapshot
}

// snapshotSaved records that a snapshot of stream at version has been saved.
func (c *stateCache[S]) snapshotSaved(stream string, version int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[stream]; ok {
		e := el.Value.(*cacheEntry[S])
		e.value.snapshot = max(e.value.snapshot, version)
	}
}

func (c *stateCache[S]) remove(stream string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[stream]; ok {
		c.order.Remove(el)
		delete(c.items, stream)
	}
}

// public is l as callers see it.
func (l loaded[S]) public() State[S] {
	return State[S]{Value: l.state, Version: l.version, Position: l.position}
}

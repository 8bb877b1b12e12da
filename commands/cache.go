package commands

import (
	"container/list"
	"sync"
	"time"

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
// was true at its version; readers fold the events after it, so an entry never needs invalidating
// when others append. Only a store that takes back events (a crash that loses delayed appends, a
// fail-over to a replica that was behind) can make an entry wrong, and loads check for that by
// the id of the entry's last event. States are shared between goroutines and must not be mutated: the domain's
// Evolve functions copy what they change.
type stateCache[S any] struct {
	mu    sync.Mutex
	size  int
	order *list.List // front = most recently used; values are *cacheEntry[S]
	items map[string]*list.Element
}

type cacheEntry[S any] struct {
	stream string
	value  loaded[S]
	// seen is the latest version of the stream a follower of the log reported (seen); a value
	// behind it misses events.
	seen int64
	// checked is when value was last read from the store or written to it.
	checked time.Time
}

// currentFor bounds how long current vouches for an entry after it was last checked against the
// store: whatever a follower of the log may have missed (it cannot tell a transaction the server
// lost in a crash and whose transaction id it reused) is forgotten after that.
const currentFor = 30 * time.Second

// endsWith reports whether recs, read from the stream from l's version on, start with l's last
// event: whether the stream still has the history l was folded from.
func (l loaded[S]) endsWith(recs []eventstore.Record) bool {
	return len(recs) > 0 && recs[0].Version == l.version && recs[0].ID == l.lastID
}

func newStateCache[S any](size int) *stateCache[S] {
	return &stateCache[S]{size: size, order: list.New(), items: make(map[string]*list.Element)}
}

// get returns stream's entry.
func (c *stateCache[S]) get(stream string) (loaded[S], bool) { return c.find(stream, false) }

// current returns stream's entry when it is not behind any event a follower of the log reported
// and was checked against the store within currentFor.
func (c *stateCache[S]) current(stream string) (loaded[S], bool) { return c.find(stream, true) }

// find returns stream's entry, only a current one if onlyCurrent (see current), and marks it the
// most recently used.
func (c *stateCache[S]) find(stream string, onlyCurrent bool) (loaded[S], bool) {
	if c == nil {
		return loaded[S]{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[stream]
	if !ok {
		return loaded[S]{}, false
	}
	e := el.Value.(*cacheEntry[S])
	if onlyCurrent && (e.value.version < e.seen || time.Since(e.checked) >= currentFor) {
		return loaded[S]{}, false
	}
	c.order.MoveToFront(el)
	return e.value, true
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
			e.value, e.checked = v, time.Now()
		}
		e.value.snapshot = max(e.value.snapshot, snapshot)
		c.order.MoveToFront(el)
		return snapshot
	}
	c.items[stream] = c.order.PushFront(&cacheEntry[S]{stream: stream, value: v, checked: time.Now()})
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

// seen records that the stream has an event at version with id. An entry that holds another
// event at that version is wrong (the store took events back) and is removed; an entry behind
// version is kept, as loads fold the events after it, but current no longer vouches for it.
func (c *stateCache[S]) seen(stream string, version int64, id uuid.UUID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[stream]
	if !ok {
		return
	}
	e := el.Value.(*cacheEntry[S])
	if e.value.version == version && e.value.lastID != uuid.Nil && e.value.lastID != id {
		c.order.Remove(el)
		delete(c.items, stream)
		return
	}
	e.seen = max(e.seen, version)
}

// clear removes every entry.
func (c *stateCache[S]) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.items)
}

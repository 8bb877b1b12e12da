package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// LogSource is the global log the live-update streams follow: one subscription per process feeds
// every open stream, and a reconnecting client catches up with ReadAll. An eventstore.Store is
// one; so is a process-wide tail of the log that fans out to its followers.
type LogSource interface {
	// SubscribeAll calls handle with consecutive batches of the log after from, until ctx ends.
	SubscribeAll(ctx context.Context, from eventstore.Position, handle func(context.Context, []eventstore.Record) error) error
	// ReadAll returns up to limit events of the log after from, in log order.
	ReadAll(ctx context.Context, from eventstore.Position, limit int) ([]eventstore.Record, error)
	// Head returns the position of the last event readers can see.
	Head(ctx context.Context) (eventstore.Position, error)
}

// liveBuffer is how many batches of changes (one per batch of the log the hub reads) a stream
// may have queued before it is ended as too slow; its client reconnects with Last-Event-ID and
// loses nothing. It counts batches, not changes: one read of the log after a pause can hold
// hundreds of changes for a seller's stream, which a client that keeps up takes at once.
const liveBuffer = 64

// errLiveLagging ends a stream whose client does not read fast enough.
var errLiveLagging = errors.New("live stream fell behind the log")

// liveChange is one event of the log as the live streams see it: the record, the order it
// concerns (order and review events), and for order events the order's state after it.
type liveChange struct {
	rec     eventstore.Record
	orderID uuid.UUID
	// after is the order's state once rec is applied (order events only).
	after order.Order
	// line is the line a review event is about.
	line int
	// reviewID is set on review.written: the review of line.
	reviewID uuid.UUID
}

// liveKey is what a subscription follows: one order, or the lines of one seller's products.
type liveKey struct {
	order, seller uuid.UUID
}

// liveSub is one open stream's subscription: the hub queues the changes of its key that keep
// (when set) accepts, those of one batch of the log together, in log order.
type liveSub struct {
	key  liveKey
	keep func(*liveChange) bool
	ch   chan []*liveChange
	// held are changes taken from ch before the stream began that it must still show.
	held []*liveChange
	// queued are the changes of the batch fanOut is queuing; h.mu is held.
	queued []*liveChange
	// err says why ch was closed: errLiveLagging, the log's failure, or errLiveClosed.
	err error
}

// errLiveClosed ends the streams when the hub stops (the server shuts down).
var errLiveClosed = errors.New("live updates stopped")

// liveHub follows the global log with one subscription and fans it out to the open streams. It
// starts with the first stream and keeps following until Close.
type liveHub struct {
	source LogSource
	log    *slog.Logger
	states *orderStates

	mu      sync.Mutex
	running bool
	closed  bool
	pos     eventstore.Position // the last position fanned out
	subs    map[liveKey]map[*liveSub]struct{}
	open    int
	sellers int                 // open seller streams
	recent  []eventstore.Record // the last liveRecent events, oldest first, without their data
	cancel  context.CancelFunc
	done    chan struct{}
}

func newLiveHub(source LogSource, log *slog.Logger) *liveHub {
	return &liveHub{source: source, log: log, states: newOrderStates(source), subs: map[liveKey]map[*liveSub]struct{}{}}
}

// subscribe follows key's changes that keep (nil: all) accepts. It returns the subscription and
// the position after which it gets every change: everything up to that position is in the store
// for the caller to read.
func (h *liveHub) subscribe(ctx context.Context, key liveKey, keep func(*liveChange) bool) (*liveSub, eventstore.Position, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.ensureRunning(ctx); err != nil {
		return nil, 0, err
	}
	s := &liveSub{key: key, keep: keep, ch: make(chan []*liveChange, liveBuffer)}
	if h.subs[key] == nil {
		h.subs[key] = map[*liveSub]struct{}{}
	}
	h.subs[key][s] = struct{}{}
	h.open++
	if key.seller != uuid.Nil {
		h.sellers++
	}
	return s, h.pos, nil
}

// ensureRunning starts following the log from its head unless the hub follows it; h.mu is held.
func (h *liveHub) ensureRunning(ctx context.Context) error {
	if h.closed {
		return errLiveClosed
	}
	if !h.running {
		head, err := h.source.Head(ctx)
		if err != nil {
			return fmt.Errorf("read the log's head: %w", err)
		}
		h.start(head)
	}
	return nil
}

// liveRecent is how many of the last events the hub keeps for the console's tail of the log.
const liveRecent = 30

// tail returns the last events the hub has seen, newest first and without their data, and the
// position it has followed the log to; it starts following the log if it does not.
func (h *liveHub) tail(ctx context.Context) ([]eventstore.Record, eventstore.Position, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.ensureRunning(ctx); err != nil {
		return nil, 0, err
	}
	out := make([]eventstore.Record, len(h.recent))
	for i, r := range h.recent {
		out[len(out)-1-i] = r
	}
	return out, h.pos, nil
}

// unsubscribe forgets s; its channel is closed unless the hub closed it already.
func (h *liveHub) unsubscribe(s *liveSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s.key][s]; ok {
		h.drop(s)
	}
}

// start follows the log after head; h.mu is held.
func (h *liveHub) start(head eventstore.Position) {
	ctx, cancel := context.WithCancel(context.Background())
	h.running, h.pos, h.cancel, h.done = true, head, cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		err := h.source.SubscribeAll(ctx, head, h.fanOut)
		if ctx.Err() != nil {
			return
		}
		h.log.Error("live updates: following the log stopped", "err", err)
		h.mu.Lock()
		defer h.mu.Unlock()
		// The open streams end; their clients reconnect and resume, which restarts the hub.
		h.endAll(fmt.Errorf("follow the log: %w", err))
		h.running = false
	}()
}

// drop forgets s and closes its channel; h.mu is held.
func (h *liveHub) drop(s *liveSub) {
	delete(h.subs[s.key], s)
	if len(h.subs[s.key]) == 0 {
		delete(h.subs, s.key)
	}
	h.open--
	if s.key.seller != uuid.Nil {
		h.sellers--
	}
	close(s.ch)
}

// follows reports whether an open stream may show a change of order id: a stream of that order,
// or of any seller (an order's sellers are known only from its state). The hub skips the others'
// events: an order's state is read again from its stream once it is followed.
func (h *liveHub) follows(id uuid.UUID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sellers > 0 || len(h.subs[liveKey{order: id}]) > 0
}

// keys returns the keys that follow c: its order, and the sellers of the order's lines.
func (c *liveChange) keys() []liveKey {
	keys := []liveKey{{order: c.orderID}}
	for _, l := range c.after.Lines {
		k := liveKey{seller: l.SellerID}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// fanOut queues the changes of batch to the subscriptions that follow them, each subscription's
// in one slice.
func (h *liveHub) fanOut(ctx context.Context, batch []eventstore.Record) error {
	changes := make([]*liveChange, 0, len(batch))
	for _, rec := range batch {
		c, err := h.states.change(ctx, rec, h.follows)
		if err != nil {
			return err
		}
		if c != nil {
			changes = append(changes, c)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var touched []*liveSub
	for _, c := range changes {
		for _, k := range c.keys() {
			for s := range h.subs[k] {
				if s.keep != nil && !s.keep(c) {
					continue
				}
				if len(s.queued) == 0 {
					touched = append(touched, s)
				}
				s.queued = append(s.queued, c)
			}
		}
	}
	for _, s := range touched {
		cs := s.queued
		s.queued = nil
		select {
		case s.ch <- cs:
		default:
			s.err = errLiveLagging
			h.drop(s)
		}
	}
	for _, rec := range batch[max(0, len(batch)-liveRecent):] {
		rec.Data = nil
		if len(h.recent) == liveRecent {
			h.recent = append(h.recent[:0], h.recent[1:]...)
		}
		h.recent = append(h.recent, rec)
	}
	if len(batch) > 0 {
		h.pos = batch[len(batch)-1].Position
	}
	return nil
}

// endAll closes every subscription with err; h.mu is held.
func (h *liveHub) endAll(err error) {
	for _, subs := range h.subs {
		for s := range subs {
			s.err = err
			h.drop(s)
		}
	}
}

// count returns the number of open streams.
func (h *liveHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open
}

// Close ends every stream and stops following the log.
func (h *liveHub) Close() {
	h.mu.Lock()
	h.closed = true
	h.endAll(errLiveClosed)
	cancel, done := h.cancel, h.done
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// liveRefs is what the live streams read from an event's data to route it.
type liveRefs struct {
	OrderID  uuid.UUID `json:"order_id"`
	ReviewID uuid.UUID `json:"review_id"`
	Line     int       `json:"line"`
}

// maxOrderStates bounds the orders whose state the hub keeps; past it, it forgets them all and
// reads each again from its stream when it next changes.
const maxOrderStates = 100_000

// orderStates keeps the state of recently changed orders, so that an order event can be shown
// with the whole order after it (order.confirmed names no lines or sellers). A state that is not
// one version behind the event is read again from the order's stream.
type orderStates struct {
	source LogSource
	store  streamReader
	mu     sync.Mutex
	byID   map[uuid.UUID]versioned
}

// streamReader reads one stream; the stores that are LogSources read streams too.
type streamReader interface {
	ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.Record, error)
}

type versioned struct {
	order   order.Order
	version int64
}

func newOrderStates(source LogSource) *orderStates {
	st, _ := source.(streamReader)
	return &orderStates{source: source, store: st, byID: map[uuid.UUID]versioned{}}
}

// change returns the change rec makes for the live streams, or nil for an event no stream shows
// or of an order that followed (when not nil) says no stream follows.
func (o *orderStates) change(ctx context.Context, rec eventstore.Record, followed func(uuid.UUID) bool) (*liveChange, error) {
	switch {
	case strings.HasPrefix(rec.Stream, order.StreamPrefix):
		id, err := uuid.Parse(strings.TrimPrefix(rec.Stream, order.StreamPrefix))
		if err != nil || (followed != nil && !followed(id)) {
			return nil, nil
		}
		after, err := o.after(ctx, id, rec)
		if err != nil {
			return nil, err
		}
		return &liveChange{rec: rec, orderID: id, after: after}, nil
	case rec.Type == review.TypeWritten:
		var refs liveRefs
		if json.Unmarshal(rec.Data, &refs) != nil || refs.OrderID == uuid.Nil {
			return nil, nil
		}
		return &liveChange{rec: rec, orderID: refs.OrderID, line: refs.Line, reviewID: refs.ReviewID}, nil
	}
	return nil, nil
}

// after returns order id's state once rec (one of its events) is applied.
func (o *orderStates) after(ctx context.Context, id uuid.UUID, rec eventstore.Record) (order.Order, error) {
	e, err := order.Decode(rec.Type, rec.Data)
	if err != nil {
		return order.Order{}, fmt.Errorf("decode %s %s@%d: %w", rec.Type, rec.Stream, rec.Version, err)
	}
	o.mu.Lock()
	prev, ok := o.byID[id]
	o.mu.Unlock()
	var state order.Order
	switch {
	case rec.Version == 1:
		state = order.Evolve(order.Order{}, e)
	case ok && prev.version == rec.Version-1:
		state = order.Evolve(prev.order, e)
	default:
		if state, err = o.read(ctx, rec.Stream, rec.Version); err != nil {
			return order.Order{}, err
		}
	}
	o.mu.Lock()
	if len(o.byID) >= maxOrderStates {
		clear(o.byID)
	}
	if cur, ok := o.byID[id]; !ok || cur.version < rec.Version {
		o.byID[id] = versioned{order: state, version: rec.Version}
	}
	o.mu.Unlock()
	return state, nil
}

// read folds stream's events up to version.
func (o *orderStates) read(ctx context.Context, stream string, version int64) (order.Order, error) {
	if o.store == nil {
		return order.Order{}, fmt.Errorf("read %s: the live log source cannot read streams", stream)
	}
	recs, err := o.store.ReadStream(ctx, stream, 1, int(version))
	if err != nil {
		return order.Order{}, fmt.Errorf("read %s up to %d: %w", stream, version, err)
	}
	return foldOrder(recs)
}

// readOrder reads order id's stream whole and folds it, for the views that show an order from its
// events (the console's timeline, the live order stream): an order with no stream is the API's
// order NotFound.
func (s *Server) readOrder(ctx context.Context, id uuid.UUID) ([]eventstore.Record, order.Order, error) {
	recs, err := s.store.ReadStream(ctx, order.StreamID(id), 1, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, order.Order{}, domain.NotFoundf(order.CodeNotFound, "order %s not found", id)
	}
	if err != nil {
		return nil, order.Order{}, fmt.Errorf("read order %s: %w", id, err)
	}
	state, err := foldOrder(recs)
	return recs, state, err
}

// foldOrder replays an order's records.
func foldOrder(recs []eventstore.Record) (order.Order, error) {
	var state order.Order
	for _, r := range recs {
		e, err := order.Decode(r.Type, r.Data)
		if err != nil {
			return order.Order{}, fmt.Errorf("decode %s %s@%d: %w", r.Type, r.Stream, r.Version, err)
		}
		state = order.Evolve(state, e)
	}
	return state, nil
}

// liveCatchUpPage is how many events of the log a resuming stream reads at a time.
const liveCatchUpPage = 1000

// catchUp calls each with the changes of the log after from up to and including to, for a stream
// resuming from Last-Event-ID. It keeps its own order states: replaying the past must not move
// the hub's.
func catchUp(ctx context.Context, source LogSource, from, to eventstore.Position, each func(*liveChange) error) error {
	states := newOrderStates(source)
	for from < to {
		recs, err := source.ReadAll(ctx, from, liveCatchUpPage)
		if err != nil {
			return fmt.Errorf("read the log after %d: %w", from, err)
		}
		if len(recs) == 0 {
			return nil
		}
		for _, rec := range recs {
			if rec.Position > to {
				return nil
			}
			c, err := states.change(ctx, rec, nil)
			if err != nil {
				return err
			}
			if c != nil {
				if err := each(c); err != nil {
					return err
				}
			}
			from = rec.Position
		}
	}
	return nil
}

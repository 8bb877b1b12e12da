package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	retry "github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Outcomes tells callers when an order is settled (ORDER or REJECT), without polling: Run follows
// the global log from its head and wakes the callers of AwaitSettled waiting for an order when its
// order.confirmed or order.rejected goes by. A Fulfilment in the same process given this Outcomes
// (FulfilmentConfig.Outcomes) wakes them directly, as soon as it has settled an order, without
// the wait for the log. POST /orders?wait= and the benchmark use it.
//
// It remembers the last recentOutcomes outcomes it heard of, so that a caller who placed an order
// after Run started, and so knows every outcome of it will be heard of here, waits without reading
// the order's stream.
type Outcomes struct {
	store  eventstore.Store
	log    eventstore.Subscriber
	logger *slog.Logger
	orders *Repo[order.Order, order.Event]

	startOnce sync.Once
	started   chan struct{} // closed once Run follows the log
	start     eventstore.Position

	mu      sync.Mutex
	waiters map[uuid.UUID]map[chan outcome]struct{}
	recent  map[uuid.UUID]outcome // the outcomes heard of, the newest keep of them
	heard   []heardOutcome        // recent's orders, oldest first
	keep    int
	evicted eventstore.Position // the latest position of an outcome dropped from recent
}

// recentOutcomes bounds Outcomes' memory of outcomes (about 100 bytes each).
const recentOutcomes = 1 << 15

// heardOutcome is an order whose outcome Outcomes remembers, and the outcome's log position.
type heardOutcome struct {
	order    uuid.UUID
	position eventstore.Position
}

type outcome struct {
	status order.Status
	reason string
}

// OutcomesConfig tunes an Outcomes. The zero value gives the defaults.
type OutcomesConfig struct {
	// Log is what Run follows the log through: the process's shared tail of the log, or nil for
	// the store's own subscription.
	Log eventstore.Subscriber
	// Logger receives the failures Run retries; nil uses slog.Default().
	Logger *slog.Logger
}

// NewOutcomes returns an Outcomes that reads orders through repos, configured by the first cfg if
// any. Start its Run before calling AwaitSettled.
func NewOutcomes(store eventstore.Store, repos *Repos, cfg ...OutcomesConfig) *Outcomes {
	var c OutcomesConfig
	if len(cfg) > 0 {
		c = cfg[0]
	}
	if c.Log == nil {
		c.Log = store
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Outcomes{store: store, log: c.Log, logger: c.Logger, orders: repos.Orders,
		started: make(chan struct{}), waiters: make(map[uuid.UUID]map[chan outcome]struct{}),
		recent: make(map[uuid.UUID]outcome), keep: recentOutcomes}
}

// Run follows the log from its current head until ctx ends (it returns nil then). A failure is
// logged and retried with backoff (reset once events arrive again) from a durable position: the
// last position seen, or the log's head when that is earlier, because a crash of the database
// can take back events Run saw and hand their positions out again.
func (w *Outcomes) Run(ctx context.Context) error {
	b := &retry.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: time.Second}
	notify := retry.WithNotify(func(err error, d time.Duration) {
		w.logger.Warn("order outcome waiter: following the log failed, retrying", "err", err, "retry_in", d)
	})
	var from eventstore.Position
	first := true
	_, err := retry.Retry(ctx, func() (struct{}, error) {
		head, err := w.store.Head(ctx)
		if err != nil {
			return struct{}{}, fmt.Errorf("read the log's head: %w", err)
		}
		if first {
			from, w.start, first = head, head, false
		}
		from = min(from, head)
		w.startOnce.Do(func() { close(w.started) })
		err = w.log.SubscribeAll(ctx, from, func(_ context.Context, recs []eventstore.Record) error {
			for _, rec := range recs {
				w.see(rec)
			}
			from = recs[len(recs)-1].Position
			b.Reset()
			return nil
		})
		if ctx.Err() != nil {
			return struct{}{}, retry.Permanent(ctx.Err())
		}
		return struct{}{}, fmt.Errorf("follow the log from %d: %w", from, err)
	}, retry.WithBackOff(b), retry.WithMaxElapsedTime(0), notify)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("order outcome waiter: %w", err)
	}
	return nil
}

// see wakes the waiters of the order rec settles, if any.
func (w *Outcomes) see(rec eventstore.Record) {
	if rec.Type != order.TypeConfirmed && rec.Type != order.TypeRejected {
		return
	}
	e, err := order.Decode(rec.Type, rec.Data)
	if err != nil {
		return
	}
	switch e := e.(type) {
	case order.Confirmed:
		w.settled(e.OrderID, outcome{status: order.StatusOrder}, rec.Position)
	case order.Rejected:
		w.settled(e.OrderID, outcome{status: order.StatusReject, reason: e.Reason}, rec.Position)
	}
}

// settled wakes the waiters of order id with its outcome out and remembers it, when its position
// in the log is known (not 0): the positions of the outcomes forgotten tell AwaitSettled which
// orders' outcomes may have been forgotten. An outcome of unknown position is remembered when Run
// hears of it. A nil Outcomes does nothing.
func (w *Outcomes) settled(id uuid.UUID, out outcome, position eventstore.Position) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.recent[id]; !ok && position > 0 {
		w.recent[id] = out
		w.heard = append(w.heard, heardOutcome{order: id, position: position})
		if len(w.heard) > w.keep {
			old := w.heard[0]
			w.heard = w.heard[1:]
			delete(w.recent, old.order)
			w.evicted = max(w.evicted, old.position)
		}
	}
	for ch := range w.waiters[id] {
		select {
		case ch <- out:
		default:
		}
	}
}

// lookup returns order id's outcome when it is remembered (heard), and else whether it is known to
// be still to come (pending): an outcome comes after its order.placed in the log, so one of an
// order placed (at position placed) at or after Run's start is heard of by Run, and one after the
// latest forgotten outcome is remembered. Call it with w.mu held.
func (w *Outcomes) lookup(id uuid.UUID, placed eventstore.Position) (out outcome, heard, pending bool) {
	if out, heard = w.recent[id]; heard {
		return out, true, false
	}
	return outcome{}, false, placed > 0 && placed >= w.start && placed >= w.evicted
}

// AwaitSettled returns the order's status and reject reason once it is ORDER or REJECT, at once
// when it already is. When ctx ends first it returns PENDING and ctx's error. An unknown order is
// a NotFound error.
//
// placed is the log position of the order's order.placed when the caller knows it (the result of
// PlaceOrder), else 0. An order placed after Run started is settled by an event Run hears of, so
// when its outcome is not among the recent ones it is still to come, and the wait reads nothing.
func (w *Outcomes) AwaitSettled(ctx context.Context, orderID uuid.UUID, placed eventstore.Position) (order.Status, string, error) {
	select {
	case <-w.started:
	case <-ctx.Done():
		return order.StatusPending, "", fmt.Errorf("await order %s: %w", orderID, ctx.Err())
	}
	ch := make(chan outcome, 1)
	w.mu.Lock()
	if w.waiters[orderID] == nil {
		w.waiters[orderID] = make(map[chan outcome]struct{})
	}
	w.waiters[orderID][ch] = struct{}{}
	out, heard, pending := w.lookup(orderID, placed)
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.waiters[orderID], ch)
		if len(w.waiters[orderID]) == 0 {
			delete(w.waiters, orderID)
		}
		w.mu.Unlock()
	}()

	if heard {
		return out.status, out.reason, nil
	}
	// Registered first, read second: an outcome committed before the read is in the stream, one
	// committed after it comes by the log, which Run follows from a head read before. The last
	// event tells whether the order is still pending without loading it.
	if !pending {
		last, err := w.store.ReadStreamBackward(ctx, order.StreamID(orderID), 1)
		switch {
		case errors.Is(err, eventstore.ErrStreamNotFound):
			return "", "", domain.NotFoundf(order.CodeNotFound, "order %s not found", orderID)
		case err != nil:
			return order.StatusPending, "", fmt.Errorf("await order %s: %w", orderID, err)
		case last[0].Type != order.TypePlaced:
			st, err := w.orders.Load(ctx, orderID)
			if err != nil {
				return order.StatusPending, "", fmt.Errorf("await order %s: %w", orderID, err)
			}
			if st.Value.Status != order.StatusPending {
				return st.Value.Status, st.Value.RejectReason, nil
			}
		}
	}
	select {
	case out := <-ch:
		return out.status, out.reason, nil
	case <-ctx.Done():
		return order.StatusPending, "", fmt.Errorf("await order %s: %w", orderID, ctx.Err())
	}
}

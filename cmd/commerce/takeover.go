package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// takeover settles the orders the saga processes have left PENDING for too long: the orders of
// a saga process that crashed wait for Kafka to give its partitions to another one (the session
// timeout, then a rebalance), and an API process that sees an order still PENDING `after` its
// order.placed went by in the log hands that event to its own process manager. Every step of the
// process manager is idempotent, so the saga that later gets the partition, or one that was only
// slow, finds the work done; the cost of a needless takeover is a few version conflicts.
type takeover struct {
	store logFollower
	saga  bus.Handler
	after time.Duration
	log   *slog.Logger

	started chan struct{} // closed once Run knows the head: it sees every order placed after

	mu      sync.Mutex
	pending map[uuid.UUID]pendingOrder
	full    bool
}

// logFollower is what a takeover follows the log through: the process's one tail of the log
// (logtail.Tail), or a store.
type logFollower interface {
	eventstore.Subscriber
	Head(ctx context.Context) (eventstore.Position, error)
}

// pendingOrder is an order.placed not yet followed by its outcome, and when it was seen.
type pendingOrder struct {
	placed eventstore.Record
	seen   time.Time
}

// maxPending bounds the orders a takeover remembers; past it, new orders are left to the sagas.
const maxPending = 1 << 17

// takeoverWorkers bounds the orders a takeover settles at once.
const takeoverWorkers = 16

func newTakeover(store logFollower, saga bus.Handler, after time.Duration, log *slog.Logger) *takeover {
	return &takeover{store: store, saga: saga, after: after, log: log, pending: make(map[uuid.UUID]pendingOrder), started: make(chan struct{})}
}

// Run follows the log from its head and settles overdue orders until ctx ends; it returns nil
// then. A failed read of the log is retried from the last position seen.
func (t *takeover) Run(ctx context.Context) error {
	from, err := backoff.Retry(ctx, func() (eventstore.Position, error) { return t.store.Head(ctx) },
		backoff.WithBackOff(backoff.NewConstantBackOff(time.Second)), backoff.WithMaxElapsedTime(0))
	if err != nil {
		return nil // only ctx ends the retries
	}
	close(t.started)
	var wg sync.WaitGroup
	wg.Go(func() { t.sweep(ctx) })
	defer wg.Wait()
	for {
		err := t.store.SubscribeAll(ctx, from, func(_ context.Context, recs []eventstore.Record) error {
			now := time.Now()
			for _, rec := range recs {
				t.see(rec, now)
			}
			from = recs[len(recs)-1].Position
			return nil
		})
		if ctx.Err() != nil {
			return nil
		}
		t.log.Warn("saga takeover: log subscription ended, resuming", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// see remembers a placed order and forgets a settled one.
func (t *takeover) see(rec eventstore.Record, now time.Time) {
	switch rec.Type {
	case order.TypePlaced, order.TypeConfirmed, order.TypeRejected:
	default:
		return
	}
	e, err := order.Decode(rec.Type, rec.Data)
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e := e.(type) {
	case order.Placed:
		if len(t.pending) >= maxPending {
			if !t.full {
				t.log.Warn("saga takeover: too many pending orders to watch; new ones are left to the sagas", "pending", len(t.pending))
			}
			t.full = true
			return
		}
		t.full = false
		t.pending[e.OrderID] = pendingOrder{placed: rec, seen: now}
	case order.Confirmed:
		delete(t.pending, e.OrderID)
	case order.Rejected:
		delete(t.pending, e.OrderID)
	}
}

// sweep hands the overdue orders to the process manager, a few at a time, every quarter of after
// (at most every 10 ms).
func (t *takeover) sweep(ctx context.Context) {
	tick := time.NewTicker(max(t.after/4, 10*time.Millisecond))
	defer tick.Stop()
	sem := make(chan struct{}, takeoverWorkers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		var due []pendingOrder
		t.mu.Lock()
		for id, p := range t.pending {
			if now.Sub(p.seen) >= t.after {
				due = append(due, p)
				// Seen again now: a takeover that fails is tried again after another `after`.
				t.pending[id] = pendingOrder{placed: p.placed, seen: now}
			}
		}
		t.mu.Unlock()
		if len(due) > 0 {
			t.log.Info("saga takeover: settling orders pending too long", "orders", len(due), "after", t.after)
		}
		for _, p := range due {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := t.saga.Handle(ctx, p.placed); err != nil && ctx.Err() == nil {
					t.log.Warn("saga takeover: order not settled, trying again later", "stream", p.placed.Stream, "err", err)
				}
			})
		}
	}
}

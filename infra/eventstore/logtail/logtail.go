// Package logtail gives every follower of the global log in a process one shared tail of it: one
// subscription to the store, fanned out. The relay, the projectors, the outcome waiter, the
// min_position waits and the live-update streams each call Tail.SubscribeAll as they would the
// store's, with their own position, and keep their own checkpoint and exactly-once rules; the
// store is read live once per process instead of once per follower.
//
// A follower behind the shared tail (it starts from an old checkpoint) reads the log on its own
// until it reaches the stored end, then joins the tail. A follower that does not keep up (its
// handler is slow while the log moves fast) is never waited for: once Options.Buffer batches wait
// for it, the tail lets it go, and it reads on its own again from where it is until it catches up
// and joins once more. A follower that is behind by a few batches takes them together, in one call
// of its handler. A follower therefore sees exactly what Store.SubscribeAll would show it:
// every event after its position, once, in log order.
package logtail

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Options tune a Tail. Zero fields take the defaults named on each.
type Options struct {
	// Buffer is how many batches the tail holds for a follower that has not taken them yet; a
	// follower further behind reads on its own until it catches up. Default 64.
	Buffer int
	// ReadBatch is the most events a follower reads at once while it reads on its own. Default 1000.
	ReadBatch int
	// ReadRetry bounds how long a follower reading on its own retries a failing read before its
	// SubscribeAll returns the error (the store's own subscription does the same). Default 30 s.
	ReadRetry time.Duration
}

func (o Options) withDefaults() Options {
	if o.Buffer <= 0 {
		o.Buffer = 64
	}
	if o.ReadBatch <= 0 {
		o.ReadBatch = 1000
	}
	if o.ReadRetry <= 0 {
		o.ReadRetry = 30 * time.Second
	}
	return o
}

// Tail is one process's tail of the global log; see the package doc. It is an
// eventstore.Subscriber: give it to followers in place of the store. Its zero value is not
// usable; create it with New. It needs no Close: the shared subscription runs while some follower
// follows, and ends with the last.
type Tail struct {
	store eventstore.Store
	opts  Options

	mu        sync.Mutex
	followers map[*follower]struct{}
	src       *source // the shared subscription, nil while no follower has joined
	sources   int     // shared subscriptions started, for tests
	drops     int     // followers let go for falling behind, for tests
}

var _ eventstore.Subscriber = (*Tail)(nil)

// New returns the tail of store's log.
func New(store eventstore.Store, opts Options) *Tail {
	return &Tail{store: store, opts: opts.withDefaults(), followers: map[*follower]struct{}{}}
}

// ReadAll reads the log from the store directly, for followers that also page through it (the
// live-update streams resume from a Last-Event-ID so).
func (t *Tail) ReadAll(ctx context.Context, from eventstore.Position, limit int) ([]eventstore.Record, error) {
	return t.store.ReadAll(ctx, from, limit)
}

// Head is the store's head of the log.
func (t *Tail) Head(ctx context.Context) (eventstore.Position, error) {
	return t.store.Head(ctx)
}

// source is a running shared subscription.
type source struct {
	cancel context.CancelFunc
	last   eventstore.Position // the last position it delivered to the followers
}

// follower is one SubscribeAll joined to the shared subscription. The source closes ch when it
// lets the follower go: with err nil when the follower fell Buffer batches behind, with the
// shared subscription's error when that failed.
type follower struct {
	ch  chan []eventstore.Record
	err error
}

// SubscribeAll calls handle with consecutive batches of the global log after from, like
// eventstore.Store's SubscribeAll: first what is stored, then live events. It never delivers an
// event twice or out of order. It returns ctx.Err() when ctx ends, handle's error wrapped, or the
// store's error once reads have failed for Options.ReadRetry or the shared subscription failed.
//
// Batches from the shared tail are shared between followers: handle must not modify them.
func (t *Tail) SubscribeAll(ctx context.Context, from eventstore.Position, handle func(context.Context, []eventstore.Record) error) error {
	pos := from
	deliver := func(recs []eventstore.Record) error {
		recs = after(recs, pos)
		if len(recs) == 0 {
			return nil
		}
		if err := handle(ctx, recs); err != nil {
			return fmt.Errorf("subscribe to all: handle events %d..%d: %w", recs[0].Position, recs[len(recs)-1].Position, err)
		}
		pos = recs[len(recs)-1].Position
		return nil
	}
	for {
		// On its own up to the end of what is stored.
		for {
			recs, err := t.read(ctx, pos)
			if err != nil {
				return err
			}
			if err := deliver(recs); err != nil {
				return err
			}
			if len(recs) < t.opts.ReadBatch {
				break
			}
		}
		// Joined: what the shared subscription delivered before the join is read on its own,
		// what it delivers after comes through f.ch (and waits there meanwhile).
		f, joinedAt := t.join(pos)
		for pos < joinedAt {
			recs, err := t.read(ctx, pos)
			if err == nil {
				err = deliver(recs)
			}
			if err != nil {
				t.leave(f)
				return err
			}
			if len(recs) == 0 {
				break
			}
		}
		if err := t.follow(ctx, f, deliver); err != nil {
			return err
		}
		// Let go for falling behind: read on its own again.
	}
}

// follow delivers the batches the shared subscription sends f until ctx ends or handle fails
// (it returns the error), the shared subscription fails (it returns its error), or f is let go
// for falling behind (it returns nil).
func (t *Tail) follow(ctx context.Context, f *follower, deliver func([]eventstore.Record) error) error {
	for {
		select {
		case <-ctx.Done():
			t.leave(f)
			return ctx.Err()
		case recs, ok := <-f.ch:
			if !ok {
				t.mu.Lock()
				err := f.err
				t.mu.Unlock()
				if err != nil {
					return fmt.Errorf("subscribe to all: %w", err)
				}
				return nil
			}
			if err := deliver(t.gather(f, recs)); err != nil {
				t.leave(f)
				return err
			}
		}
	}
}

// gather returns recs and the batches waiting after it in f's buffer as one batch, taking batches
// until it holds Options.ReadBatch events or more. A follower that fell behind by many small batches (a projector whose
// transaction costs more than the events in it) so takes them in one handle, as a subscription of
// its own would read them, instead of one handle per batch the log was read in, which would keep
// it behind until it is let go. The shared batches are copied, never modified.
func (t *Tail) gather(f *follower, recs []eventstore.Record) []eventstore.Record {
	shared := true
	for len(recs) < t.opts.ReadBatch {
		select {
		case more, ok := <-f.ch:
			if !ok {
				return recs // let go: the next receive sees it too
			}
			if shared {
				recs, shared = append(make([]eventstore.Record, 0, 2*(len(recs)+len(more))), recs...), false
			}
			recs = append(recs, more...)
		default:
			return recs
		}
	}
	return recs
}

// read reads the log after pos on its own, retrying a failing read with backoff for
// Options.ReadRetry.
func (t *Tail) read(ctx context.Context, pos eventstore.Position) ([]eventstore.Record, error) {
	recs, err := backoff.Retry(ctx, func() ([]eventstore.Record, error) {
		return t.store.ReadAll(ctx, pos, t.opts.ReadBatch)
	}, backoff.WithBackOff(&backoff.ExponentialBackOff{
		InitialInterval: 50 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 5 * time.Second,
	}), backoff.WithMaxElapsedTime(t.opts.ReadRetry))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("subscribe to all: read from %d: %w", pos, err)
	}
	return recs, nil
}

// join adds a follower at pos to the shared subscription, starting it from pos when none runs,
// and returns the follower and the last position the shared subscription delivered before it
// joined: the follower gets every batch after that one.
func (t *Tail) join(pos eventstore.Position) (*follower, eventstore.Position) {
	f := &follower{ch: make(chan []eventstore.Record, t.opts.Buffer)}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.followers[f] = struct{}{}
	if t.src == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s := &source{cancel: cancel, last: pos}
		t.src = s
		t.sources++
		go t.run(ctx, s)
	}
	return f, t.src.last
}

// leave removes f, and stops the shared subscription when f was the last follower.
func (t *Tail) leave(f *follower) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.followers[f]; !ok {
		return
	}
	delete(t.followers, f)
	if len(t.followers) == 0 && t.src != nil {
		t.src.cancel()
		t.src = nil
	}
}

// run is the shared subscription: it hands every batch to every follower without waiting for
// any, and lets go of those whose buffer is full. When it fails, every follower's SubscribeAll
// returns the error, and the next follower to join starts a new one.
func (t *Tail) run(ctx context.Context, s *source) {
	err := t.store.SubscribeAll(ctx, s.last, func(_ context.Context, recs []eventstore.Record) error {
		if len(recs) == 0 {
			return nil
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.src != s {
			return context.Canceled // stopped: no follower left
		}
		s.last = recs[len(recs)-1].Position
		for f := range t.followers {
			select {
			case f.ch <- recs:
			default:
				t.drops++
				t.drop(f)
			}
		}
		return nil
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.src != s {
		return
	}
	t.src = nil
	if err == nil || errors.Is(err, context.Canceled) {
		err = errors.New("shared subscription ended")
	}
	for f := range t.followers {
		f.err = err
		t.drop(f)
	}
}

// drop lets f go: it reads on its own, or returns f.err. Call it with t.mu held.
func (t *Tail) drop(f *follower) {
	delete(t.followers, f)
	close(f.ch)
	if len(t.followers) == 0 && t.src != nil {
		t.src.cancel()
		t.src = nil
	}
}

// after returns the records of recs past pos.
func after(recs []eventstore.Record, pos eventstore.Position) []eventstore.Record {
	for i, rec := range recs {
		if rec.Position > pos {
			return recs[i:]
		}
	}
	return nil
}

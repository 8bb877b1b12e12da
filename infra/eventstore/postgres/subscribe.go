package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/leader"
)

const (
	// heldBackMin and heldBackMax bound the backoff of a subscription that saw committed events
	// held back by an older running transaction. That transaction need not be an append (a
	// projector's, an autovacuum's) and then its end wakes no one, so heldBackMax is also the most
	// it adds to the lag. Each re-check reads the visible events and one row beyond.
	heldBackMin = 2 * time.Millisecond
	heldBackMax = 25 * time.Millisecond
	// lookupAfter is how long the live horizon may hold the same event back before a
	// subscription looks for transactions of other databases (foreignXIDs), which its reads then
	// pass over for as long as they run; lookupEvery is the least time between two looks. A look
	// costs a look at every backend (about 10 ms on a loaded server), and is wasted when the
	// transaction holding the log back is in this database, a common case under load; a long
	// transaction in another database delays a subscription once, by lookupAfter or so.
	lookupAfter = 50 * time.Millisecond
	lookupEvery = 250 * time.Millisecond
	// listenRetryMax bounds the wait between attempts to re-establish a lost LISTEN connection.
	listenRetryMax = 5 * time.Second
	// A subscription retries a failed read after a growing delay, and gives up (returns the
	// error) after maxReadFailures failures in a row, about half a minute.
	readRetryMin    = 50 * time.Millisecond
	readRetryMax    = 5 * time.Second
	maxReadFailures = 10
)

// SubscribeAll calls handle with consecutive batches of the global log after position from: first
// what is stored, then live events as their transactions end. It returns ctx.Err() when ctx ends,
// handle's error wrapped, or a read's error once reads have failed for about half a minute (it
// retries them until then). It never delivers an event twice or out of order, so the last position
// of each handled batch is a safe checkpoint to restart from.
func (s *Store) SubscribeAll(ctx context.Context, from eventstore.Position, handle func(context.Context, []eventstore.Record) error) error {
	wake := s.addWaiter()
	defer s.removeWaiter(wake)

	listenCtx, stopListen := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.listen(listenCtx, wake)
	}()
	defer wg.Wait()
	defer stopListen()

	poll := time.NewTimer(s.pollInterval)
	defer poll.Stop()
	retry := time.NewTimer(heldBackMax)
	defer retry.Stop()
	backoff := heldBackMin
	failures := 0
	// Other databases' transactions are looked for once the horizon holds the same event back for
	// lookupAfter.
	var stuck eventstore.Position
	var stuckSince, lastLookup time.Time
	var foreign []int64
	lookup := false
	for {
		if lookup {
			lastLookup, lookup = time.Now(), false
			if ids, err := s.foreignXIDs(ctx); err == nil {
				foreign = ids
			} // else the read below fails too, and is retried
		}
		recs, heldBack, err := s.readLive(ctx, from, s.batchSize, foreign)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			if failures == maxReadFailures {
				return fmt.Errorf("subscribe to all: %d reads in a row failed: %w", failures, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(readRetryMin<<failures, readRetryMax)):
			}
			continue
		}
		failures = 0
		switch {
		case heldBack == 0:
			stuck = 0
		case heldBack != stuck:
			stuck, stuckSince = heldBack, time.Now()
		case time.Since(stuckSince) >= lookupAfter && time.Since(lastLookup) >= lookupEvery:
			lookup = true
		}
		if len(recs) > 0 {
			if err := handle(ctx, recs); err != nil {
				return fmt.Errorf("subscribe to all: handle events %d..%d: %w", recs[0].Position, recs[len(recs)-1].Position, err)
			}
			from = recs[len(recs)-1].Position
			backoff = heldBackMin
			if len(recs) == s.batchSize {
				continue // more is stored: read on without waiting
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var recheck <-chan time.Time // nil, never ready, unless something is held back
		if heldBack != 0 {
			resetTimer(retry, backoff)
			recheck = retry.C
			backoff = min(2*backoff, heldBackMax)
		}
		resetTimer(poll, s.pollInterval)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-recheck:
		case <-poll.C:
		}
	}
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	t.Reset(d)
}

// addWaiter registers a channel that appends by this Store signal.
func (s *Store) addWaiter() chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.waiters[ch] = struct{}{}
	s.mu.Unlock()
	return ch
}

func (s *Store) removeWaiter(ch chan struct{}) {
	s.mu.Lock()
	delete(s.waiters, ch)
	s.mu.Unlock()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// committed is called after an append wrote events: it wakes this process's subscriptions and makes
// sure a NOTIFY follows for other processes.
func (s *Store) committed() {
	s.mu.Lock()
	for ch := range s.waiters {
		signal(ch)
	}
	if s.notifying {
		s.pending = true
		s.mu.Unlock()
		return
	}
	s.notifying = true
	s.mu.Unlock()
	go s.notifyLoop()
}

// notifyLoop sends NOTIFY until no append committed during the last one, then ends. One NOTIFY
// stands for every append that committed before it was sent. The notifying transaction does not
// wait for its commit record to reach the disk: a notification is not data, and the wait would only
// hold back the log's horizon (NOTIFY takes a transaction id).
func (s *Store) notifyLoop() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// An error (the pool is closed, the database is gone) only delays other processes until
		// their next poll; there is no one to report it to.
		_, _ = s.pool.Exec(ctx, `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')`, notifyChannel)
		cancel()
		time.Sleep(s.notifyGap)
		s.mu.Lock()
		if !s.pending {
			s.notifying = false
			s.mu.Unlock()
			return
		}
		s.pending = false
		s.mu.Unlock()
	}
}

// listen holds a dedicated connection (not from the pool, so a subscription never starves appends)
// that LISTENs for appends of other processes and signals wake for each notification, until ctx
// ends. When the connection fails it signals wake (a notification may have been lost) and
// reconnects with a growing delay, back to the shortest once it listened again; the
// subscription's poll covers the gap.
func (s *Store) listen(ctx context.Context, wake chan struct{}) {
	b := &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: listenRetryMax}
	_, _ = backoff.Retry(ctx, func() (struct{}, error) {
		err := s.listenOnce(ctx, wake, b.Reset)
		if ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		signal(wake)
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
}

// listenOnce listens until ctx ends or the connection fails; listening is called once LISTEN
// took effect.
func (s *Store) listenOnce(ctx context.Context, wake chan struct{}, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, leader.Keepalive(s.pool.Config().ConnConfig))
	if err != nil {
		return fmt.Errorf("connect to listen: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx) // the connection is done with either way
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Anything appended before LISTEN took effect announced itself to no one here.
	signal(wake)
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("wait for notification: %w", err)
		}
		signal(wake)
	}
}

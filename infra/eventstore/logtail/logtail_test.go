package logtail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/eventstoretest"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// tailed is a store whose SubscribeAll is a Tail's, so that the store contract checks the tail.
type tailed struct {
	eventstore.Store
	tail *Tail
}

func (s tailed) SubscribeAll(ctx context.Context, from eventstore.Position, handle func(context.Context, []eventstore.Record) error) error {
	return s.tail.SubscribeAll(ctx, from, handle)
}

func TestContract(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
		s := postgres.New(pgtest.New(t))
		// A small buffer and read batch, so the contract's followers are let go and rejoin.
		return tailed{Store: s, tail: New(s, Options{Buffer: 2, ReadBatch: 100})}
	})
}

func appendN(t *testing.T, s eventstore.Store, stream string, n int) {
	t.Helper()
	for i := range n {
		_, err := s.Append(context.Background(), stream, eventstore.Any, eventstore.EventData{
			ID: uuid.New(), Type: "test.happened.v1", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)),
		})
		if err != nil {
			t.Fatalf("Append(%s) = %v", stream, err)
		}
	}
}

// TestFollowersShareOneSubscription runs four followers from different positions, one of them
// stalled long enough to be let go, and checks that each sees every event once, in order, that
// the joined followers share one subscription of the store, and that the stalled one catches up
// on its own.
func TestFollowersShareOneSubscription(t *testing.T) {
	store := postgres.New(pgtest.New(t), postgres.WithPollInterval(50*time.Millisecond))
	appendN(t, store, "early", 50)
	mid, err := store.Head(context.Background())
	if err != nil {
		t.Fatalf("Head = %v", err)
	}
	appendN(t, store, "early", 50)
	tail := New(store, Options{Buffer: 4, ReadBatch: 20})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const total = 400 // 100 before, 300 while they follow
	type result struct {
		name string
		seen int
		err  error
	}
	results := make(chan result, 4)
	stall, unstall := make(chan struct{}), make(chan struct{})
	var seen atomic.Uint64 // the last position follower "from 0" saw
	stallOnce := sync.OnceFunc(func() { close(stall); <-unstall })
	start := func(name string, from eventstore.Position, want int, stalls bool) {
		go func() {
			var last eventstore.Position
			n := 0
			err := tail.SubscribeAll(ctx, from, func(_ context.Context, recs []eventstore.Record) error {
				for _, r := range recs {
					if r.Position <= last {
						return fmt.Errorf("position %d after %d", r.Position, last)
					}
					last = r.Position
					n++
					if name == "from 0" {
						seen.Store(uint64(last))
					}
					if stalls && r.Stream == "live" {
						stallOnce()
					}
				}
				if n >= want {
					return errDone
				}
				return nil
			})
			results <- result{name, n, err}
		}()
	}
	start("from 0", 0, total, false)
	start("from the middle", mid, total-50, false)
	start("fast", 0, total, false)
	start("stalled", 0, total, true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		tail.mu.Lock()
		joined, sources := len(tail.followers), tail.sources
		tail.mu.Unlock()
		if joined == 4 {
			if sources != 1 {
				t.Fatalf("four followers joined %d shared subscriptions, want 1", sources)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 4 followers joined the shared subscription within 10 s", joined)
		}
		time.Sleep(10 * time.Millisecond)
	}
	appendN(t, store, "live", 1)
	<-stall
	// One batch per event: each is delivered before the next is appended.
	for range 299 {
		appendN(t, store, "live", 1)
		h, err := store.Head(context.Background())
		if err != nil {
			t.Fatalf("Head = %v", err)
		}
		for eventstore.Position(seen.Load()) < h {
			time.Sleep(time.Millisecond)
		}
	}
	for range 3 {
		r := <-results
		if !errors.Is(r.err, errDone) {
			t.Errorf("follower %s: SubscribeAll = %v after %d events, want it to end at its count", r.name, r.err, r.seen)
		}
	}
	close(unstall)
	select {
	case r := <-results:
		if !errors.Is(r.err, errDone) {
			t.Errorf("follower %s: SubscribeAll = %v after %d events, want it to end at its count", r.name, r.err, r.seen)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled follower did not catch up within 30 s")
	}
	tail.mu.Lock()
	sources, drops := tail.sources, tail.drops
	tail.mu.Unlock()
	if drops != 1 || sources != 1 {
		t.Errorf("followers let go = %d, shared subscriptions = %d; want the stalled one let go and one subscription", drops, sources)
	}
}

var errDone = errors.New("done")

// TestGatherTakesTheWaitingBatchesAsOne: a follower's handler gets the batches waiting in its
// buffer together, in order, up to ReadBatch events, without the shared batches being changed; a
// follower let go meanwhile still sees that it was.
func TestGatherTakesTheWaitingBatchesAsOne(t *testing.T) {
	batch := func(from, n int) []eventstore.Record {
		recs := make([]eventstore.Record, n)
		for i := range recs {
			recs[i] = eventstore.Record{Position: eventstore.Position(from + i)}
		}
		return recs
	}
	positions := func(recs []eventstore.Record) []eventstore.Position {
		ps := make([]eventstore.Position, len(recs))
		for i, r := range recs {
			ps[i] = r.Position
		}
		return ps
	}
	tail := New(nil, Options{Buffer: 8, ReadBatch: 5})
	f := &follower{ch: make(chan []eventstore.Record, 8)}
	first, second, third, fourth := batch(1, 2), batch(3, 2), batch(5, 2), batch(7, 1)
	f.ch <- second
	f.ch <- third
	f.ch <- fourth
	got := tail.gather(f, first)
	if want := []eventstore.Position{1, 2, 3, 4, 5, 6}; fmt.Sprint(positions(got)) != fmt.Sprint(want) {
		t.Fatalf("gather = %v, want %v (three batches, to 5 events or more)", positions(got), want)
	}
	if fmt.Sprint(positions(first)) != "[1 2]" || fmt.Sprint(positions(second)) != "[3 4]" {
		t.Fatalf("gather changed the shared batches: %v %v", positions(first), positions(second))
	}
	close(f.ch)
	if got := tail.gather(f, <-f.ch); fmt.Sprint(positions(got)) != "[7]" {
		t.Fatalf("gather of the last batch before the close = %v, want [7]", positions(got))
	}
	if _, ok := <-f.ch; ok {
		t.Fatal("the follower's channel is open after gather, want it closed as it was")
	}
}

package bus_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// TestRunFulfilmentHandlesAPartitionsOrdersAtOnce: through Kafka, the process manager works on
// the orders waiting in a partition at once (more orders in flight than the topic has
// partitions), each order's events in order, and an event that keeps failing is handled again
// until it succeeds, the order's later events after it.
func TestRunFulfilmentHandlesAPartitionsOrdersAtOnce(t *testing.T) {
	b := kafkaBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const streams, versions, want = 40, 3, 16 // the topic has 8 partitions
	names := make([]string, streams)
	for i := range names {
		names[i] = "order-" + uuid.NewString()
	}
	failing := names[0]
	for v := int64(1); v <= versions; v++ {
		for _, s := range names {
			if err := b.Publisher().Publish(bus.OrderTopic, bus.NewMessage(record(s, v))); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
	}

	var mu sync.Mutex
	last := map[string]int64{}
	inFlight, most, failures := 0, 0, 0
	done := make(chan struct{})
	handler := bus.HandlerFunc(func(_ context.Context, rec eventstore.Record) error {
		mu.Lock()
		if rec.Version != last[rec.Stream]+1 {
			mu.Unlock()
			t.Errorf("stream %s: version %d handled after %d", rec.Stream, rec.Version, last[rec.Stream])
			return nil
		}
		if rec.Stream == failing && rec.Version == 2 && failures < 7 {
			failures++
			mu.Unlock()
			return errors.New("injected failure")
		}
		if rec.Version == 1 {
			// Hold the first event of each order until `want` orders are held at once.
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				enough := most >= want
				mu.Unlock()
				if enough {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			mu.Lock()
			inFlight--
		}
		last[rec.Stream] = rec.Version
		finished := 0
		for _, v := range last {
			if v == versions {
				finished++
			}
		}
		if finished == streams {
			close(done)
		}
		mu.Unlock()
		return nil
	})
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- b.RunFulfilment(runCtx, handler) }()
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("not every event handled: %v", last)
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatalf("RunFulfilment: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if most < want {
		t.Errorf("at most %d orders handled at once, want %d (more than the partitions)", most, want)
	}
	if failures != 7 {
		t.Errorf("the failing event was tried %d times before it succeeded, want 7", failures)
	}
}

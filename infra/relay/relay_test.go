package relay_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/bus/kafkatest"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/eventstoretest"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/relay"
)

// appendEvents appends perStream events to each stream, round-robin over the streams, pausing
// between rounds, and returns the whole log once it shows the last of them
// (eventstoretest.ReadAllTo).
func appendEvents(store eventstore.Store, streams []string, perStream int, pause time.Duration) ([]eventstore.Record, error) {
	ctx := context.Background()
	var last eventstore.Position
	for v := 1; v <= perStream; v++ {
		for _, s := range streams {
			res, err := store.Append(ctx, s, eventstore.Exact(int64(v-1)), eventstore.EventData{
				ID: uuid.New(), Type: "test.happened.v1", Data: []byte(fmt.Sprintf(`{"n":%d}`, v)),
			})
			if err != nil {
				return nil, fmt.Errorf("append %s version %d: %w", s, v, err)
			}
			last = res.Position
		}
		time.Sleep(pause)
	}
	return eventstoretest.ReadAllTo(ctx, store, last)
}

func newStreams(n int) []string {
	var s []string
	for i := range n {
		kind := "order"
		if i%2 == 1 {
			kind = "product"
		}
		s = append(s, kind+"-"+uuid.NewString())
	}
	return s
}

// received records what a consumer got, in the order it got it.
type received struct {
	mu   sync.Mutex
	seen []eventstore.Record
	ids  map[uuid.UUID]int
}

func (r *received) add(rec eventstore.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[uuid.UUID]int{}
	}
	r.seen = append(r.seen, rec)
	r.ids[rec.ID]++
}

func (r *received) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

// check fails unless every one of want was received at least once and, per stream, each
// version arrived for the first time after the previous version did.
func (r *received) check(t *testing.T, want []eventstore.Record) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range want {
		if r.ids[w.ID] == 0 {
			t.Errorf("event %s (%s version %d) never published", w.ID, w.Stream, w.Version)
		}
	}
	first := map[string]int64{}
	for _, rec := range r.seen {
		last := first[rec.Stream]
		switch {
		case rec.Version == last+1:
			first[rec.Stream] = rec.Version
		case rec.Version > last+1:
			t.Errorf("stream %s: version %d published before version %d", rec.Stream, rec.Version, last+1)
		}
	}
}

// consumeInProcess records every event published on the in-process bus's topics.
func consumeInProcess(t *testing.T, ctx context.Context, b *bus.InProcess, r *received) {
	t.Helper()
	for _, topic := range []string{"commerce.order", "commerce.product"} {
		msgs, err := b.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for m := range msgs {
				rec, err := bus.Record(m)
				if err != nil {
					t.Errorf("consume: %v", err)
				}
				r.add(rec)
				m.Ack()
			}
		}()
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func checkpoint(t *testing.T, pool *pgxpool.Pool, name string) eventstore.Position {
	t.Helper()
	var pos int64
	if err := pool.QueryRow(context.Background(), "SELECT position FROM relay_checkpoints WHERE name = $1", name).Scan(&pos); err != nil {
		t.Fatalf("read checkpoint: %v", err)
	}
	return eventstore.Position(uint64(pos))
}

// inProcess returns a test database, its event store and an in-process bus, closed when the test
// ends.
func inProcess(t *testing.T) (*pgxpool.Pool, *postgres.Store, *bus.InProcess) {
	t.Helper()
	pool := pgtest.New(t)
	b := bus.NewInProcess(bus.InProcessConfig{})
	t.Cleanup(func() { _ = b.Close() })
	return pool, postgres.New(pool), b
}

// start runs r in the background until ctx ends; the channel gets what Run returned.
func start(ctx context.Context, r *relay.Relay) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return done
}

func fast(name string) relay.Options {
	return relay.Options{Name: name, Workers: 4, BatchSize: 7, CheckpointEvery: 10 * time.Millisecond,
		LockCheck: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
}

func TestRelayPublishesEveryEventInStreamOrder(t *testing.T) {
	pool, store, b := inProcess(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got received
	consumeInProcess(t, ctx, b, &got)

	want, err := appendEvents(store, newStreams(20), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := relay.New(store, pool, b, fast("ordered"))
	done := start(ctx, r)
	waitFor(t, 30*time.Second, "every event published", func() bool { return got.distinct() == len(want) })
	last := want[len(want)-1].Position
	waitFor(t, 5*time.Second, "the checkpoint at the last event", func() bool { return r.Status().Checkpoint == last })
	got.check(t, want)

	// Live events after catching up.
	more, err := appendEvents(store, newStreams(3), 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "live events published", func() bool { return got.distinct() == len(more) })
	got.check(t, more)
	// The consumer acknowledges before Publish returns and the relay counts it: the status
	// settles a moment after the last delivery.
	settled := func(st relay.Status) bool {
		return st.Active && st.Err == nil && st.Lag == 0 && st.Published >= uint64(len(more))
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := r.Status(); !settled(st); st = r.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("Status after catching up = %+v, want active, no error, no lag, %d published", st, len(more))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !r.Active() {
		t.Errorf("Active after catching up = false, want true")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if cp := checkpoint(t, pool, "ordered"); cp != more[len(more)-1].Position {
		t.Fatalf("stored checkpoint = %d, want the last position %d", cp, more[len(more)-1].Position)
	}
}

// TestRelayTakeOver races two relays on one checkpoint, kills the active one's lock connection
// mid-stream, stops the next one and starts a third: every event is published at least once and
// each stream in order.
func TestRelayTakeOver(t *testing.T) {
	pool, store, b := inProcess(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got received
	consumeInProcess(t, ctx, b, &got)

	type instance struct {
		r      *relay.Relay
		cancel context.CancelFunc
		done   chan error
	}
	start := func() *instance {
		ictx, icancel := context.WithCancel(ctx)
		in := &instance{r: relay.New(store, pool, b, fast("race")), cancel: icancel, done: make(chan error, 1)}
		go func() { in.done <- in.r.Run(ictx) }()
		return in
	}
	active := func(ins ...*instance) *instance {
		var found *instance
		waitFor(t, 30*time.Second, "an active relay", func() bool {
			for _, in := range ins {
				if in.r.Status().Active {
					found = in
					return true
				}
			}
			return false
		})
		return found
	}

	a, bb := start(), start()
	var want []eventstore.Record
	var writeErr error
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		want, writeErr = appendEvents(store, newStreams(10), 30, 10*time.Millisecond)
	}()

	active(a, bb)
	waitFor(t, 30*time.Second, "some events published", func() bool { return got.distinct() > 40 })
	// The lock holder's connection dies under it: it must stop, and one of the two goes on.
	var killed int
	if err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = 420 AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate the lock holder: killed %d, %v; want 1", killed, err)
	}
	waitFor(t, 30*time.Second, "more events published", func() bool { return got.distinct() > 120 })

	// The active one is stopped: the standby takes over; a third instance joins as standby.
	stopped := active(a, bb)
	standby := a
	if stopped == a {
		standby = bb
	}
	stopped.cancel()
	if err := <-stopped.done; err != nil {
		t.Fatalf("Run of the stopped relay = %v, want nil", err)
	}
	waitFor(t, 30*time.Second, "the standby to take over", func() bool { return standby.r.Status().Active })
	c := start()
	<-writing
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for got.distinct() != len(want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got.distinct() != len(want) {
		head, _ := store.Head(ctx)
		t.Fatalf("published %d of %d events; head %d; statuses: stopped %+v, standby %+v, new %+v",
			got.distinct(), len(want), head, stopped.r.Status(), standby.r.Status(), c.r.Status())
	}
	got.check(t, want)
	if st := c.r.Status(); st.Active {
		t.Errorf("the instance started last is active (%+v) while the earlier one still runs", st)
	}
}

func TestRelayKafkaDownAtStart(t *testing.T) {
	pool := pgtest.New(t)
	store := postgres.New(pool)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	addr, port := kafkatest.FreeAddr(t)

	kb := bus.New(bus.Config{Brokers: []string{addr}})
	defer kb.Close()
	opts := fast("kafka-down")
	opts.MaxBackoff = 200 * time.Millisecond
	r := relay.New(store, pool, kb.Publisher(), opts)
	done := start(ctx, r)

	want, err := appendEvents(store, newStreams(6), 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Not active is also how a relay starts: wait until it reports the failed publish.
	waitFor(t, 30*time.Second, "the relay to report Kafka down", func() bool {
		st := r.Status()
		return st.Err != nil && st.Lag > 0
	})
	if st := r.Status(); st.Checkpoint != 0 || st.Lag == 0 {
		t.Fatalf("Status while Kafka is down = %+v, want checkpoint 0 and a lag", st)
	}

	if _, err := kafkatest.Start(t, port); err != nil {
		t.Fatal(err)
	}

	var got received
	go kb.Consume(ctx, "relay-test", []string{"commerce.order", "commerce.product"}, bus.HandlerFunc(
		func(_ context.Context, rec eventstore.Record) error { got.add(rec); return nil }))
	waitFor(t, 40*time.Second, "every event consumed from Kafka", func() bool { return got.distinct() == len(want) })
	got.check(t, want)
	waitFor(t, 5*time.Second, "the relay to report active", r.Active)
	last := want[len(want)-1].Position
	waitFor(t, 5*time.Second, "the checkpoint at the last event", func() bool { return r.Status().Checkpoint == last })
	cancel()
	<-done
}

// durabilityProbe is a store that counts WaitDurable calls and records, for every event, how
// many had returned when the event was handed to the consumer.
type durabilityProbe struct {
	*postgres.Store
	waits atomic.Int64
}

func (p *durabilityProbe) WaitDurable(ctx context.Context) error {
	err := p.Store.WaitDurable(ctx)
	p.waits.Add(1)
	return err
}

// TestRelayDurableOnly checks that with DurableOnly every event is published only after a
// WaitDurable that began after the event was written returned, and that without it the relay
// never waits.
func TestRelayDurableOnly(t *testing.T) {
	for _, durableOnly := range []bool{true, false} {
		t.Run(fmt.Sprint("DurableOnly=", durableOnly), func(t *testing.T) {
			pool := pgtest.New(t)
			store := &durabilityProbe{Store: postgres.New(pool)}
			b := bus.NewInProcess(bus.InProcessConfig{})
			defer b.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			var mu sync.Mutex
			waitsAtWrite := map[uuid.UUID]int64{}
			var late []string
			msgs, err := b.Subscribe(ctx, "commerce.order")
			if err != nil {
				t.Fatal(err)
			}
			var got atomic.Int64
			go func() {
				for m := range msgs {
					rec, err := bus.Record(m)
					if err != nil {
						t.Errorf("consume: %v", err)
					}
					mu.Lock()
					if w, ok := waitsAtWrite[rec.ID]; ok && store.waits.Load() <= w {
						late = append(late, rec.Stream)
					}
					mu.Unlock()
					got.Add(1)
					m.Ack()
				}
			}()
			opts := fast("durable")
			opts.DurableOnly = durableOnly
			r := relay.New(store, pool, b, opts)
			done := start(ctx, r)

			const n = 30
			for i := range n {
				id := uuid.New()
				mu.Lock()
				waitsAtWrite[id] = store.waits.Load()
				mu.Unlock()
				stream := "order-" + uuid.NewString()
				if _, err := store.AppendDelayed(ctx, stream, eventstore.NoStream, eventstore.EventData{ID: id, Type: "test.happened.v1", Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 30*time.Second, "every event published", func() bool { return got.Load() == n })
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			switch {
			case durableOnly && len(late) > 0:
				t.Errorf("%d events published before a WaitDurable that started after their append: %v", len(late), late)
			case !durableOnly && store.waits.Load() != 0:
				t.Errorf("WaitDurable called %d times without DurableOnly, want 0", store.waits.Load())
			}
		})
	}
}

// TestRelayBuildsNoMessageNobodyWants: in process, events of topics nobody subscribes to (nor
// requires) are passed over without a publish, and the checkpoint moves past them; once a
// consumer subscribes, events are published to it again.
func TestRelayBuildsNoMessageNobodyWants(t *testing.T) {
	pool, store, b := inProcess(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	unwanted, err := appendEvents(store, newStreams(5), 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := relay.New(store, pool, b, fast("unwanted"))
	done := start(ctx, r)
	last := unwanted[len(unwanted)-1].Position
	waitFor(t, 30*time.Second, "the checkpoint past the unwanted events", func() bool { return r.Status().Checkpoint == last })
	if n := r.Status().Published; n != 0 {
		t.Fatalf("%d messages published while nobody subscribes, want none", n)
	}
	var got received
	consumeInProcess(t, ctx, b, &got)
	log, err := appendEvents(store, newStreams(2), 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	wanted := log[len(unwanted):] // appendEvents returns the whole log
	waitFor(t, 30*time.Second, "the events published once a consumer subscribed", func() bool { return got.distinct() == len(wanted) })
	got.check(t, wanted)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
}

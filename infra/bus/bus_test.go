package bus_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/bus/kafkatest"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

func record(stream string, version int64) eventstore.Record {
	return eventstore.Record{
		ID:       uuid.New(),
		Type:     "order.placed.v1",
		Data:     []byte(`{"order_id":"x"}`),
		Metadata: eventstore.Metadata{CorrelationID: uuid.New(), ActorRole: "USER"}.Marshal(),
		Stream:   stream,
		Version:  version,
		Position: eventstore.Position(1<<20 | version),
		// RFC 3339 with nanoseconds keeps the instant; UTC keeps the location equal.
		RecordedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

func TestMessageRoundTrip(t *testing.T) {
	rec := record("order-"+uuid.NewString(), 3)
	msg := bus.NewMessage(rec)
	if msg.UUID != rec.ID.String() {
		t.Fatalf("NewMessage: uuid = %s, want the event id %s", msg.UUID, rec.ID)
	}
	md := eventstore.ParseMetadata(rec.Metadata)
	for k, want := range map[string]string{
		bus.HeaderEventID:       rec.ID.String(),
		bus.HeaderType:          rec.Type,
		bus.HeaderStream:        rec.Stream,
		bus.HeaderVersion:       "3",
		bus.HeaderPosition:      fmt.Sprint(uint64(rec.Position)),
		bus.HeaderCorrelationID: md.CorrelationID.String(),
		bus.HeaderTraceParent:   fmt.Sprintf("00-%x-%x-01", md.CorrelationID[:], rec.ID[:8]),
	} {
		if got := msg.Metadata.Get(k); got != want {
			t.Errorf("NewMessage: header %s = %q, want %q", k, got, want)
		}
	}
	got, err := bus.Record(msg)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	if !reflect.DeepEqual(got, rec) {
		t.Fatalf("Record(NewMessage(rec)):\n got %+v\nwant %+v", got, rec)
	}
	if key, err := bus.PartitionKey("t", msg); err != nil || key != rec.Stream {
		t.Fatalf("PartitionKey = %q, %v; want the stream id %q", key, err, rec.Stream)
	}
	if _, err := bus.Record(message.NewMessage("x", nil)); err == nil {
		t.Fatal("Record of a message without event headers: no error")
	}
}

func TestTopic(t *testing.T) {
	for stream, want := range map[string]string{
		"order-" + uuid.NewString():   "commerce.order",
		"product-" + uuid.NewString(): "commerce.product",
		"category-1":                  "commerce.category",
	} {
		if got := bus.Topic(stream); got != want {
			t.Errorf("Topic(%q) = %q, want %q", stream, got, want)
		}
	}
}

func TestInProcessPublishWaitsForAck(t *testing.T) {
	b := bus.NewInProcess(bus.InProcessConfig{})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, err := b.Subscribe(ctx, "topic")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Publish("topic", bus.NewMessage(record("order-1", 1))) }()
	msg := <-msgs
	select {
	case err := <-done:
		t.Fatalf("Publish returned (%v) before the message was acknowledged", err)
	case <-time.After(50 * time.Millisecond):
	}
	msg.Nack()
	msg = <-msgs // a nacked message comes again
	msg.Ack()
	if err := <-done; err != nil {
		t.Fatalf("Publish after ack: %v", err)
	}
}

func TestInProcessDeliversStreamsConcurrently(t *testing.T) {
	b := bus.NewInProcess(bus.InProcessConfig{})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, err := b.Subscribe(ctx, "topic")
	if err != nil {
		t.Fatal(err)
	}
	// Find two streams on different shards: their publishes must both be in flight at once.
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Publish("topic", bus.NewMessage(record(fmt.Sprintf("order-%d", i), 1))); err != nil {
				t.Errorf("Publish: %v", err)
			}
		}()
	}
	var held []*message.Message
	timeout := time.After(5 * time.Second)
	for len(held) < 2 {
		select {
		case m := <-msgs:
			held = append(held, m)
		case <-timeout:
			t.Fatalf("got %d messages in flight at once, want at least 2 of %d streams", len(held), n)
		}
	}
	for _, m := range held {
		m.Ack()
	}
	go func() {
		for m := range msgs {
			m.Ack()
		}
	}()
	wg.Wait()
}

func TestInProcessRequiredTopicWithoutSubscriber(t *testing.T) {
	b := bus.NewInProcess(bus.InProcessConfig{RequireSubscriber: []string{"needed"}})
	defer b.Close()
	if err := b.Publish("needed", bus.NewMessage(record("order-1", 1))); !errors.Is(err, bus.ErrNoSubscriber) {
		t.Fatalf("Publish to a required topic without subscriber = %v, want ErrNoSubscriber", err)
	}
	if err := b.Publish("other", bus.NewMessage(record("item-1", 1))); err != nil {
		t.Fatalf("Publish to a topic nobody needs = %v, want nil (dropped)", err)
	}
}

func TestInProcessSubscriberGoneBeforeAck(t *testing.T) {
	b := bus.NewInProcess(bus.InProcessConfig{})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	msgs, err := b.Subscribe(ctx, "topic")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Publish("topic", bus.NewMessage(record("order-1", 1))) }()
	<-msgs // taken, never acknowledged
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, bus.ErrNotDelivered) {
			t.Fatalf("Publish whose subscriber left before acking = %v, want ErrNotDelivered", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Publish did not return after its subscriber left")
	}
}

func TestKafkaPublishAndConsume(t *testing.T) {
	b := kafkaBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping a running cluster: %v", err)
	}
	down, _ := kafkatest.FreeAddr(t)
	if err := bus.PingKafka(ctx, []string{down}, "test"); err == nil {
		t.Fatal("PingKafka of an address nothing listens on: no error")
	}

	// Published before the group exists: the group starts at the oldest message.
	streams := []string{"order-" + uuid.NewString(), "order-" + uuid.NewString(), "order-" + uuid.NewString()}
	var sent []eventstore.Record
	for v := int64(1); v <= 5; v++ {
		for _, s := range streams {
			rec := record(s, v)
			sent = append(sent, rec)
			if err := b.Publisher().Publish(bus.OrderTopic, bus.NewMessage(rec)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
	}

	type got struct {
		rec       eventstore.Record
		partition int32
		key       string
	}
	var mu sync.Mutex
	var received []got
	all := make(chan struct{})
	consumeCtx, stop := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() {
		consumed <- b.Consume(consumeCtx, "test-group", []string{bus.OrderTopic}, bus.HandlerFunc(func(ctx context.Context, rec eventstore.Record) error {
			p, _ := kafka.MessagePartitionFromCtx(ctx)
			k, _ := kafka.MessageKeyFromCtx(ctx)
			mu.Lock()
			defer mu.Unlock()
			received = append(received, got{rec, p, string(k)})
			if len(received) == len(sent) {
				close(all)
			}
			return nil
		}))
	}()
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatalf("consumed %d of %d messages", len(received), len(sent))
	}
	stop()
	if err := <-consumed; err != nil {
		t.Fatalf("Consume: %v", err)
	}

	partition := map[string]int32{}
	last := map[string]int64{}
	for _, g := range received {
		if g.key != g.rec.Stream {
			t.Errorf("message key = %q, want the stream id %q", g.key, g.rec.Stream)
		}
		if p, ok := partition[g.rec.Stream]; ok && p != g.partition {
			t.Errorf("stream %s in partitions %d and %d, want one", g.rec.Stream, p, g.partition)
		}
		partition[g.rec.Stream] = g.partition
		if g.rec.Version != last[g.rec.Stream]+1 {
			t.Errorf("stream %s: version %d after %d, want in order", g.rec.Stream, g.rec.Version, last[g.rec.Stream])
		}
		last[g.rec.Stream] = g.rec.Version
	}
	byID := map[uuid.UUID]eventstore.Record{}
	for _, r := range sent {
		byID[r.ID] = r
	}
	for _, g := range received {
		if !reflect.DeepEqual(g.rec, byID[g.rec.ID]) {
			t.Fatalf("consumed record differs from the published one:\n got %+v\nwant %+v", g.rec, byID[g.rec.ID])
		}
	}
}

// kafkaBus returns a bus on a Kafka-protocol broker of its own (kfake, in this process), both
// closed when the test ends.
func kafkaBus(t *testing.T) *bus.Bus {
	t.Helper()
	cluster, err := kafkatest.Start(t, 0)
	if err != nil {
		t.Fatalf("start Kafka: %v", err)
	}
	b := bus.New(bus.Config{Brokers: cluster.ListenAddrs()})
	t.Cleanup(func() { b.Close() })
	return b
}

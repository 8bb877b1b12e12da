package bus

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// TestWavesTakeEveryWaitingMessage: messages that wait in a partition when consumeWaves starts
// come in waves of many, not one by one. (A claim wrapped by otelsarama's consumer group handler,
// which hands records over one at a time through an unbuffered channel, fails this: one message
// per wave.)
func TestWavesTakeEveryWaitingMessage(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, Topics()...))
	if err != nil {
		t.Fatalf("start Kafka: %v", err)
	}
	defer cluster.Close()
	b := New(Config{Brokers: cluster.ListenAddrs()})
	defer b.Close()
	const n = 800
	for range n / 100 {
		batch := make([]*message.Message, 0, 100)
		for range 100 {
			batch = append(batch, NewMessage(eventstore.Record{ID: uuid.New(), Type: "order.placed.v1", Stream: "order-" + uuid.NewString(), Version: 1, Data: []byte("{}")}))
		}
		if err := b.Publisher().Publish(OrderTopic, batch...); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	got, waves := 0, 0
	consumed := make(chan error, 1)
	go func() {
		consumed <- b.consumeWaves(ctx, "waves-test", []string{OrderTopic}, func(_ context.Context, w []*sarama.ConsumerMessage) {
			mu.Lock()
			defer mu.Unlock()
			got += len(w)
			waves++
			if got >= n {
				cancel()
			}
		})
	}()
	<-ctx.Done()
	if err := <-consumed; err != nil {
		t.Fatalf("consumeWaves: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got < n {
		t.Fatalf("consumeWaves handed over %d of %d messages before the deadline", got, n)
	}
	if waves > n/4 {
		t.Errorf("consumeWaves handed %d waiting messages over in %d waves, want fewer than %d", got, waves, n/4)
	}
}

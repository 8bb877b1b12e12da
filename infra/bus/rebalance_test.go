package bus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// TestRebalanceKeepsSurvivorsPartitions runs three consumers of one group and stops one: the
// partitions of the two others stay where they were (sarama's cooperative-sticky assignor; the range assignor
// moves some of them unless the member that left sorts between the two others), and the stopped
// one's partitions go to them.
func TestRebalanceKeepsSurvivorsPartitions(t *testing.T) {
	b := kafkaBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// Enough streams that every partition gets messages.
	streams := make([]string, 64)
	for i := range streams {
		streams[i] = "order-" + uuid.NewString()
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	wg.Go(func() {
		for v := int64(1); pubCtx.Err() == nil; v++ {
			for _, s := range streams {
				if err := b.Publisher().Publish(bus.OrderTopic, bus.NewMessage(record(s, v))); err != nil && pubCtx.Err() == nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	var mu sync.Mutex
	owner := map[int32]string{} // partition -> the consumer that handled its latest message
	consumer := func(name string) context.CancelFunc {
		cctx, stop := context.WithCancel(ctx)
		wg.Go(func() {
			_ = b.Consume(cctx, "rebalance-group", []string{bus.OrderTopic}, bus.HandlerFunc(func(ctx context.Context, _ eventstore.Record) error {
				p, _ := kafka.MessagePartitionFromCtx(ctx)
				mu.Lock()
				owner[p] = name
				mu.Unlock()
				return nil
			}))
		})
		return stop
	}
	// waitOwners waits until the partitions' owners have been those of ok for a second.
	waitOwners := func(what string, ok func(map[int32]string) bool) map[int32]string {
		t.Helper()
		var since time.Time
		for {
			mu.Lock()
			snap := make(map[int32]string, len(owner))
			for p, c := range owner {
				snap[p] = c
			}
			mu.Unlock()
			switch {
			case !ok(snap):
				since = time.Time{}
			case since.IsZero():
				since = time.Now()
			case time.Since(since) > time.Second:
				return snap
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: partitions' owners %v", what, snap)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	counts := func(m map[int32]string) map[string]int {
		n := map[string]int{}
		for _, c := range m {
			n[c]++
		}
		return n
	}

	stopA, stopB, stopC := consumer("a"), consumer("b"), consumer("c")
	defer stopA()
	defer stopB()
	before := waitOwners("three consumers share 8 partitions", func(m map[int32]string) bool {
		n := counts(m)
		return len(m) == 8 && n["a"] >= 2 && n["b"] >= 2 && n["c"] >= 2
	})
	stopC()
	after := waitOwners("two consumers take over the third's partitions", func(m map[int32]string) bool {
		n := counts(m)
		return len(m) == 8 && n["c"] == 0
	})
	for p, c := range before {
		if c != "c" && after[p] != c {
			t.Errorf("partition %d moved from %s to %s when c left; before %v, after %v", p, c, after[p], before, after)
		}
	}
	stopPub()
}

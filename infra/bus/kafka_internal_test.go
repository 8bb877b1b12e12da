package bus

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
)

// claimLog records, per consumer group member, which partitions it holds and how many of its
// claims ended.
type claimLog struct {
	mu    sync.Mutex
	held  map[string]map[int32]bool
	ended map[string]int
}

func (l *claimLog) snapshot() (held map[string]int, total int, ended map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	held, ended = map[string]int{}, map[string]int{}
	for m, ps := range l.held {
		held[m] = len(ps)
		total += len(ps)
	}
	for m, n := range l.ended {
		ended[m] = n
	}
	return held, total, ended
}

// member is a sarama.ConsumerGroupHandler that records its claims in a claimLog.
type member struct {
	name string
	log  *claimLog
}

func (member) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (member) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (m member) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	m.log.mu.Lock()
	if m.log.held[m.name] == nil {
		m.log.held[m.name] = map[int32]bool{}
	}
	m.log.held[m.name][claim.Partition()] = true
	m.log.mu.Unlock()
	defer func() {
		m.log.mu.Lock()
		delete(m.log.held[m.name], claim.Partition())
		m.log.ended[m.name]++
		m.log.mu.Unlock()
	}()
	for msg := range claim.Messages() {
		sess.MarkMessage(msg, "")
	}
	return nil
}

// TestMembersKeepConsumingThroughARebalance runs three members of a group with the consumer
// configuration the bus uses and stops one: the two others take its partitions without any of
// their own claims ending (incremental cooperative rebalancing). With an eager strategy every
// claim of every member ends at each rebalance.
func TestMembersKeepConsumingThroughARebalance(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, "rebalance"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := &claimLog{held: map[string]map[int32]bool{}, ended: map[string]int{}}
	var wg sync.WaitGroup
	defer wg.Wait()
	start := func(name string) (stop func()) {
		group, err := sarama.NewConsumerGroup(cluster.ListenAddrs(), "rebalance-group", consumerConfig("test-"+name, 0))
		if err != nil {
			t.Fatalf("member %s: %v", name, err)
		}
		mctx, mcancel := context.WithCancel(ctx)
		wg.Go(func() {
			for mctx.Err() == nil {
				if err := group.Consume(mctx, []string{"rebalance"}, member{name, log}); err != nil && mctx.Err() == nil {
					t.Logf("member %s: Consume: %v", name, err)
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
		return func() {
			mcancel()
			if err := group.Close(); err != nil {
				t.Errorf("close member %s: %v", name, err)
			}
		}
	}
	// waitFor waits until ok has held for a second.
	waitFor := func(what string, ok func(held map[string]int, total int) bool) map[string]int {
		t.Helper()
		var since time.Time
		for {
			held, total, ended := log.snapshot()
			switch {
			case !ok(held, total):
				since = time.Time{}
			case since.IsZero():
				since = time.Now()
			case time.Since(since) > time.Second:
				return ended
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: held %v, ended %v", what, held, ended)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	stopA, stopB, stopC := start("a"), start("b"), start("c")
	defer stopA()
	defer stopB()
	before := waitFor("three members share the 8 partitions", func(held map[string]int, total int) bool {
		return total == 8 && held["a"] > 0 && held["b"] > 0 && held["c"] > 0
	})
	stopC()
	after := waitFor("two members take over the third's partitions", func(held map[string]int, total int) bool {
		return total == 8 && held["c"] == 0
	})
	for _, m := range []string{"a", "b"} {
		if after[m] != before[m] {
			t.Errorf("member %s: %d of its claims ended while c left, want none (before %v, after %v)", m, after[m]-before[m], before, after)
		}
	}
}

package bus_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/bus/kafkatest"
)

// TestRequestsReachTheStreamsOneServer runs two processes that both ask and serve: every
// request is answered (the asker's own or the other's partitions), each stream's requests are
// served by one of them, and one asker's requests on a stream reach the server in the order sent.
func TestRequestsReachTheStreamsOneServer(t *testing.T) {
	cluster, err := kafkatest.Start(t, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	var mu sync.Mutex
	served := map[string]map[string]bool{} // stream -> the servers that served it
	seen := map[string][]string{}          // stream -> payloads in the order served
	procs := make([]*bus.Requests, 2)
	for i := range procs {
		name := fmt.Sprintf("p%d", i)
		b := bus.New(bus.Config{Brokers: cluster.ListenAddrs()})
		defer b.Close()
		q := b.Requests()
		procs[i] = q
		wg.Go(func() { _ = q.ListenReplies(ctx) })
		wg.Go(func() {
			_ = q.Serve(ctx, func(_ context.Context, payloads [][]byte) [][]byte {
				answers := make([][]byte, len(payloads))
				mu.Lock()
				defer mu.Unlock()
				for j, p := range payloads {
					stream, _, _ := strings.Cut(string(p), "/")
					if served[stream] == nil {
						served[stream] = map[string]bool{}
					}
					served[stream][name] = true
					seen[stream] = append(seen[stream], string(p))
					answers[j] = []byte(name + ":" + string(p))
				}
				return answers
			})
		})
	}
	// Both serve before the test starts.
	for {
		mu.Lock()
		servers := map[string]bool{}
		for _, by := range served {
			for s := range by {
				servers[s] = true
			}
		}
		mu.Unlock()
		if len(servers) == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("both processes did not serve requests")
		}
		stream := "product-" + uuid.NewString()
		if _, err := procs[0].Request(ctx, stream, []byte(stream+"/warm")); err != nil {
			t.Fatalf("Request: %v", err)
		}
	}
	mu.Lock()
	clear(served)
	clear(seen)
	mu.Unlock()

	streams := make([]string, 16)
	for i := range streams {
		streams[i] = "product-" + uuid.NewString()
	}
	start := time.Now()
	const each = 10
	var asks sync.WaitGroup
	for i, q := range procs {
		for _, s := range streams {
			asks.Go(func() {
				for n := range each {
					payload := fmt.Sprintf("%s/p%d/%02d", s, i, n)
					answer, err := q.Request(ctx, s, []byte(payload))
					if err != nil {
						t.Errorf("Request(%s): %v", payload, err)
						return
					}
					if _, got, _ := strings.Cut(string(answer), ":"); got != payload {
						t.Errorf("Request(%s) answered %q, want that request's answer", payload, answer)
					}
				}
			})
		}
	}
	asks.Wait()
	t.Logf("%d requests in %s", len(procs)*len(streams)*each, time.Since(start).Round(time.Millisecond))

	mu.Lock()
	defer mu.Unlock()
	for _, s := range streams {
		if len(served[s]) != 1 {
			t.Errorf("stream %s served by %v, want one server", s, served[s])
		}
		last := map[string]string{}
		for _, p := range seen[s] {
			_, rest, _ := strings.Cut(p, "/")
			asker, n, _ := strings.Cut(rest, "/")
			if n <= last[asker] {
				t.Errorf("stream %s: request %s served after %s of the same asker", s, p, last[asker])
			}
			last[asker] = n
		}
	}
}

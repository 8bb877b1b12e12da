package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/logtest"
)

// flakyLog is a log whose first subscriptions fail after their first batch, as a shared tail does
// when the database goes away.
type flakyLog struct {
	store eventstore.Store
	fails atomic.Int32 // subscriptions still to fail
}

func (f *flakyLog) SubscribeAll(ctx context.Context, from eventstore.Position, handle func(context.Context, []eventstore.Record) error) error {
	if f.fails.Add(-1) < 0 {
		return f.store.SubscribeAll(ctx, from, handle)
	}
	errLost := errors.New("connection to the database lost")
	err := f.store.SubscribeAll(ctx, from, func(ctx context.Context, recs []eventstore.Record) error {
		if err := handle(ctx, recs); err != nil {
			return err
		}
		return errLost
	})
	if errors.Is(err, errLost) {
		return errLost
	}
	return err
}

// TestOutcomesSurviveAFailingLog settles orders while the log Outcomes follows fails twice: every
// outcome is still heard (Run resumes from the last position it saw), and each failure is logged.
func TestOutcomesSurviveAFailingLog(t *testing.T) {
	e := newEnv(t, commands.Config{})
	log := &flakyLog{store: e.store}
	log.fails.Store(2)
	var logs logtest.Buffer
	out := commands.NewOutcomes(e.store, e.repos, commands.OutcomesConfig{Log: log,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		if err := out.Run(ctx); err != nil {
			t.Errorf("Run = %v, want nil when its context ends", err)
		}
	})

	settle := func(ev order.Event, id uuid.UUID, version int64) eventstore.AppendResult {
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.store.Append(ctx, order.StreamID(id), eventstore.Exact(version),
			eventstore.EventData{ID: uuid.New(), Type: ev.EventType(), Data: data})
		if err != nil {
			t.Fatalf("append %s to order %s: %v", ev.EventType(), id, err)
		}
		return res
	}
	// Wait until Run follows the log: an unknown order is then NotFound.
	for {
		wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, _, err := out.AwaitSettled(wctx, uuid.New(), 0)
		wcancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			break
		}
	}
	for i := range 4 {
		id := uuid.New()
		placed := settle(order.Placed{OrderID: id, UserID: uuid.New(), Total: 1, At: time.Now(),
			Lines: []order.Line{{Number: 1, ProductID: uuid.New(), SellerID: uuid.New(), UnitPrice: 1, Quantity: 1}}}, id, 0)
		settle(order.Confirmed{OrderID: id, At: time.Now()}, id, 1)
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		st, _, err := out.AwaitSettled(wctx, id, placed.Position)
		wcancel()
		if err != nil || st != order.StatusOrder {
			t.Fatalf("order %d: AwaitSettled = %s, %v; want ORDER heard through the log after its failures", i, st, err)
		}
	}
	if n := strings.Count(logs.String(), "connection to the database lost"); n != 2 {
		t.Errorf("the log's 2 failures were logged %d times:\n%s", n, logs.String())
	}
}

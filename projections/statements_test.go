package projections_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/projections"
)

// TestApplyBatchEqualsApply applies the events of a random run once event by event with Apply and
// once in batches of random sizes with ApplyBatch, each into its own schema, and requires the same
// rows in every table: folding a batch must not change what the events mean.
func TestApplyBatchEqualsApply(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ctx := context.Background()
	log := &memLog{}
	s := newSim(t, ctx, log, seed)
	for len(log.recs) < 6000 {
		s.step()
	}
	pool := pgtest.New(t)
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, p := range []projections.Projector{projections.NewCatalog(), projections.NewOrders(), projections.NewReviews()} {
		t.Run(p.Name(), func(t *testing.T) {
			compareApplyAndBatch(t, ctx, pool, p, log.recs, func() int { return 1 + rng.IntN(700) })
		})
	}
}

// TestApplyBatchFoldsAWholeOrder gives the orders projector the whole life of two orders in one
// batch, reviews written, deleted and written again included, which a random run seldom puts in
// one batch.
func TestApplyBatchFoldsAWholeOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	user, seller := uuid.New(), uuid.New()
	o1, o2, rev, rev2 := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	at := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	line := func(n int) order.LineEvent {
		at = at.Add(time.Minute)
		return order.LineEvent{OrderID: o1, UserID: user, Line: n, SellerID: seller, Quantity: 1, At: at}
	}
	lines := []order.Line{
		{Number: 1, ProductID: uuid.New(), SellerID: seller, ProductName: "a", UnitPrice: 10, Quantity: 1},
		{Number: 2, ProductID: uuid.New(), SellerID: seller, ProductName: "b", UnitPrice: 20, Quantity: 2},
	}
	events := []event{
		order.Placed{OrderID: o1, UserID: user, Lines: lines, Total: 50, At: at},
		order.Placed{OrderID: o2, UserID: user, Lines: lines[:1], Total: 10, At: at},
		order.Confirmed{OrderID: o1, UserID: user, At: at.Add(time.Second)},
		order.Rejected{OrderID: o2, UserID: user, Reason: "OUT_OF_STOCK", At: at.Add(2 * time.Second)},
		order.LineAccepted{LineEvent: line(1)},
		order.LineShipped{LineEvent: line(1)},
		order.LineDelivered{LineEvent: line(1)},
		review.Written{ReviewID: rev, OrderID: o1, Line: 1, Rating: 4, Content: "ok", At: at},
		review.Deleted{ReviewID: rev, At: at},
		order.LineCancelRequested{LineEvent: line(2)},
		review.Written{ReviewID: rev, OrderID: o1, Line: 1, Rating: 5, Content: "good", At: at},
		order.LineCancelled{LineEvent: line(2)},
		// The projector does not judge: a review of a rejected order's line, then deleted.
		review.Written{ReviewID: rev2, OrderID: o2, Line: 1, Rating: 1, Content: "?", At: at},
		review.Deleted{ReviewID: rev2, At: at},
	}
	recs := make([]eventstore.Record, len(events))
	for i, e := range events {
		recs[i] = toRecord(t, e, eventstore.Position(i+1))
	}
	pool := pgtest.New(t)
	for _, size := range []int{len(recs), 5, 3} {
		t.Run(fmt.Sprintf("batches of %d", size), func(t *testing.T) {
			compareApplyAndBatch(t, ctx, pool, projections.NewOrders(), recs, func() int { return size })
		})
	}
}

// compareApplyAndBatch applies recs to p event by event with Apply in one schema and in batches
// of next() events with ApplyBatch in another, and requires the same rows in every table.
func compareApplyAndBatch(t *testing.T, ctx context.Context, pool *pgxpool.Pool, p projections.Projector, recs []eventstore.Record, next func() int) {
	t.Helper()
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	one, batched := "one_"+suffix, "batched_"+suffix
	for _, schema := range []string{one, batched} {
		inSchemaTx(t, ctx, pool, schema, "CREATE SCHEMA "+schema, func(tx pgx.Tx) error { return p.Setup(ctx, tx) })
	}
	inSchemaTx(t, ctx, pool, one, "", func(tx pgx.Tx) error {
		for _, rec := range recs {
			if err := p.Apply(ctx, tx, rec); err != nil {
				return err
			}
		}
		return nil
	})
	sizes := []int{}
	for start := 0; start < len(recs); {
		n := next()
		batch := recs[start:min(start+n, len(recs))]
		inSchemaTx(t, ctx, pool, batched, "", func(tx pgx.Tx) error {
			return p.(projections.BatchApplier).ApplyBatch(ctx, tx, batch)
		})
		sizes = append(sizes, len(batch))
		start += n
	}
	for _, table := range p.Tables() {
		want, got := dumpTable(t, ctx, pool, one, table), dumpTable(t, ctx, pool, batched, table)
		if len(want) == 0 {
			t.Errorf("table %s is empty after %d events", table, len(recs))
		}
		if diff := diffRows("Apply", want, "ApplyBatch", got); diff != "" {
			t.Errorf("table %s: ApplyBatch (batches of %v) differs from Apply (%d rows, %d batched):\n%s",
				table, sizes, len(want), len(got), diff)
		}
	}
}

// TestApplyBatchNamesTheFailingEvent checks that a batch that fails reports the record at fault,
// so that the runner can commit the events before it and stop there.
func TestApplyBatchNamesTheFailingEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	cat, user := uuid.New(), uuid.New()
	orderID := uuid.New()
	placed := order.Placed{OrderID: orderID, UserID: user, Total: 10, At: time.Now(),
		Lines: []order.Line{{Number: 1, ProductID: uuid.New(), SellerID: uuid.New(), ProductName: "p", UnitPrice: 10, Quantity: 1}}}
	tests := []struct {
		p      projections.Projector
		events []event
		bad    int // index of the event the error must name
	}{
		{projections.NewCatalog(), []event{
			catalog.CategoryCreated{CategoryID: cat, Name: "a", At: time.Now()},
			catalog.BrandCreated{BrandID: uuid.New(), Name: "b", At: time.Now()},
			catalog.CategoryCreated{CategoryID: cat, Name: "a again", At: time.Now()},
		}, 2},
		{projections.NewOrders(), []event{placed, order.Confirmed{OrderID: orderID, UserID: user, At: time.Now()}, placed}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.p.Name(), func(t *testing.T) {
			recs := make([]eventstore.Record, len(tt.events))
			for i, e := range tt.events {
				recs[i] = toRecord(t, e, eventstore.Position(i+1))
			}
			schema := "fail_" + projections.BaseName(tt.p.Name())
			inSchemaTx(t, ctx, pool, schema, "CREATE SCHEMA "+schema, func(tx pgx.Tx) error { return tt.p.Setup(ctx, tx) })
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+schema); err != nil {
					return err
				}
				return tt.p.(projections.BatchApplier).ApplyBatch(ctx, tx, recs)
			})
			var ee *projections.EventError
			if !errors.As(err, &ee) || ee.Record.Position != recs[tt.bad].Position {
				t.Fatalf("ApplyBatch error = %v, want an *EventError naming the event at position %d", err, recs[tt.bad].Position)
			}
		})
	}
}

// event is what every domain event value is.
type event interface{ EventType() string }

func toRecord(t testing.TB, e event, pos eventstore.Position) eventstore.Record {
	t.Helper()
	log := &memLog{}
	if _, err := log.Append(context.Background(), "test-"+fmt.Sprint(pos), eventstore.Any, eventData(t, e)); err != nil {
		t.Fatalf("append: %v", err)
	}
	rec := log.recs[0]
	rec.Position = pos
	return rec
}

func inSchemaTx(t testing.TB, ctx context.Context, pool *pgxpool.Pool, schema, before string, fn func(pgx.Tx) error) {
	t.Helper()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if before != "" {
			if _, err := tx.Exec(ctx, before); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+schema); err != nil {
			return err
		}
		return fn(tx)
	})
	if err != nil {
		t.Fatalf("in schema %s: %v", schema, err)
	}
}

// dumpTable returns every row of schema.table as JSON text, sorted.
func dumpTable(t testing.TB, ctx context.Context, pool *pgxpool.Pool, schema, table string) []string {
	t.Helper()
	rows, err := pool.Query(ctx, fmt.Sprintf("SELECT to_jsonb(t)::text FROM %s.%s t ORDER BY 1", schema, table))
	if err != nil {
		t.Fatalf("dump %s.%s: %v", schema, table, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("dump %s.%s: %v", schema, table, err)
	}
	return list
}

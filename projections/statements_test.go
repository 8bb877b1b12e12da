package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/projections"
)

// TestBatchesFoldAWholeOrder gives the orders projector the whole life of two orders, reviews
// written, deleted and written again included, in one batch and cut into smaller ones, and
// requires the rows that batches of one event give.
func TestBatchesFoldAWholeOrder(t *testing.T) {
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
		product.Created{ProductID: lines[0].ProductID, SellerID: seller, ItemID: uuid.New(), CategoryID: uuid.New(),
			BrandID: uuid.New(), Name: "a", Price: 10, Stock: 5, Status: product.StatusSell, At: at},
		order.Placed{OrderID: o1, UserID: user, Lines: lines, Total: 50, At: at},
		order.Placed{OrderID: o2, UserID: user, Lines: lines[:1], Total: 10, At: at},
		order.Confirmed{OrderID: o1, UserID: user, At: at.Add(time.Second)},
		order.Rejected{OrderID: o2, UserID: user, Reason: "OUT_OF_STOCK", At: at.Add(2 * time.Second)},
		order.LineAccepted{LineEvent: line(1)},
		order.LineShipped{LineEvent: line(1)},
		order.LineDelivered{LineEvent: line(1)},
		review.Written{ReviewID: rev, OrderID: o1, Line: 1, ProductID: lines[0].ProductID, Rating: 4, Content: "ok", At: at},
		review.Edited{ReviewID: rev, ProductID: lines[0].ProductID, Rating: 3, Content: "meh", At: at},
		review.Deleted{ReviewID: rev, ProductID: lines[0].ProductID, At: at},
		order.LineCancelRequested{LineEvent: line(2)},
		review.Written{ReviewID: rev, OrderID: o1, Line: 1, ProductID: lines[0].ProductID, Rating: 5, Content: "good", At: at},
		review.Edited{ReviewID: rev, ProductID: lines[0].ProductID, Rating: 2, Content: "worse", At: at},
		order.LineCancelled{LineEvent: line(2)},
		// The projector does not judge: a review of a rejected order's line, then deleted.
		review.Written{ReviewID: rev2, OrderID: o2, Line: 1, ProductID: lines[0].ProductID, Rating: 1, Content: "?", At: at},
		review.Deleted{ReviewID: rev2, ProductID: lines[0].ProductID, At: at},
	}
	recs := make([]eventstore.Record, len(events))
	for i, e := range events {
		recs[i] = toRecord(t, e, eventstore.Position(i+1))
	}
	pool := pgtest.New(t)
	for _, p := range []projections.Projector{projections.NewOrders(), projections.NewCatalog(), projections.NewReviews()} {
		for _, size := range []int{len(recs), 5, 3} {
			t.Run(fmt.Sprintf("%s in batches of %d", p.Name(), size), func(t *testing.T) {
				compareBatches(t, ctx, pool, p, recs, size)
			})
		}
	}
}

// compareBatches applies recs to p in batches of one event in one schema and in batches of size
// events in another, and requires the same rows in every table.
func compareBatches(t *testing.T, ctx context.Context, pool *pgxpool.Pool, p projections.Projector, recs []eventstore.Record, size int) {
	t.Helper()
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	one, batched := "one_"+suffix, "batched_"+suffix
	for _, schema := range []string{one, batched} {
		inSchemaTx(t, ctx, pool, schema, "CREATE SCHEMA "+schema, func(tx pgx.Tx) error { return p.Setup(ctx, tx) })
	}
	for _, run := range []struct {
		schema string
		size   int
	}{{one, 1}, {batched, size}} {
		for start := 0; start < len(recs); start += run.size {
			batch := recs[start:min(start+run.size, len(recs))]
			inSchemaTx(t, ctx, pool, run.schema, "", func(tx pgx.Tx) error { return p.Apply(ctx, tx, batch) })
		}
	}
	rows := 0
	for _, table := range p.Tables() {
		want, got := dumpTable(t, ctx, pool, one, table), dumpTable(t, ctx, pool, batched, table)
		rows += len(want)
		if diff := diffRows("batches of 1", want, fmt.Sprintf("batches of %d", size), got); diff != "" {
			t.Errorf("table %s: batches of %d differ from batches of 1 (%d rows, %d):\n%s", table, size, len(want), len(got), diff)
		}
	}
	if rows == 0 {
		t.Errorf("%s wrote no rows for %d events", p.Name(), len(recs))
	}
}

// TestApplyNamesTheFailingEvent checks that a batch that fails reports the record at fault,
// so that the runner can commit the events before it and stop there.
func TestApplyNamesTheFailingEvent(t *testing.T) {
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
				return tt.p.Apply(ctx, tx, recs)
			})
			var ee *projections.EventError
			if !errors.As(err, &ee) || ee.Record.Position != recs[tt.bad].Position {
				t.Fatalf("Apply error = %v, want an *EventError naming the event at position %d", err, recs[tt.bad].Position)
			}
		})
	}
}

// event is what every domain event value is.
type event interface{ EventType() string }

// toRecord encodes a domain event as the record a reader of the log gets at pos.
func toRecord(t testing.TB, e event, pos eventstore.Position) eventstore.Record {
	t.Helper()
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("marshal %T: %v", e, err)
	}
	return eventstore.Record{ID: uuid.New(), Type: e.EventType(), Data: raw, Stream: "test-" + fmt.Sprint(pos),
		Version: 1, Position: pos, RecordedAt: time.Now()}
}

// diffRows lists up to 5 rows that only one side has: a is named aName, b bName.
func diffRows(aName string, a []string, bName string, b []string) string {
	var out strings.Builder
	n := 0
	only := func(label string, a, other []string) {
		for _, r := range a {
			if _, found := slices.BinarySearch(other, r); !found && n < 5 {
				fmt.Fprintf(&out, "  only %s: %s\n", label, r)
				n++
			}
		}
	}
	only(aName, a, b)
	only(bName, b, a)
	if n == 0 && !slices.Equal(a, b) {
		return "  the same rows, in different numbers"
	}
	return out.String()
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

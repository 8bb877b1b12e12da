package readmodels_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/projections"
	"github.com/commerce-dev/commerce/readmodels"
)

// event is what every domain event value is.
type event interface{ EventType() string }

// world is a fresh database with the read-model tables of every projector in schema readmodel,
// and a Reader over it. given applies events through the real projectors, as the runner does.
type world struct {
	t     *testing.T
	pool  *pgxpool.Pool
	rm    *readmodels.Reader
	pos   eventstore.Position
	procs []projections.Projector
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, pool: pgtest.New(t), procs: []projections.Projector{
		projections.NewCatalog(), projections.NewOrders(), projections.NewReviews(),
	}}
	w.rm = readmodels.New(w.pool)
	w.inTx(func(tx pgx.Tx) {
		for _, p := range w.procs {
			if err := p.Setup(context.Background(), tx); err != nil {
				t.Fatalf("%s.Setup: %v", p.Name(), err)
			}
		}
	})
	return w
}

// inTx runs fn in a transaction whose search_path is the live read-model schema.
func (w *world) inTx(fn func(pgx.Tx)) {
	w.t.Helper()
	ctx := context.Background()
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		w.t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+projections.LiveSchema+"; SET LOCAL search_path = "+projections.LiveSchema); err != nil {
		w.t.Fatalf("set search_path: %v", err)
	}
	fn(tx)
	if err := tx.Commit(ctx); err != nil {
		w.t.Fatalf("commit: %v", err)
	}
}

// given applies events, in order, to every projector, one transaction for all.
func (w *world) given(events ...event) {
	w.t.Helper()
	recs := make([]eventstore.Record, len(events))
	for i, e := range events {
		recs[i] = w.record(e)
	}
	w.inTx(func(tx pgx.Tx) {
		for _, p := range w.procs {
			for _, rec := range recs {
				if err := p.Apply(context.Background(), tx, []eventstore.Record{rec}); err != nil {
					w.t.Fatalf("%s.Apply(%s): %v", p.Name(), rec.Type, err)
				}
			}
		}
	})
}

func (w *world) record(e event) eventstore.Record {
	w.t.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		w.t.Fatalf("marshal %T: %v", e, err)
	}
	w.pos++
	return eventstore.Record{ID: uuid.New(), Type: e.EventType(), Data: data, Stream: "test", Version: 1,
		Position: w.pos, RecordedAt: time.Now()}
}

// base is the time of the first event in the tests; at(n) is n minutes later.
var base = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func at(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

// ids returns the ids of items, in order.
func ids[T any](items []T, id func(T) uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

package projections

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	espg "github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// TestRebuildEqualsLive follows a shop's history (catalog, products, orders through their whole
// life, reviews, restocks) live in batches of 7 events, which cut orders' lives apart so that
// most batches read the orders they change, then rebuilds every projector from scratch in
// batches of 5000, which hold most orders' lives whole, and requires exactly the rows the live
// projection built, table by table.
func TestRebuildEqualsLive(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	seedShop(t, pool, 20_000)
	store := espg.New(pool)
	head, err := store.Head(ctx)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	ps := []Projector{NewCatalog(), NewOrders(), NewReviews()}
	r, err := NewRunner(pool, store, ps, Options{CatchUpBatch: 7, RebuildBatch: 5000,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	defer r.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	if err := r.WaitForAll(ctx, head); err != nil {
		t.Fatalf("live projection did not reach the head %d: %v", head, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	live := dumpLive(t, ctx, pool, ps)
	for _, p := range ps {
		if err := r.Rebuild(ctx, p.Name(), func(Progress) {}); err != nil {
			t.Fatalf("Rebuild(%s): %v", p.Name(), err)
		}
	}
	rebuilt := dumpLive(t, ctx, pool, ps)
	for table, want := range live {
		got := rebuilt[table]
		if len(want) == 0 {
			t.Errorf("table %s is empty after the live projection of %d events", table, 20_000)
		}
		if !slices.Equal(want, got) {
			var diff []string
			for _, row := range want {
				if _, ok := slices.BinarySearch(got, row); !ok && len(diff) < 3 {
					diff = append(diff, "only live:    "+row)
				}
			}
			for _, row := range got {
				if _, ok := slices.BinarySearch(want, row); !ok && len(diff) < 6 {
					diff = append(diff, "only rebuilt: "+row)
				}
			}
			t.Errorf("table %s: the rebuild (%d rows) differs from the live projection (%d rows):\n%s",
				table, len(got), len(want), fmt.Sprint(diff))
		}
	}
}

// dumpLive returns every row of the projectors' live tables as JSON text, sorted, by table.
func dumpLive(t *testing.T, ctx context.Context, pool *pgxpool.Pool, ps []Projector) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range ps {
		for _, table := range p.Tables() {
			rows, err := pool.Query(ctx, fmt.Sprintf("SELECT to_jsonb(t)::text FROM %s t", qualified(LiveSchema, []string{table})))
			if err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			list, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			slices.Sort(list)
			out[table] = list
		}
	}
	return out
}

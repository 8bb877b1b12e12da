package projections

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// TestOrdersLoadPlanWithoutStatistics checks the plan of the statement a batch of order events
// reads its orders with, as a rebuild's shadow tables see it: 80,000 orders of two lines, never
// analyzed, and the generic plan a prepared statement settles on after a few runs. Scanning all of
// order_lines for every batch made the rebuild of the orders slow down as its tables grew.
func TestOrdersLoadPlanWithoutStatistics(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the test's tables go with its database
	for _, sql := range []string{`CREATE SCHEMA plan_test`, `SET LOCAL search_path TO plan_test`} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if err := NewOrders().Setup(ctx, tx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	fill := []string{
		`ALTER TABLE orders SET (autovacuum_enabled = false)`,
		`ALTER TABLE order_lines SET (autovacuum_enabled = false)`,
		`INSERT INTO orders SELECT md5(i::text)::uuid, gen_random_uuid(), 'CONFIRMED', 100, '', 'r', 'a', 'b', 'z', 'p',
	'DOOR', 'm', now(), now() FROM generate_series(1, 80000) i`,
		`INSERT INTO order_lines SELECT md5(i::text)::uuid, l, gen_random_uuid(), gen_random_uuid(), 'product',
	gen_random_uuid(), 10, 1, 'ORDER', 'COMPLETE', '', NULL, now(), now() FROM generate_series(1, 80000) i, generate_series(1, 2) l`,
		`SET LOCAL plan_cache_mode = force_generic_plan`,
		`PREPARE load_orders (uuid[]) AS ` + sqlOrdersLoad,
	}
	for _, sql := range fill {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	rows, err := tx.Query(ctx, `EXPLAIN EXECUTE load_orders (ARRAY[md5('5')::uuid, md5('77')::uuid])`, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	plan := strings.Join(lines, "\n")
	if strings.Contains(plan, "Seq Scan") {
		t.Fatalf("generic plan of sqlOrdersLoad on 160,000 lines without statistics scans a table:\n%s\nwant index scans only", plan)
	}
}

package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

func TestBaselineSeedAndHot(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	b, err := NewBaseline(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{
		Paths:   []Path{b},
		Options: Options{Scenarios: []string{ScenarioSeed, ScenarioHot}, Workers: []int{4}, Duration: 300 * time.Millisecond},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("Run gave %d results, want seed and hot: %+v", len(rep.Results), rep.Results)
	}
	seed, hot := rep.Results[0], rep.Results[1]
	if !seed.Verified || seed.Accepted != 15 || seed.Rejected != 185 || seed.Errors != 0 {
		t.Fatalf("seed on the baseline = %+v, want verified, 15 accepted, 185 rejected", seed)
	}
	if !hot.Verified || hot.Settled == 0 || hot.Rejected != 0 || hot.Errors != 0 || hot.P99Ms <= 0 {
		t.Fatalf("hot on the baseline = %+v, want verified orders and no rejections", hot)
	}
	var orders int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM baseline.orders`).Scan(&orders); err != nil {
		t.Fatal(err)
	}
	if orders != seed.Accepted+hot.Accepted {
		t.Fatalf("baseline.orders has %d rows, want the %d accepted orders", orders, seed.Accepted+hot.Accepted)
	}
}

// TestBaselineVerificationCatchesOversell makes the baseline's stock wrong behind its back and
// checks that the run's verification says so.
func TestBaselineVerificationCatchesOversell(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	b, err := NewBaseline(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := b.AddProducts(ctx, []int{5})
	if err != nil {
		t.Fatal(err)
	}
	o := Order{ID: uuid.New(), UserID: uuid.New(), Lines: []Line{{ids[0], 2}}}
	if ok, err := b.Place(ctx, o); !ok || err != nil {
		t.Fatalf("Place = %v, %v, want accepted", ok, err)
	}
	if ok, err := b.Place(ctx, Order{ID: uuid.New(), UserID: uuid.New(), Lines: []Line{{ids[0], 4}}}); ok || err != nil {
		t.Fatalf("Place of 4 with 3 left = %v, %v, want rejected", ok, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE baseline.products SET stock = stock - 1 WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	var res Result
	if _, err := verify(ctx, b, ids, []int{5}, []Order{o}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Verified || res.Problem == "" {
		t.Fatalf("verify after a hidden decrement = %+v, want a failure", res)
	}
}

package bench

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

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
	if _, err := verify(ctx, b, ids, []int{5}, []Order{o}, nil, &res); err != nil {
		t.Fatal(err)
	}
	if res.Verified || res.Problem == "" {
		t.Fatalf("verify after a hidden decrement = %+v, want a failure", res)
	}
}

package projections_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/projections"
)

// benchEvents is how many events the projector benchmark applies per run.
const benchEvents = 200_000

// benchBatch is the number of events per transaction, as a rebuild applies them.
const benchBatch = 5000

// BenchmarkApplyBatch measures what each read-model projector costs a rebuild: the random
// commands of the equivalence test make the events (in memory, not read from a store), and each
// run applies all of them with ApplyBatch into fresh tables, benchBatch events per transaction, on
// a database with durable commits. It reports events per second.
func BenchmarkApplyBatch(b *testing.B) {
	ctx := context.Background()
	log := &memLog{}
	s := newSim(b, ctx, log, 1)
	for len(log.recs) < benchEvents {
		s.step()
	}
	recs := log.recs
	pool := pgtest.NewDurable(b)
	procs := []projections.Projector{projections.NewCatalog(), projections.NewOrders(), projections.NewReviews()}
	for _, p := range procs {
		b.Run(p.Name(), func(b *testing.B) {
			for i := range b.N {
				b.StopTimer()
				schema := fmt.Sprintf("bench_%d", i)
				inSchemaTx(b, ctx, pool, schema, "CREATE SCHEMA "+schema, func(tx pgx.Tx) error { return p.Setup(ctx, tx) })
				b.StartTimer()
				for start := 0; start < len(recs); start += benchBatch {
					batch := recs[start:min(start+benchBatch, len(recs))]
					inSchemaTx(b, ctx, pool, schema, "", func(tx pgx.Tx) error {
						return p.(projections.BatchApplier).ApplyBatch(ctx, tx, batch)
					})
				}
				b.StopTimer()
				if _, err := pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
					b.Fatalf("drop schema %s: %v", schema, err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

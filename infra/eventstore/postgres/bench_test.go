package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// The benchmarks run on a database with the server's durable commit settings (pgtest.NewDurable).
// Run them all, with the figures the README quotes:
//
//	go test -run '^$' -bench . -benchtime 10s -timeout 30m ./infra/eventstore/postgres/
//
// An op is one event appended, read or delivered; the metrics that matter are the reported
// events/s, ratio and lag percentiles.

// benchData is a typical event: about 300 bytes of JSON data and 100 of metadata.
var (
	benchData = json.RawMessage(`{"order_id":"6f1c3e0a-8d4b-4f7e-9a51-2c7d9b0e4f11","user_id":"0b8e2f6c-1a3d-4c5e-8f7a-9b0c1d2e3f40","lines":[{"product_id":"5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d","seller_id":"9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a","name":"Mechanical keyboard","qty":2,"unit_price":8999}],"total":17998,"currency":"EUR"}`)
	benchMeta = eventstore.Metadata{CorrelationID: uuid.New(), CausationID: uuid.New(), ActorID: uuid.New(), ActorRole: "USER"}.Marshal()
)

func benchEvent() eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: "order.placed.v1", Data: benchData, Metadata: benchMeta}
}

// benchPool is a durable test database with a pool large enough for writers.
func benchPool(b *testing.B, writers int) *pgxpool.Pool {
	b.Helper()
	cfg := pgtest.NewDurable(b).Config()
	cfg.MaxConns = int32(writers + 8)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatalf("open pool: %v", err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// parallel runs op n times on writers goroutines and returns how long that took.
func parallel(b *testing.B, writers, n int, op func(i int) error) time.Duration {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() != nil {
					return
				}
				if err := op(i); err != nil {
					failed.Store(&err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	return time.Since(start)
}

// compareWithPlainInsert measures b.N events appended by writers in appends of batch events, each
// to a new stream, against the same rows inserted by plain INSERTs (one statement per append) into
// plain_events, a table of the same shape. The two alternate in ten rounds so that the machine's
// drift hits both alike. It reports events/s of each and their ratio.
func compareWithPlainInsert(b *testing.B, pool *pgxpool.Pool, writers, batch int) {
	ctx := context.Background()
	s := New(pool)
	const plainSQL = `INSERT INTO plain_events (position, stream_id, version, id, type, data, metadata, recorded_at)
SELECT $1 + e.n - 1, $2, e.n, e.id, e.type, e.data::jsonb, e.metadata::jsonb, now()
FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS e(id, type, data, metadata, n)`
	appends := max(1, b.N/batch)
	rounds := min(10, appends)
	var appendTime, plainTime time.Duration
	b.ResetTimer()
	for r := range rounds {
		n := appends / rounds
		if r == rounds-1 {
			n = appends - n*(rounds-1)
		}
		appendTime += parallel(b, writers, n, func(int) error {
			events := make([]eventstore.EventData, batch)
			for i := range events {
				events[i] = benchEvent()
			}
			_, err := s.Append(ctx, uuid.NewString(), eventstore.NoStream, events...)
			return err
		})
		plainTime += parallel(b, writers, n, func(int) error {
			p := plainPosition.Add(int64(batch)) - int64(batch)
			if batch == 1 { // a plain VALUES insert: the fairest baseline for a one-event append
				e := benchEvent()
				_, err := pool.Exec(ctx, `INSERT INTO plain_events (position, stream_id, version, id, type, data, metadata, recorded_at)
VALUES ($1, $2, 1, $3, $4, $5::jsonb, $6::jsonb, now())`, p, uuid.NewString(), e.ID, e.Type, string(e.Data), string(e.Metadata))
				return err
			}
			ids, types, data, meta := make([]uuid.UUID, batch), make([]string, batch), make([]string, batch), make([]string, batch)
			for i := range batch {
				e := benchEvent()
				ids[i], types[i], data[i], meta[i] = e.ID, e.Type, string(e.Data), string(e.Metadata)
			}
			_, err := pool.Exec(ctx, plainSQL, p, uuid.NewString(), ids, types, data, meta)
			return err
		})
	}
	b.StopTimer()
	events := float64(appends * batch)
	appendRate := events / appendTime.Seconds()
	plainRate := events / plainTime.Seconds()
	b.ReportMetric(appendRate, "events/s")
	b.ReportMetric(plainRate, "plain-events/s")
	b.ReportMetric(appendRate/plainRate, "ratio")
}

// plainPosition hands out the positions of plain_events rows, across all runs of a benchmark.
var plainPosition atomic.Int64

func createPlainTable(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	if _, err := pool.Exec(context.Background(), `CREATE TABLE plain_events (LIKE events INCLUDING ALL)`); err != nil {
		b.Fatalf("create plain_events: %v", err)
	}
}

// BenchmarkAppend appends one event per call, each to a new stream, at 1, 16 and 64 writers, and
// compares with plain INSERTs of the same rows.
func BenchmarkAppend(b *testing.B) {
	pool := benchPool(b, 64)
	createPlainTable(b, pool)
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			compareWithPlainInsert(b, pool, writers, 1)
		})
	}
}

// BenchmarkAppendBatch appends 10 events per call at 16 writers.
func BenchmarkAppendBatch(b *testing.B) {
	pool := benchPool(b, 16)
	createPlainTable(b, pool)
	b.Run("events=10/writers=16", func(b *testing.B) {
		compareWithPlainInsert(b, pool, 16, 10)
	})
}

// BenchmarkReadAll reads a log of 1,000,000 events from the start, in pages of 1,000 and 5,000.
func BenchmarkReadAll(b *testing.B) {
	const total = 1_000_000
	pool := benchPool(b, 1)
	ctx := context.Background()
	// Seed 1,000 streams of 1,000 events in one statement; positions 1..total are below any
	// horizon. Not timed.
	start := time.Now()
	_, err := pool.Exec(ctx, `
INSERT INTO events (position, stream_id, version, id, type, data, metadata, recorded_at)
SELECT i, 'order-' || (i % 1000), (i - 1) / 1000 + 1, gen_random_uuid(), 'order.placed.v1', $1::jsonb, $2::jsonb, now()
FROM generate_series(1, $3::bigint) AS i`, string(benchData), string(benchMeta), total)
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE events`); err != nil {
		b.Fatalf("vacuum: %v", err)
	}
	b.Logf("seeded %d events in %s", total, time.Since(start).Round(time.Millisecond))
	s := New(pool)
	for _, page := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("events=1M/page=%d", page), func(b *testing.B) {
			// An op is one event read: the reader pages through the log from the start and starts
			// over at its end until it has read b.N events.
			var from eventstore.Position
			read := 0
			b.ResetTimer()
			for read < b.N {
				recs, err := s.ReadAll(ctx, from, min(page, b.N-read))
				if err != nil {
					b.Fatalf("ReadAll(%d): %v", from, err)
				}
				if len(recs) == 0 {
					if from == 0 {
						b.Fatal("ReadAll(0) returned nothing from a seeded log")
					}
					from = 0
					continue
				}
				read += len(recs)
				from = recs[len(recs)-1].Position
			}
			b.StopTimer()
			b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkSubscriptionLag measures, while 16 writers append b.N single events as fast as they can,
// the time from the start of each Append to the delivery of its event to a live subscription
// (p50-ms, p99-ms, max-ms: this includes the append's own durable commit), and from the moment the
// Append returned (p99-after-ack-ms: what the subscription adds; 0 when the event arrived first).
func BenchmarkSubscriptionLag(b *testing.B) {
	const writers = 16
	pool := benchPool(b, writers)
	b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := New(pool)
		from, err := s.Head(ctx)
		if err != nil {
			b.Fatalf("head: %v", err)
		}
		var started, acked sync.Map // event id -> time.Time
		type delivery struct {
			id uuid.UUID
			at time.Time
		}
		deliveries := make([]delivery, 0, b.N)
		delivered := make(chan struct{})
		subDone := make(chan error, 1)
		go func() {
			subDone <- s.SubscribeAll(ctx, from, func(_ context.Context, recs []eventstore.Record) error {
				now := time.Now()
				for _, r := range recs {
					deliveries = append(deliveries, delivery{r.ID, now})
				}
				if len(deliveries) == b.N {
					close(delivered)
				}
				return nil
			})
		}()
		b.ResetTimer()
		parallel(b, writers, b.N, func(int) error {
			e := benchEvent()
			started.Store(e.ID, time.Now())
			_, err := s.Append(ctx, uuid.NewString(), eventstore.NoStream, e)
			acked.Store(e.ID, time.Now())
			return err
		})
		select {
		case <-delivered:
		case err := <-subDone:
			b.Fatalf("subscription ended: %v", err)
		case <-time.After(time.Minute):
			b.Fatalf("%d of %d events delivered a minute after the last append", len(deliveries), b.N)
		}
		b.StopTimer()
		cancel()
		<-subDone
		lags := make([]time.Duration, len(deliveries))
		afterAck := make([]time.Duration, len(deliveries))
		for i, d := range deliveries {
			t0, ok := started.Load(d.id)
			t1, _ := acked.Load(d.id)
			if !ok {
				b.Fatalf("event %s delivered but never appended", d.id)
			}
			lags[i] = d.at.Sub(t0.(time.Time))
			afterAck[i] = max(0, d.at.Sub(t1.(time.Time)))
		}
		pct := func(ds []time.Duration, p float64) float64 {
			slices.Sort(ds)
			return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(lags, 0.50), "p50-ms")
		b.ReportMetric(pct(lags, 0.99), "p99-ms")
		b.ReportMetric(pct(lags, 1), "max-ms")
		b.ReportMetric(pct(afterAck, 0.99), "p99-after-ack-ms")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

package commands_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	pg "github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/relay"
	"github.com/commerce-dev/commerce/infra/snapshot"
)

// BenchmarkFulfilmentHotProduct places b.N one-line orders on one product from 64 workers, each
// waiting for its order's outcome, through the whole loop on durable commits: PlaceOrder, the
// relay, the in-process bus, the process manager's group commit, Outcomes. It reports settled
// orders per second, and the same number of `UPDATE ... SET stock = stock - 1` transactions on
// one row from 64 workers as the baseline, and where an order's time goes on average: place-ms
// (PlaceOrder), relay-ms (from then until the process manager starts on it), handle-ms (its
// handling), outcome-ms (from then until AwaitSettled returns). Run it with
//
//	go test -run '^$' -bench FulfilmentHotProduct -benchtime 5000x ./commands/
func BenchmarkFulfilmentHotProduct(b *testing.B) {
	const workers = 64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := pgtest.NewDurableDatabase(b)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	pool, err := pg.Connect(ctx, url+sep+"pool_max_conns=80")
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, nil); err != nil {
		b.Fatal(err)
	}
	store := postgres.New(pool)
	var batches, requests atomic.Int64
	cfg := commands.Config{Snapshots: snapshot.New(pool), Observer: batchCounter{batches: &batches, requests: &requests}}
	repos := commands.NewRepos(store, cfg)
	h := commands.NewHandlers(repos, cfg)
	bs := bus.New(bus.Config{})
	defer bs.Close()
	outcomes := commands.NewOutcomes(store, repos)
	var stamps sync.Map
	var relayNanos, handleNanos, outNanos atomic.Int64
	f := commands.NewFulfilment(repos, commands.FulfilmentConfig{Outcomes: outcomes})
	rl := relay.New(store, pool, bs.Publisher(), relay.Options{})
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{outcomes.Run, rl.Run, func(ctx context.Context) error {
		return bs.RunFulfilment(ctx, bus.HandlerFunc(func(ctx context.Context, rec eventstore.Record) error {
			t0 := time.Now()
			err := f.Handle(ctx, rec)
			if rec.Type == order.TypePlaced {
				id, _ := uuid.Parse(rec.Stream[len("order-"):])
				stamps.Store(id, [2]time.Time{t0, time.Now()})
			}
			return err
		}))
	}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	defer wg.Wait()
	defer cancel()

	super := commands.WithMeta(ctx, commands.Meta{Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}})
	c, _ := h.CreateCategory.Handle(super, commands.CreateCategory{Name: "c"})
	br, _ := h.CreateBrand.Handle(super, commands.CreateBrand{Name: "b"})
	it, err := h.CreateItem.Handle(super, commands.CreateItem{CategoryID: c.ID, BrandID: br.ID, Name: "i", Description: "d"})
	if err != nil {
		b.Fatal(err)
	}
	sctx := commands.WithMeta(ctx, commands.Meta{Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleSeller}})
	p, err := h.CreateProduct.Handle(sctx, commands.CreateProduct{ItemID: it.ID, Name: "hot", Price: 100, Stock: product.MaxStock})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.ChangeProductStatus.Handle(sctx, commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusSell}); err != nil {
		b.Fatal(err)
	}

	var next atomic.Int64
	var confirmed atomic.Int64
	var placeNanos, awaitNanos atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var ww sync.WaitGroup
	for range workers {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				uctx := commands.WithMeta(ctx, commands.Meta{Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleUser}})
				res, err := h.PlaceOrder.Handle(uctx, commands.PlaceOrder{
					Address: order.Address{Receiver: "r", Address1: "a"},
					Lines:   []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 1}},
				})
				if err != nil {
					b.Error(err)
					return
				}
				placeNanos.Add(int64(time.Since(t0)))
				t1 := time.Now()
				wctx, wcancel := context.WithTimeout(ctx, time.Minute)
				status, _, err := outcomes.AwaitSettled(wctx, res.ID, res.Position)
				wcancel()
				awaitNanos.Add(int64(time.Since(t1)))
				if v, ok := stamps.Load(res.ID); ok {
					st := v.([2]time.Time)
					relayNanos.Add(int64(st[0].Sub(t1)))
					handleNanos.Add(int64(st[1].Sub(st[0])))
					outNanos.Add(int64(time.Since(st[1])))
				}
				if err != nil {
					b.Error(err)
					return
				}
				if status == order.StatusOrder {
					confirmed.Add(1)
				}
			}
		}()
	}
	ww.Wait()
	elapsed := time.Since(start)

	b.StopTimer()
	if confirmed.Load() != int64(b.N) {
		b.Fatalf("%d of %d orders confirmed", confirmed.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
	b.ReportMetric(float64(placeNanos.Load())/float64(b.N)/1e6, "place-ms")
	b.ReportMetric(float64(awaitNanos.Load())/float64(b.N)/1e6, "settle-ms")
	b.ReportMetric(float64(relayNanos.Load())/float64(b.N)/1e6, "relay-ms")
	b.ReportMetric(float64(handleNanos.Load())/float64(b.N)/1e6, "handle-ms")
	b.ReportMetric(float64(outNanos.Load())/float64(b.N)/1e6, "outcome-ms")
	if n := batches.Load(); n > 0 {
		b.ReportMetric(float64(requests.Load())/float64(n), "requests/batch")
	}

	// The baseline: one UPDATE per order on one hot row.
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_stock (id int PRIMARY KEY, stock int NOT NULL); INSERT INTO bench_stock VALUES (1, 1000000000)`); err != nil {
		b.Fatal(err)
	}
	next.Store(0)
	start = time.Now()
	for range workers {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := pool.Exec(ctx, `UPDATE bench_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1`); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	ww.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "baseline-updates/s")

}

// batchCounter counts the batches of the product streams' writers and the commands in them.
type batchCounter struct {
	commands.NopObserver
	batches, requests *atomic.Int64
}

func (c batchCounter) Batch(stream string, n int) {
	if strings.HasPrefix(stream, product.StreamPrefix) {
		c.batches.Add(1)
		c.requests.Add(int64(n))
	}
}

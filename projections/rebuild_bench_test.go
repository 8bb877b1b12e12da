package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
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
	espg "github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// BenchmarkRebuild measures rebuilding the catalog and orders read models from a log of 1,000,000
// events of a shop's history, against reading the same log with ReadAll alone (batches of 5000),
// the runner's own cost (a rebuild of a projector that ignores every event: skipall), and catalog
// and orders rebuilt together from one read of the log (RebuildAll, as `--all` does).
// Run it with: go test -run '^$' -bench BenchmarkRebuild -benchtime 1x -timeout 30m ./projections/
// (REBUILD_BENCH_EVENTS=200000 for a quicker run).
func BenchmarkRebuild(b *testing.B) {
	events := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("REBUILD_BENCH_EVENTS")); err == nil && n > 0 {
		events = n // a quicker run while working on the runner
	}
	pool := pgtest.NewDurable(b)
	seedShop(b, pool, events)
	store := espg.New(pool)
	r, err := NewRunner(pool, store, []Projector{skipAll{}, NewCatalog(), NewOrders()},
		Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatalf("NewRunner: %v", err)
	}
	ctx := context.Background()
	for b.Loop() {
		began := time.Now()
		var read int
		var pos eventstore.Position
		for {
			recs, err := store.ReadAll(ctx, pos, 5000)
			if err != nil {
				b.Fatalf("ReadAll: %v", err)
			}
			if len(recs) == 0 {
				break
			}
			read += len(recs)
			pos = recs[len(recs)-1].Position
		}
		readRate := float64(read) / time.Since(began).Seconds()
		if read != events {
			b.Fatalf("ReadAll read %d events, want %d", read, events)
		}
		b.ReportMetric(readRate, "readall_events/s")
		b.Logf("ReadAll alone: %d events in %s: %.0f events/s", read, time.Since(began).Round(time.Millisecond), readRate)

		for _, name := range []string{"skipall.v1", "catalog.v1", "orders.v1"} {
			began := time.Now()
			var last Progress
			if err := r.Rebuild(ctx, name, func(p Progress) { last = p }); err != nil {
				b.Fatalf("Rebuild(%s): %v", name, err)
			}
			took := time.Since(began)
			rate := float64(last.Done) / took.Seconds()
			if last.Done != int64(events) || !last.Swapped {
				b.Fatalf("Rebuild(%s) replayed %d events (swapped %v), want %d", name, last.Done, last.Swapped, events)
			}
			base := BaseName(name)
			b.ReportMetric(rate, base+"_events/s")
			b.ReportMetric(rate/readRate, base+"/readall")
			b.Logf("Rebuild %s: %d events in %s: %.0f events/s, %.2f of the ReadAll rate", name, last.Done,
				took.Round(time.Millisecond), rate, rate/readRate)
		}

		// Both together, as `commerce projections rebuild --all` does: one read, two appliers.
		began = time.Now()
		var last Progress
		if err := r.RebuildAll(ctx, []string{"catalog.v1", "orders.v1"}, func(p Progress) { last = p }); err != nil {
			b.Fatalf("RebuildAll(catalog, orders): %v", err)
		}
		took := time.Since(began)
		if last.Done != int64(events) || !last.Swapped {
			b.Fatalf("RebuildAll replayed %d events (swapped %v), want %d", last.Done, last.Swapped, events)
		}
		rate := float64(last.Done) / took.Seconds()
		b.ReportMetric(rate, "catalog+orders_events/s")
		b.ReportMetric(rate/readRate, "catalog+orders/readall")
		b.Logf("RebuildAll catalog.v1,orders.v1: %d events into both in %s: %.0f events/s, %.2f of the ReadAll rate",
			last.Done, took.Round(time.Millisecond), rate, rate/readRate)
	}
	var products, orders, lines int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM readmodel.products), (SELECT count(*) FROM readmodel.orders),
	(SELECT count(*) FROM readmodel.order_lines WHERE delivery_status = 'COMPLETE')`).Scan(&products, &orders, &lines); err != nil {
		b.Fatalf("count read-model rows: %v", err)
	}
	b.Logf("read models: %d products, %d orders, %d delivered lines", products, orders, lines)
	if products == 0 || orders == 0 || lines == 0 {
		b.Fatalf("the rebuilt read models are empty")
	}
}

// seedShop bulk-inserts n events of a shop's history into the event store's table with COPY:
// categories, brands, items and products put on sale, then orders placed, reserved, confirmed,
// accepted, shipped and delivered, a third of them reviewed, and now and then a restock.
// Positions are 1..n, below any transaction id the server hands out, so the whole log is visible.
func seedShop(b testing.TB, pool *pgxpool.Pool, n int) {
	b.Helper()
	began := time.Now()
	g := newShop()
	copied, err := pool.CopyFrom(context.Background(), pgx.Identifier{"events"},
		[]string{"position", "stream_id", "version", "id", "type", "data", "recorded_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if g.pos >= n {
				return nil, nil
			}
			r := g.next()
			return []any{int64(r.Position), r.Stream, r.Version, r.ID, r.Type, r.Data, r.RecordedAt}, nil
		}))
	if err != nil {
		b.Fatalf("seed events: %v", err)
	}
	if _, err := pool.Exec(context.Background(), `VACUUM ANALYZE events`); err != nil {
		b.Fatalf("vacuum events: %v", err)
	}
	b.Logf("seeded %d events in %s", copied, time.Since(began).Round(time.Millisecond))
}

// BenchmarkPlan measures what a rebuild spends in the process on the catalog and orders
// projectors, without the database: planning batches of 20,000 events of seedShop's log (decoding
// and folding them) and, for the orders, folding each batch into rows and building its statements.
// Run it with: go test -run '^$' -bench BenchmarkPlan -benchmem ./projections/
func BenchmarkPlan(b *testing.B) {
	g := newShop()
	recs := make([]eventstore.Record, 200_000)
	for i := range recs {
		recs[i] = g.next()
	}
	const batch = 20_000
	for _, p := range []Planner{NewCatalog(), NewOrders()} {
		b.Run(p.(Projector).Name(), func(b *testing.B) {
			for b.Loop() {
				for i := 0; i < len(recs); i += batch {
					pl, err := p.Plan(recs[i:min(i+batch, len(recs))])
					if err != nil {
						b.Fatalf("Plan: %v", err)
					}
					if ob, ok := pl.(*ordersBatch); ok {
						ob.evolve()
						ob.statements()
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/event")
		})
	}
}

type shopRow struct {
	stream  string
	version int64
	typ     string
	data    []byte
	at      time.Time
}

type shopProduct struct {
	id, seller uuid.UUID
	name       string
	price      int64
	stock      int
}

// shop generates the seed's events.
type shop struct {
	rng      *rand.Rand
	versions map[string]int64
	at       time.Time
	pos      int
	queue    []shopRow
	products []shopProduct
	index    map[uuid.UUID]int // product id -> index in products
	users    []uuid.UUID
	orders   int
}

func newShop() *shop {
	g := &shop{rng: rand.New(rand.NewPCG(1, 2)), versions: map[string]int64{}, index: map[uuid.UUID]int{}, at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g.setup()
	return g
}

// next returns the next event of the shop's log, at position pos+1.
func (g *shop) next() eventstore.Record {
	for len(g.queue) == 0 {
		g.order()
	}
	row := g.queue[0]
	g.queue = g.queue[1:]
	g.pos++
	return eventstore.Record{Position: eventstore.Position(g.pos), Stream: row.stream, Version: row.version, ID: uuid.New(),
		Type: row.typ, Data: row.data, RecordedAt: row.at}
}

func (g *shop) emit(stream string, typ string, e any) {
	data, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("encode %s: %v", typ, err)) // plain structs always encode
	}
	g.versions[stream]++
	g.at = g.at.Add(time.Millisecond)
	g.queue = append(g.queue, shopRow{stream, g.versions[stream], typ, data, g.at})
}

func (g *shop) setup() {
	cats, brands, items := make([]uuid.UUID, 10), make([]uuid.UUID, 20), make([]catalog.ItemCreated, 500)
	for i := range cats {
		cats[i] = uuid.New()
		g.emit("category-"+cats[i].String(), catalog.TypeCategoryCreated, catalog.CategoryCreated{CategoryID: cats[i], Name: fmt.Sprintf("category %d", i), At: g.at})
	}
	for i := range brands {
		brands[i] = uuid.New()
		g.emit("brand-"+brands[i].String(), catalog.TypeBrandCreated, catalog.BrandCreated{BrandID: brands[i], Name: fmt.Sprintf("brand %d", i), At: g.at})
	}
	for i := range items {
		items[i] = catalog.ItemCreated{ItemID: uuid.New(), CategoryID: cats[i%len(cats)], BrandID: brands[i%len(brands)],
			Name: fmt.Sprintf("item %d", i), Description: "a thing people buy", At: g.at}
		g.emit("item-"+items[i].ItemID.String(), catalog.TypeItemCreated, items[i])
	}
	sellers := []uuid.UUID{uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()}
	for i := range 5000 {
		it := items[i%len(items)]
		p := shopProduct{id: uuid.New(), seller: sellers[i%len(sellers)], name: fmt.Sprintf("product %d", i),
			price: int64(1000 + g.rng.IntN(100000)), stock: 1_000_000}
		g.index[p.id] = len(g.products)
		g.products = append(g.products, p)
		stream := "product-" + p.id.String()
		g.emit(stream, product.TypeCreated, product.Created{ProductID: p.id, SellerID: p.seller, ItemID: it.ItemID,
			CategoryID: it.CategoryID, BrandID: it.BrandID, Name: p.name, Price: p.price, Stock: p.stock,
			Status: product.StatusRegistered, At: g.at})
		g.emit(stream, product.TypeStatusChanged, product.StatusChanged{ProductID: p.id, Status: product.StatusSell, At: g.at})
	}
	for range 2000 {
		g.users = append(g.users, uuid.New())
	}
}

// order appends one order's story.
func (g *shop) order() {
	g.orders++
	id, user := uuid.New(), g.users[g.rng.IntN(len(g.users))]
	stream := "order-" + id.String()
	n := 1 + g.rng.IntN(3)
	var lines []order.Line
	var total int64
	picked := map[int]bool{}
	for len(picked) < n {
		picked[g.rng.IntN(len(g.products))] = true
	}
	i := 0
	for k := range picked {
		p := g.products[k]
		l := order.Line{Number: i + 1, ProductID: p.id, SellerID: p.seller, ProductName: p.name, UnitPrice: p.price, Quantity: 1 + g.rng.IntN(3)}
		lines = append(lines, l)
		total += l.UnitPrice * int64(l.Quantity)
		i++
	}
	g.emit(stream, order.TypePlaced, order.Placed{OrderID: id, UserID: user, Lines: lines, Total: total, At: g.at,
		Address: order.Address{Receiver: "Receiver", Address1: "1 Main Street", Address2: "Flat 2", Zipcode: "12345",
			Phone: "010-1234-5678", ReceiveType: "DOOR", ReceiveMessage: "leave at the door"}})
	for _, l := range lines {
		p := g.product(l.ProductID)
		p.stock -= l.Quantity
		g.emit("product-"+p.id.String(), product.TypeStockReserved, product.StockReserved{ProductID: p.id, OrderID: id,
			Quantity: l.Quantity, Stock: p.stock, At: g.at})
	}
	g.emit(stream, order.TypeConfirmed, order.Confirmed{OrderID: id, UserID: user, At: g.at})
	for _, l := range lines {
		le := order.LineEvent{OrderID: id, UserID: user, Line: l.Number, ProductID: l.ProductID, SellerID: l.SellerID, Quantity: l.Quantity, At: g.at}
		g.emit(stream, order.TypeLineAccepted, order.LineAccepted{LineEvent: le})
		g.emit(stream, order.TypeLineShipped, order.LineShipped{LineEvent: le})
		g.emit(stream, order.TypeLineDelivered, order.LineDelivered{LineEvent: le})
		g.emit("product-"+l.ProductID.String(), product.TypeReservationCommitted, product.ReservationCommitted{ProductID: l.ProductID,
			OrderID: id, Quantity: l.Quantity, At: g.at})
	}
	if g.orders%3 == 0 {
		rid := uuid.New()
		g.emit("review-"+rid.String(), review.TypeWritten, review.Written{ReviewID: rid, OrderID: id, Line: 1,
			ProductID: lines[0].ProductID, UserID: user, Rating: 1 + g.rng.IntN(5), Content: "as described, would buy again", At: g.at})
	}
	if g.orders%50 == 0 {
		p := &g.products[g.rng.IntN(len(g.products))]
		p.stock += 100
		g.emit("product-"+p.id.String(), product.TypeRestocked, product.Restocked{ProductID: p.id, Quantity: 100, Stock: p.stock, At: g.at})
	}
}

func (g *shop) product(id uuid.UUID) *shopProduct {
	return &g.products[g.index[id]]
}

// skipAll is a projector that ignores every event: rebuilding it costs what the runner itself costs.
type skipAll struct{}

func (skipAll) Name() string     { return "skipall.v1" }
func (skipAll) Tables() []string { return []string{"skipall"} }
func (skipAll) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS skipall (n integer)`)
	return err
}
func (skipAll) Apply(context.Context, pgx.Tx, []eventstore.Record) error { return nil }

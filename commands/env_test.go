package commands_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/snapshot"
)

// env is a fresh database with the Postgres event store, snapshots, and every handler on it.
type env struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *postgres.Store
	snaps *snapshot.Store
	repos *commands.Repos
	h     *commands.Handlers
	obs   *countingObserver
	super domain.Actor
}

func newEnv(t *testing.T, cfg commands.Config) *env {
	t.Helper()
	pool := pgtest.New(t)
	e := &env{t: t, pool: pool, store: postgres.New(pool), snaps: snapshot.New(pool), obs: newCountingObserver()}
	if cfg.Snapshots == nil {
		cfg.Snapshots = e.snaps
	}
	if cfg.Observer == nil {
		cfg.Observer = e.obs
	}
	e.repos = commands.NewRepos(e.store, cfg)
	e.h = commands.NewHandlers(e.repos, cfg)
	e.super = domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}
	return e
}

// as returns a context whose Meta acts as actor with a fresh correlation id.
func as(actor domain.Actor) context.Context {
	return commands.WithMeta(context.Background(), commands.Meta{CorrelationID: uuid.New(), Actor: actor})
}

func seller() domain.Actor { return domain.Actor{ID: uuid.New(), Role: domain.RoleSeller} }
func user() domain.Actor   { return domain.Actor{ID: uuid.New(), Role: domain.RoleUser} }

// product returns product id as its stream has it, folded from every event.
func (e *env) product(id uuid.UUID) product.Product {
	e.t.Helper()
	return foldProduct(e.t, e.stream(product.StreamID(id)))
}

// foldProduct folds a product's stored events.
func foldProduct(t testing.TB, recs []eventstore.Record) product.Product {
	t.Helper()
	var events []product.Event
	for _, rec := range recs {
		ev, err := product.Decode(rec.Type, rec.Data)
		if err != nil {
			t.Fatalf("decode %s: %v", rec.Type, err)
		}
		events = append(events, ev)
	}
	return product.Fold(events...)
}

// count returns how many events the store holds.
func (e *env) count() int64 {
	e.t.Helper()
	var n int64
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil {
		e.t.Fatalf("count events: %v", err)
	}
	return n
}

// stream returns every record of stream, oldest first.
func (e *env) stream(stream string) []eventstore.Record {
	e.t.Helper()
	recs, err := e.store.ReadStream(context.Background(), stream, 1, 1_000_000)
	if err != nil {
		e.t.Fatalf("ReadStream(%s): %v", stream, err)
	}
	return recs
}

// item creates a category, a brand and an item, and returns the item.
func (e *env) item() catalog.Item {
	e.t.Helper()
	ctx := as(e.super)
	c, err := e.h.CreateCategory.Handle(ctx, commands.CreateCategory{Name: "Shoes"})
	if err != nil {
		e.t.Fatalf("CreateCategory: %v", err)
	}
	b, err := e.h.CreateBrand.Handle(ctx, commands.CreateBrand{Name: "Acme"})
	if err != nil {
		e.t.Fatalf("CreateBrand: %v", err)
	}
	i, err := e.h.CreateItem.Handle(ctx, commands.CreateItem{CategoryID: c.ID, BrandID: b.ID, Name: "Runner", Description: "a shoe"})
	if err != nil {
		e.t.Fatalf("CreateItem: %v", err)
	}
	return i.State
}

// onSale creates a product of seller s with stock and price, on sale.
func (e *env) onSale(s domain.Actor, item catalog.Item, name string, price int64, stock int) product.Product {
	e.t.Helper()
	p, err := e.h.CreateProduct.Handle(as(s), commands.CreateProduct{ItemID: item.ID, Name: name, Price: price, Stock: stock})
	if err != nil {
		e.t.Fatalf("CreateProduct: %v", err)
	}
	r, err := e.h.ChangeProductStatus.Handle(as(s), commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusSell})
	if err != nil {
		e.t.Fatalf("ChangeProductStatus SELL: %v", err)
	}
	return r.State
}

// confirm confirms an order as the process manager would.
func (e *env) confirm(orderID uuid.UUID) {
	e.t.Helper()
	system := commands.Meta{CorrelationID: uuid.New(), Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}}
	_, err := e.repos.Orders.Update(context.Background(), orderID, system, func(o order.Order) ([]order.Event, error) {
		return o.Confirm(time.Now().UTC())
	})
	if err != nil {
		e.t.Fatalf("confirm order %s: %v", orderID, err)
	}
}

// countingObserver counts what the command side reports.
type countingObserver struct {
	mu        sync.Mutex
	commands  map[string]int
	failed    map[string]int
	conflicts int
	retries   int
	snapErrs  []error
	stale     int
	failedIf  map[string]int // failed conditions by the appended stream's aggregate type
}

func newCountingObserver() *countingObserver {
	return &countingObserver{commands: map[string]int{}, failed: map[string]int{}, failedIf: map[string]int{}}
}

func (o *countingObserver) Command(name string, err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.commands[name]++
	if err != nil {
		o.failed[name]++
	}
}

func (o *countingObserver) Conflict(string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.conflicts++
}

func (o *countingObserver) Retry(string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries++
}

func (o *countingObserver) SnapshotFailed(_ string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.snapErrs = append(o.snapErrs, err)
}

// snapshotFailures returns the snapshot failures seen so far.
func (o *countingObserver) snapshotFailures() []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.snapErrs)
}

func (o *countingObserver) StaleCache(string, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stale++
}

func (o *countingObserver) ConditionFailed(stream string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failedIf[domain.AggregateType(stream)]++
}

// conditionsFailed returns the failed conditions counted on streams of aggregate type agg.
func (o *countingObserver) conditionsFailed(agg string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failedIf[agg]
}

func (o *countingObserver) counts() (conflicts, retries int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.conflicts, o.retries
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/logtail"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/relay"
	"github.com/commerce-dev/commerce/infra/snapshot"
	"github.com/commerce-dev/commerce/projections"
	"github.com/commerce-dev/commerce/readmodels"
)

// EventSourcedConfig tunes the event-sourced path the way the server is tuned.
type EventSourcedConfig struct {
	// SnapshotEvery is the product snapshot interval (SNAPSHOT_EVERY); 0 means the commands
	// package's default.
	SnapshotEvery int64
	// Logger receives the workers' logs.
	Logger *slog.Logger
}

// EventSourced is the system itself, wired in one process as `make run` runs it: the Postgres
// event store; the command handlers on repositories with snapshots and caches; the relay that
// publishes the log to the in-process bus; the order-fulfilment process manager that consumes it
// and settles each order; and, once the mixed scenario starts them, the projections that keep the
// read models the queries read. Place goes through the PlaceOrder handler, which settles an order
// in the append that places it when it can (SettleWith, as serve runs one process), and waits for
// the outcome.
type EventSourced struct {
	pool     *pgxpool.Pool
	store    *postgres.Store
	handlers *commands.Handlers
	obs      *countingObserver
	bus      *bus.Bus
	relay    *relay.Relay
	tail     *logtail.Tail
	reader   *readmodels.Reader
	log      *slog.Logger
	settle   func(ctx context.Context, orderID uuid.UUID, placed eventstore.Position) (accepted bool, err error)

	seller domain.Actor
	itemID uuid.UUID
	names  atomic.Int64

	workerCtx context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	errMu     sync.Mutex
	err       error // the first worker that stopped with an error

	projMu sync.Mutex
	runner *projections.Runner
}

var (
	_ Path       = (*EventSourced)(nil)
	_ Projecting = (*EventSourced)(nil)
	_ Ledgered   = (*EventSourced)(nil)
)

// settleTimeout bounds the wait for one order's outcome; an order not settled by then is an error.
const settleTimeout = time.Minute

// NewEventSourced wires the system on pool (a migrated database) and starts its workers: the
// outcome waiter, the relay and the fulfilment. It creates the category, brand and item the bench
// products are made from. Close stops the workers.
func NewEventSourced(ctx context.Context, pool *pgxpool.Pool, cfg EventSourcedConfig) (*EventSourced, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	store := postgres.New(pool)
	obs := &countingObserver{}
	ccfg := commands.Config{Snapshots: snapshot.New(pool), SnapshotEvery: cfg.SnapshotEvery, Observer: obs}
	repos := commands.NewRepos(store, ccfg)
	b := bus.New(bus.Config{Logger: log})
	tail := logtail.New(store, logtail.Options{}) // one tail of the log for every follower, as serve runs
	outcomes := commands.NewOutcomes(store, repos, commands.OutcomesConfig{Log: tail, Logger: log})
	fulfilment := commands.NewFulfilment(repos, commands.FulfilmentConfig{Outcomes: outcomes})
	rl := relay.New(store, pool, b.Publisher(), relay.Options{Logger: log, Log: tail})
	handlers := commands.NewHandlers(repos, ccfg)
	handlers.PlaceOrder.SettleWith(fulfilment)

	wctx, cancel := context.WithCancel(context.Background())
	e := &EventSourced{
		pool: pool, store: store, handlers: handlers, obs: obs, bus: b,
		reader: readmodels.New(pool), log: log, workerCtx: wctx, cancel: cancel, relay: rl, tail: tail,
	}
	e.settle = func(ctx context.Context, orderID uuid.UUID, placed eventstore.Position) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, settleTimeout)
		defer cancel()
		status, _, err := outcomes.AwaitSettled(ctx, orderID, placed)
		if err != nil {
			return false, err
		}
		return status == order.StatusOrder, nil
	}
	e.goWorker(wctx, "outcomes", outcomes.Run)
	e.goWorker(wctx, "relay", rl.Run)
	e.goWorker(wctx, "fulfilment", func(ctx context.Context) error { return b.RunFulfilment(ctx, fulfilment) })
	if err := e.setupCatalog(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// benchAddress is the delivery address of every bench order.
var benchAddress = order.Address{Receiver: "Bench", Address1: "1 Bench Street", Zipcode: "00000", Phone: "000"}

// countingObserver counts the command side's conflicts and retries for the report.
type countingObserver struct {
	conflicts, retries, snapshotFailures atomic.Int64
}

func (o *countingObserver) Command(string, error, time.Duration) {}
func (o *countingObserver) Conflict(string)                      { o.conflicts.Add(1) }
func (o *countingObserver) Retry(string, int)                    { o.retries.Add(1) }
func (o *countingObserver) SnapshotFailed(string, error)         { o.snapshotFailures.Add(1) }
func (o *countingObserver) StaleCache(string, int64)             {}

// Counters returns the conflicts and retries of every command and of the fulfilment.
func (e *EventSourced) Counters() Counters {
	return Counters{Conflicts: e.obs.conflicts.Load(), Retries: e.obs.retries.Load()}
}

// Log returns the process's one tail of the log, which the relay and the outcome waiter follow, so
// that another follower measured beside the path (a server's live streams) joins it as it does in
// serve instead of reading the log on its own.
func (e *EventSourced) Log() *logtail.Tail { return e.tail }

// Name returns "event-sourced".
func (e *EventSourced) Name() string { return PathEventSourced }

// Close stops the relay, the fulfilment and the projections and waits for them.
func (e *EventSourced) Close() {
	e.cancel()
	e.wg.Wait()
	e.projMu.Lock()
	if e.runner != nil {
		e.runner.Close()
	}
	e.projMu.Unlock()
	_ = e.bus.Close()
}

// goWorker runs f until the path closes; an error it returns is kept for Err.
func (e *EventSourced) goWorker(ctx context.Context, name string, f func(context.Context) error) {
	e.wg.Go(func() {
		if err := f(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("bench worker stopped", "worker", name, "err", err)
			e.errMu.Lock()
			if e.err == nil {
				e.err = fmt.Errorf("%s: %w", name, err)
			}
			e.errMu.Unlock()
		}
	})
}

// Err returns the error of the first background worker that stopped, if any.
func (e *EventSourced) Err() error {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.err
}

// setupCatalog creates the category, brand and item every bench product is made from, so that the
// catalog read model shows complete products.
func (e *EventSourced) setupCatalog(ctx context.Context) error {
	super := commands.WithMeta(ctx, commands.Meta{Actor: domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}})
	cat, err := e.handlers.CreateCategory.Handle(super, commands.CreateCategory{Name: "Bench category"})
	if err != nil {
		return fmt.Errorf("create bench category: %w", err)
	}
	brand, err := e.handlers.CreateBrand.Handle(super, commands.CreateBrand{Name: "Bench brand"})
	if err != nil {
		return fmt.Errorf("create bench brand: %w", err)
	}
	item, err := e.handlers.CreateItem.Handle(super, commands.CreateItem{
		CategoryID: cat.ID, BrandID: brand.ID, Name: "Bench item", Description: "What the bench sells."})
	if err != nil {
		return fmt.Errorf("create bench item: %w", err)
	}
	e.itemID = item.ID
	e.seller = domain.Actor{ID: uuid.New(), Role: domain.RoleSeller}
	return nil
}

// AddProducts creates each product through the CreateProduct handler and puts it on sale through
// ChangeProductStatus, as a seller would.
func (e *EventSourced) AddProducts(ctx context.Context, stocks []int) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, len(stocks))
	ctx = commands.WithMeta(ctx, commands.Meta{Actor: e.seller})
	err := parallel(ctx, len(stocks), 48, func(ctx context.Context, i int) error {
		n := e.names.Add(1)
		p, err := e.handlers.CreateProduct.Handle(ctx, commands.CreateProduct{
			ItemID: e.itemID, Name: fmt.Sprintf("Product %07d", n), Price: 1000 + n%9000, Stock: stocks[i]})
		if err != nil {
			return fmt.Errorf("create product %d: %w", i, err)
		}
		if _, err := e.handlers.ChangeProductStatus.Handle(ctx, commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusSell}); err != nil {
			return fmt.Errorf("put product %s on sale: %w", p.ID, err)
		}
		ids[i] = p.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// notOnSale matches PlaceOrder's synchronous refusal of an order whose product is not on sale (it
// sold out by itself).
var notOnSale = &domain.Error{Kind: domain.Invalid, Code: commands.CodeProductNotOnSale}

// Place places o through the PlaceOrder handler as its user and waits for the fulfilment's outcome.
// A synchronous refusal because a product is not on sale is a rejection.
func (e *EventSourced) Place(ctx context.Context, o Order) (bool, error) {
	lines := make([]commands.PlaceOrderLine, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = commands.PlaceOrderLine{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	uctx := commands.WithMeta(ctx, commands.Meta{Actor: domain.Actor{ID: o.UserID, Role: domain.RoleUser}})
	res, err := e.handlers.PlaceOrder.Handle(uctx, commands.PlaceOrder{OrderID: o.ID, Address: benchAddress, Lines: lines})
	if errors.Is(err, notOnSale) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("place order %s: %w", o.ID, err)
	}
	return e.settle(ctx, o.ID, res.Position)
}

// drainTimeout bounds Drain.
const drainTimeout = 2 * time.Minute

// Drain notes the head of the log and waits until the relay has published up to it. The in-process
// bus returns a publish once the fulfilment has handled the message, so by then every order.placed
// before the head is handled to its end, including the releases of rejected orders.
func (e *EventSourced) Drain(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	head, err := e.store.Head(ctx)
	if err != nil {
		return fmt.Errorf("read the log head: %w", err)
	}
	for e.relay.Status().Checkpoint < head {
		if err := e.Err(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("relay at %d, head at %d: %w", e.relay.Status().Checkpoint, head, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// stockPage is how many events Stocks reads at a time; the adapter allocates room for a whole
// page per read, and most bench products have a handful of events.
const stockPage = 256

// Stocks folds each product's stream from its first event, without the command side's caches
// or snapshots, so that the check does not trust what it checks.
func (e *EventSourced) Stocks(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error) {
	stocks := make([]int, len(ids))
	err := parallel(ctx, len(ids), 32, func(ctx context.Context, i int) error {
		var p product.Product
		err := e.history(ctx, ids[i], func(events []product.Event) { p = product.FoldFrom(p, events...) })
		stocks[i] = p.Stock
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]int, len(ids))
	for i, id := range ids {
		out[id] = stocks[i]
	}
	return out, nil
}

// history reads product id's stream from its first event, a page of events at a time, and hands
// each page to see.
func (e *EventSourced) history(ctx context.Context, id uuid.UUID, see func([]product.Event)) error {
	stream := product.StreamID(id)
	for from := int64(1); ; {
		recs, err := e.store.ReadStream(ctx, stream, from, stockPage)
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		events := make([]product.Event, len(recs))
		for j, rec := range recs {
			if events[j], err = product.Decode(rec.Type, rec.Data); err != nil {
				return fmt.Errorf("read %s at version %d: %w", stream, rec.Version, err)
			}
		}
		see(events)
		if len(recs) < stockPage {
			return nil
		}
		from = recs[len(recs)-1].Version + 1
	}
}

// Ledger adds up product id's stream from its first event: its initial stock, its restocks, its
// reservations less its releases, and the stock its last event left.
func (e *EventSourced) Ledger(ctx context.Context, id uuid.UUID) (Ledger, error) {
	var l Ledger
	err := e.history(ctx, id, func(events []product.Event) {
		for _, ev := range events {
			switch ev := ev.(type) {
			case product.Created:
				l.Initial, l.Final = ev.Stock, ev.Stock
			case product.Restocked:
				l.Restocks++
				l.Restocked += ev.Quantity
				l.Final = ev.Stock
			case product.StockReserved:
				l.Reserved += ev.Quantity
				l.Final = ev.Stock
			case product.StockReleased:
				l.Reserved -= ev.Quantity
				l.Final = ev.Stock
			}
		}
	})
	return l, err
}

// Restock restocks the product through the RestockProduct handler as its seller, as POST
// /products/{id}/stock does. A version conflict or a domain conflict (the kinds the API answered
// 409) matches ErrConflict.
func (e *EventSourced) Restock(ctx context.Context, id uuid.UUID, qty int) error {
	ctx = commands.WithMeta(ctx, commands.Meta{Actor: e.seller})
	_, err := e.handlers.RestockProduct.Handle(ctx, commands.RestockProduct{ProductID: id, Quantity: qty})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, eventstore.ErrWrongVersion) || errors.Is(err, domain.ErrConflict):
		return fmt.Errorf("restock %s: %w: %w", id, ErrConflict, err)
	default:
		return fmt.Errorf("restock %s: %w", id, err)
	}
}

// StartProjections starts the projection runner with every read model's projector, once, and
// waits until each has caught up with the log.
func (e *EventSourced) StartProjections(ctx context.Context) error {
	e.projMu.Lock()
	defer e.projMu.Unlock()
	if e.runner == nil {
		r, err := projections.NewRunner(e.pool, e.store,
			[]projections.Projector{projections.NewCatalog(), projections.NewOrders(), projections.NewReviews()},
			projections.Options{Logger: e.log, Log: e.tail})
		if err != nil {
			return err
		}
		e.runner = r
		e.goWorker(e.workerCtx, "projections", r.Run)
	}
	start := time.Now()
	if _, err := e.ProjectionLag(ctx); err != nil {
		return err
	}
	e.log.Info("projections caught up", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// ProjectionLag notes the head of the log and returns how long it takes until every projector's
// checkpoint (as this process's runner knows it, without a query) reaches it.
func (e *EventSourced) ProjectionLag(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	head, err := e.store.Head(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the log head: %w", err)
	}
	for {
		behind := false
		for _, in := range e.runner.Status() {
			if in.Position < head {
				behind = true
			}
		}
		if !behind {
			return time.Since(t0), nil
		}
		if err := e.Err(); err != nil {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// QueryCatalog reads a random one of the first pages of the public catalog, newest first, with
// its total, as GET /products does.
func (e *EventSourced) QueryCatalog(ctx context.Context, rng *rand.Rand) error {
	_, err := e.reader.ListCatalog(ctx, readmodels.CatalogFilter{Page: readmodels.Page{Number: rng.IntN(catalogPages), Size: catalogPageSize}})
	return err
}

// QueryUserOrders reads the user's latest orders with their lines, as GET /orders does.
func (e *EventSourced) QueryUserOrders(ctx context.Context, user uuid.UUID) error {
	_, err := e.reader.ListUserOrders(ctx, user, readmodels.OrderFilter{Page: readmodels.Page{Size: catalogPageSize}})
	return err
}

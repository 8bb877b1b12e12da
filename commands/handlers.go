package commands

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Config configures the repositories and handlers. The zero Config works: no snapshots, default
// cache sizes, the wall clock and no observer.
type Config struct {
	// Snapshots stores product snapshots; nil disables them.
	Snapshots SnapshotStore
	// SnapshotEvery is how many events a product stream grows between snapshots: 0 means
	// DefaultSnapshotEvery.
	SnapshotEvery int64
	// CacheSize is how many streams of each aggregate kind keep their state in memory: 0 means
	// DefaultCacheSize, negative disables the caches.
	CacheSize int
	// MaxBatch bounds the commands one append of a stream's writer carries: 0 means
	// DefaultMaxBatch.
	MaxBatch int
	// Observer counts commands, conflicts and retries; nil means NopObserver.
	Observer Observer
	// Now is the clock decisions are stamped with; nil means time.Now in UTC.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultSnapshotEvery = 100
	DefaultCacheSize     = 10_000
)

// ProductSnapshotSchema is the version of product.Product's JSON shape in snapshots. Bump it when
// the shape changes: older snapshots are then ignored and rebuilt from the stream.
const ProductSnapshotSchema = 1

// Repos are the repositories of every aggregate kind. Share one Repos between the handlers and the
// order-fulfilment process manager so that they share the caches.
type Repos struct {
	// Categories, Brands and Items are the catalog's streams.
	Categories *Repo[catalog.Category, catalog.Event]
	Brands     *Repo[catalog.Brand, catalog.Event]
	Items      *Repo[catalog.Item, catalog.Event]
	// Products are the inventory streams, snapshotted every Config.SnapshotEvery events.
	Products *Repo[product.Product, product.Event]
	// Orders are the order streams.
	Orders *Repo[order.Order, order.Event]
	// Reviews are the review streams, one per order line (ReviewID).
	Reviews *Repo[review.Review, review.Event]
}

// NewRepos returns the repositories of every aggregate on store. Products get snapshots (their
// streams grow with every order); the others are short streams and only get the cache.
func NewRepos(store eventstore.Store, cfg Config) *Repos {
	cache := cfg.CacheSize
	switch {
	case cache == 0:
		cache = DefaultCacheSize
	case cache < 0:
		cache = 0
	}
	every := cfg.SnapshotEvery
	if every == 0 {
		every = DefaultSnapshotEvery
	}
	opts := Options{CacheSize: cache, MaxBatch: cfg.MaxBatch, Observer: cfg.Observer}
	productOpts := opts
	productOpts.Snapshots, productOpts.SnapshotEvery, productOpts.SnapshotSchema = cfg.Snapshots, every, ProductSnapshotSchema
	return &Repos{
		Categories: NewRepo(store, Aggregate[catalog.Category, catalog.Event]{
			StreamID: catalog.CategoryStreamID, Evolve: catalog.EvolveCategory, Decode: catalog.Decode}, opts),
		Brands: NewRepo(store, Aggregate[catalog.Brand, catalog.Event]{
			StreamID: catalog.BrandStreamID, Evolve: catalog.EvolveBrand, Decode: catalog.Decode}, opts),
		Items: NewRepo(store, Aggregate[catalog.Item, catalog.Event]{
			StreamID: catalog.ItemStreamID, Evolve: catalog.EvolveItem, Decode: catalog.Decode}, opts),
		Products: NewRepo(store, Aggregate[product.Product, product.Event]{
			StreamID: product.StreamID, Evolve: product.Evolve, Own: product.Own, Apply: product.Apply, Decode: product.Decode,
			SnapshotCost: productSnapshotCost}, productOpts),
		Orders: NewRepo(store, Aggregate[order.Order, order.Event]{
			StreamID: order.StreamID, Evolve: order.Evolve, Decode: order.Decode}, opts),
		Reviews: NewRepo(store, Aggregate[review.Review, review.Event]{
			StreamID: review.StreamID, Evolve: review.Evolve, Decode: review.Decode}, opts),
	}
}

// productSnapshotCost is what a product snapshot costs in events: its open reservations, eight to
// an event (an entry is about 60 bytes of JSON, an order's reservation event about 400 to read
// and decode). A product with 80,000 orders not yet delivered is snapshotted every 10,000
// events, not every 100 with all 80,000 entries each time.
func productSnapshotCost(p product.Product) int64 { return int64(len(p.Reservations) / 8) }

// Result is what a command wrote: the aggregate it created or changed, its state afterwards, and
// where the last event landed (the X-Event-Position of the response). A command that changed
// nothing returns the aggregate's current version and the position of its last event.
type Result[S any] struct {
	// ID is the aggregate's id (new for the Create commands).
	ID uuid.UUID
	// State is the aggregate's state after the command.
	State S
	// Version is the stream's version after the command.
	Version int64
	// Position is the global position of the stream's last event.
	Position eventstore.Position
}

func result[S any](id uuid.UUID, st State[S]) Result[S] {
	return Result[S]{ID: id, State: st.Value, Version: st.Version, Position: st.Position}
}

// ErrNoActor is returned by a handler called with a context that carries no Meta (see WithMeta)
// or a Meta without an actor: a wiring mistake, not a business refusal.
var ErrNoActor = errors.New("command context carries no actor")

// CodeExists is the code of the conflict when a Create command names an id that is taken.
const CodeExists = "ALREADY_EXISTS"

// Handlers are the command handlers behind the API's write routes. Each takes its Meta (and so its
// actor) from the context: call them with commands.WithMeta(ctx, meta).
type Handlers struct {
	CreateCategory      *CreateCategoryHandler
	RenameCategory      *RenameCategoryHandler
	CreateBrand         *CreateBrandHandler
	RenameBrand         *RenameBrandHandler
	CreateItem          *CreateItemHandler
	EditItem            *EditItemHandler
	CreateProduct       *CreateProductHandler
	EditProduct         *EditProductHandler
	ChangeProductStatus *ChangeProductStatusHandler
	RestockProduct      *RestockProductHandler
	PlaceOrder          *PlaceOrderHandler
	AcceptLine          *AcceptLineHandler
	RejectLine          *RejectLineHandler
	ShipLine            *ShipLineHandler
	DeliverLine         *DeliverLineHandler
	RequestCancel       *RequestCancelHandler
	ConfirmCancel       *ConfirmCancelHandler
	WriteReview         *WriteReviewHandler
	EditReview          *EditReviewHandler
	DeleteReview        *DeleteReviewHandler

	orders *Repo[order.Order, order.Event]
}

// Order returns an order as its stream has it now, for an answer that must show what was just
// written to it, by this process or the process manager (POST /orders?wait once it settled). An
// unknown order is NotFound.
func (h *Handlers) Order(ctx context.Context, id uuid.UUID) (Result[order.Order], error) {
	st, err := h.orders.Load(ctx, id)
	if err != nil {
		return Result[order.Order]{}, err
	}
	if !st.Value.Exists() {
		return Result[order.Order]{}, domain.NotFoundf(order.CodeNotFound, "order %s not found", id)
	}
	return result(id, st), nil
}

// NewHandlers returns every handler on repos.
func NewHandlers(repos *Repos, cfg Config) *Handlers {
	b := newBase(repos, cfg)
	return &Handlers{
		CreateCategory:      &CreateCategoryHandler{b},
		RenameCategory:      &RenameCategoryHandler{b},
		CreateBrand:         &CreateBrandHandler{b},
		RenameBrand:         &RenameBrandHandler{b},
		CreateItem:          &CreateItemHandler{b},
		EditItem:            &EditItemHandler{b},
		CreateProduct:       &CreateProductHandler{b},
		EditProduct:         &EditProductHandler{b},
		ChangeProductStatus: &ChangeProductStatusHandler{b},
		RestockProduct:      &RestockProductHandler{b},
		PlaceOrder:          &PlaceOrderHandler{base: b},
		AcceptLine:          &AcceptLineHandler{b},
		RejectLine:          &RejectLineHandler{b},
		ShipLine:            &ShipLineHandler{b},
		DeliverLine:         &DeliverLineHandler{b},
		RequestCancel:       &RequestCancelHandler{b},
		ConfirmCancel:       &ConfirmCancelHandler{b},
		WriteReview:         &WriteReviewHandler{b},
		EditReview:          &EditReviewHandler{b},
		DeleteReview:        &DeleteReviewHandler{b},
		orders:              repos.Orders,
	}
}

// base is what every handler shares.
type base struct {
	repos *Repos
	now   func() time.Time
	obs   Observer
}

func newBase(repos *Repos, cfg Config) base {
	b := base{repos: repos, now: cfg.Now, obs: cfg.Observer}
	if b.now == nil {
		b.now = func() time.Time { return time.Now().UTC() }
	}
	if b.obs == nil {
		b.obs = NopObserver{}
	}
	return b
}

// start returns the command's Meta and the time to stamp its events with.
func (b base) start(ctx context.Context) (Meta, time.Time, error) {
	m, ok := MetaFrom(ctx)
	if !ok || m.Actor.ID == uuid.Nil || m.Actor.Role == "" {
		return Meta{}, time.Time{}, ErrNoActor
	}
	return m, b.now(), nil
}

// newID returns the caller's id if set, else one derived from the command's CommandID (so that a
// command re-run under the same Idempotency-Key creates the same aggregate), else a new one.
func newID(given uuid.UUID, m Meta, kind string) uuid.UUID {
	switch {
	case given != uuid.Nil:
		return given
	case m.CommandID != uuid.Nil:
		return uuid.NewSHA1(m.CommandID, []byte(kind))
	}
	return newV7()
}

// exists is the conflict of a Create command whose id is taken.
func exists(kind string, id uuid.UUID) error {
	return domain.Conflictf(CodeExists, "%s %s already exists", kind, id)
}

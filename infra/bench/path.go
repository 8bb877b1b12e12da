package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
)

// Line is one product and quantity of an order.
type Line struct {
	ProductID uuid.UUID
	Quantity  int
}

// Order is what a worker places: lines of distinct products for a user.
type Order struct {
	ID     uuid.UUID
	UserID uuid.UUID
	Lines  []Line
}

// Counters are the conflicts and retries a path has counted since it started.
type Counters struct {
	Conflicts int64
	Retries   int64
}

// Path is one way of taking orders that the bench measures. Many workers use a Path at once.
type Path interface {
	// Name is the path's name in the report.
	Name() string
	// AddProducts creates one on-sale product per stock value and returns their ids in the same
	// order.
	AddProducts(ctx context.Context, stocks []int) ([]uuid.UUID, error)
	// Place places o and returns once it is settled: accepted true when it got its stock, false
	// when it was rejected for lack of stock or because a product was not on sale. An error means
	// the outcome is unknown.
	Place(ctx context.Context, o Order) (accepted bool, err error)
	// Drain returns once the work the path does after an order is settled is done, so that Stocks
	// reads final stock: the event-sourced fulfilment appends order.rejected first and releases
	// the stock that order had reserved afterwards.
	Drain(ctx context.Context) error
	// Stocks returns the current stock of each product in ids.
	Stocks(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error)
	// Restock adds qty to product id's stock as its seller would, and returns once it is written.
	// A refusal because other writes came first (a version conflict, a serialization failure:
	// what the API would answer 409) matches ErrConflict.
	Restock(ctx context.Context, id uuid.UUID, qty int) error
	// Counters returns the conflicts and retries counted so far.
	Counters() Counters
	// QueryCatalog runs one catalog query, as a shopper browsing the products would.
	QueryCatalog(ctx context.Context, rng *rand.Rand) error
	// QueryUserOrders lists one user's orders, newest first, as the user's order page would.
	QueryUserOrders(ctx context.Context, user uuid.UUID) error
}

// ErrConflict is matched by a Restock refused because of other writes to the product.
var ErrConflict = errors.New("refused: changed at the same time")

// Ledgered is a Path whose products keep their history. When the hot scenario restocks, the run
// also checks the product's history (VerifyRestocks).
type Ledgered interface {
	// Ledger returns product id's stock history as its stream tells it.
	Ledger(ctx context.Context, id uuid.UUID) (Ledger, error)
}

// Projecting is a Path whose queries read projected read models. The mixed scenario calls
// StartProjections before it runs and samples ProjectionLag while it runs.
type Projecting interface {
	// StartProjections starts the read models' projections if they are not running and returns
	// once they have caught up with the log.
	StartProjections(ctx context.Context) error
	// ProjectionLag notes the head of the log and returns how long it took until every read model
	// had applied it.
	ProjectionLag(ctx context.Context) (time.Duration, error)
}

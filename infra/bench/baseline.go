package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// baselineSchema holds the baseline's two tables in the bench database. The bench database is
// dropped after the run, so the tables need no migration.
const baselineSchema = `
CREATE SCHEMA IF NOT EXISTS baseline;
CREATE TABLE IF NOT EXISTS baseline.products (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL,
    price      bigint      NOT NULL,
    stock      integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS products_newest ON baseline.products (created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS baseline.orders (
    id        uuid        PRIMARY KEY,
    user_id   uuid        NOT NULL,
    status    text        NOT NULL,
    total     bigint      NOT NULL,
    lines     jsonb       NOT NULL,
    placed_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_user ON baseline.orders (user_id, placed_at DESC, id);
`

// baselineAttempts bounds the attempts of one order whose transaction was chosen as a deadlock
// victim or failed to serialize.
const baselineAttempts = 10

// Baseline is what users would otherwise build: one Postgres transaction per order that takes
// each line's stock with `UPDATE products SET stock = stock - $q WHERE id = $1 AND stock >= $q`,
// rolls back when a line finds no row, and inserts the order. Lines are updated in product id
// order, as the event-sourced fulfilment reserves them, so that two orders never deadlock.
type Baseline struct {
	pool    *pgxpool.Pool
	retries atomic.Int64
	names   atomic.Int64
}

var _ Path = (*Baseline)(nil)

// NewBaseline creates the baseline's tables (schema baseline) in the database behind pool.
func NewBaseline(ctx context.Context, pool *pgxpool.Pool) (*Baseline, error) {
	if _, err := pool.Exec(ctx, baselineSchema); err != nil {
		return nil, fmt.Errorf("create baseline tables: %w", err)
	}
	return &Baseline{pool: pool}, nil
}

// Name returns "baseline".
func (b *Baseline) Name() string { return PathBaseline }

// AddProducts inserts one product per stock value.
func (b *Baseline) AddProducts(ctx context.Context, stocks []int) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, len(stocks))
	rows := make([][]any, len(stocks))
	for i, s := range stocks {
		ids[i] = uuid.New()
		rows[i] = []any{ids[i], fmt.Sprintf("Product %07d", b.names.Add(1)), int64(1000 + i%9000), s}
	}
	_, err := b.pool.CopyFrom(ctx, pgx.Identifier{"baseline", "products"}, []string{"id", "name", "price", "stock"}, pgx.CopyFromRows(rows))
	if err != nil {
		return nil, fmt.Errorf("insert %d baseline products: %w", len(stocks), err)
	}
	return ids, nil
}

// orderLine is a line of a baseline order as its row keeps it.
type orderLine struct {
	ProductID   uuid.UUID `json:"product_id"`
	ProductName string    `json:"product_name"`
	UnitPrice   int64     `json:"unit_price"`
	Quantity    int       `json:"quantity"`
}

// Place runs the order's transaction, again when Postgres aborted it for a deadlock or a
// serialization failure (neither happens with lines in id order; the retry is there so that a
// plain implementation is also a correct one).
func (b *Baseline) Place(ctx context.Context, o Order) (bool, error) {
	lines := slices.Clone(o.Lines)
	slices.SortFunc(lines, func(x, y Line) int { return strings.Compare(x.ProductID.String(), y.ProductID.String()) })
	for attempt := 1; ; attempt++ {
		ok, err := b.place(ctx, o, lines)
		var pgErr *pgconn.PgError
		if err != nil && errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001") && attempt < baselineAttempts {
			b.retries.Add(1)
			continue
		}
		return ok, err
	}
}

func (b *Baseline) place(ctx context.Context, o Order, lines []Line) (accepted bool, err error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin order %s: %w", o.ID, err)
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	rows := make([]orderLine, len(lines))
	var total int64
	for i, l := range lines {
		rows[i] = orderLine{ProductID: l.ProductID, Quantity: l.Quantity}
		err := tx.QueryRow(ctx,
			`UPDATE baseline.products SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING name, price`,
			l.ProductID, l.Quantity).Scan(&rows[i].ProductName, &rows[i].UnitPrice)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("take stock of %s for order %s: %w", l.ProductID, o.ID, err)
		}
		total += rows[i].UnitPrice * int64(l.Quantity)
	}
	js, err := json.Marshal(rows)
	if err != nil {
		return false, fmt.Errorf("encode lines of order %s: %w", o.ID, err)
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO baseline.orders (id, user_id, status, total, lines, placed_at) VALUES ($1, $2, 'ORDER', $3, $4, now())`,
		o.ID, o.UserID, total, js); err != nil {
		return false, fmt.Errorf("insert order %s: %w", o.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("commit order %s: %w", o.ID, err)
	}
	return true, nil
}

// Restock adds qty to the product's stock with one UPDATE, as a seller's restock would in the
// baseline's design. A serialization failure or deadlock matches ErrConflict; a row lock waits.
func (b *Baseline) Restock(ctx context.Context, id uuid.UUID, qty int) error {
	tag, err := b.pool.Exec(ctx, `UPDATE baseline.products SET stock = stock + $2 WHERE id = $1`, id, qty)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001"):
		return fmt.Errorf("restock baseline product %s: %w: %w", id, ErrConflict, err)
	case err != nil:
		return fmt.Errorf("restock baseline product %s: %w", id, err)
	case tag.RowsAffected() != 1:
		return fmt.Errorf("restock baseline product %s: %d rows updated, want 1", id, tag.RowsAffected())
	}
	return nil
}

// Drain returns at once: a baseline order is final when its transaction commits.
func (b *Baseline) Drain(context.Context) error { return nil }

// Stocks reads the products' stock.
func (b *Baseline) Stocks(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error) {
	rows, err := b.pool.Query(ctx, `SELECT id, stock FROM baseline.products WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read baseline stock: %w", err)
	}
	out := make(map[uuid.UUID]int, len(ids))
	var id uuid.UUID
	var stock int
	_, err = pgx.ForEachRow(rows, []any{&id, &stock}, func() error {
		out[id] = stock
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read baseline stock: %w", err)
	}
	return out, nil
}

// Counters returns no conflicts (a row lock waits, it does not refuse) and the retried
// transactions.
func (b *Baseline) Counters() Counters { return Counters{Retries: b.retries.Load()} }

// catalogPages is how deep the catalog queries page: shoppers look at the first pages.
const catalogPages = 50

// catalogPageSize is the number of products on a catalog page.
const catalogPageSize = 20

// QueryCatalog reads a random one of the first pages of products, newest first, with the total
// count that pagination shows: the same two queries the event-sourced read model answers, sent
// together as it sends them.
func (b *Baseline) QueryCatalog(ctx context.Context, rng *rand.Rand) error {
	return b.countAndPage(ctx, "baseline catalog", `SELECT count(*) FROM baseline.products`, nil,
		`SELECT id, name, price, stock, created_at FROM baseline.products ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2`,
		catalogPageSize, rng.IntN(catalogPages)*catalogPageSize)
}

// QueryUserOrders counts the user's orders and reads the latest, with their lines.
func (b *Baseline) QueryUserOrders(ctx context.Context, user uuid.UUID) error {
	return b.countAndPage(ctx, "baseline orders of "+user.String(), `SELECT count(*) FROM baseline.orders WHERE user_id = $1`, []any{user},
		`SELECT id, status, total, lines, placed_at FROM baseline.orders WHERE user_id = $1 ORDER BY placed_at DESC, id LIMIT $2`,
		user, catalogPageSize)
}

// countAndPage sends a count and a page query together, in one round trip on one connection, and
// reads both.
func (b *Baseline) countAndPage(ctx context.Context, what, countSQL string, countArgs []any, pageSQL string, pageArgs ...any) error {
	batch := &pgx.Batch{}
	batch.Queue(countSQL, countArgs...)
	batch.Queue(pageSQL, pageArgs...)
	br := b.pool.SendBatch(ctx, batch)
	defer br.Close()
	var total int64
	if err := br.QueryRow().Scan(&total); err != nil {
		return fmt.Errorf("count %s: %w", what, err)
	}
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("query %s: %w", what, err)
	}
	if _, err := pgx.CollectRows(rows, pgx.RowToMap); err != nil {
		return fmt.Errorf("query %s: %w", what, err)
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("query %s: %w", what, err)
	}
	return nil
}

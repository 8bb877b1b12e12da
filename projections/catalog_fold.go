package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// A catalog batch folds the product events of many records into one row per product before it
// writes: a product created in the batch is inserted once with its final name, price, stock and
// status, and a product that existed is updated once. Stock moves with every order, so during a
// rebuild or a catch-up most product events are stock changes of the same rows, and writing each
// of them would make a new row version per event.
//
// The rows do not depend on how the log is cut into batches, because the statements are sent in
// an order that commutes with applying the events one at a time:
//  1. the category, brand and item statements, in log order (they may rename existing products);
//  2. the products created in the batch, with the names those tables have after step 1, which are
//     the names the renames of step 1 would have given them;
//  3. the updates of products that existed, with their category and brand counts;
//  4. the ratings of reviews written in the batch, folded with their edits and deletions in it, in
//     one statement; then the statements of edits and deletions of older reviews, in log order
//     (they only move the rating sums and counts, and the average follows the final ones).
//
// A failure of a folded statement names the first record folded into it.

// productFold is what a batch knows about one product: the columns its events set.
type productFold struct {
	first   eventstore.Record // the first record folded in, named when the write fails
	created *product.Created  // set when the product is created in this batch
	name    *string
	price   *int64
	stock   *int
	status  *string
	at      time.Time // the time of the last event, the row's updated_at
}

func (f *productFold) apply(e product.Event) {
	switch e := e.(type) {
	case product.Created:
		c := e
		f.created, f.name, f.price, f.stock, f.at = &c, &c.Name, &c.Price, &c.Stock, c.At
		s := string(c.Status)
		f.status = &s
	case product.Edited:
		f.name, f.price, f.at = &e.Name, &e.Price, e.At
	case product.StatusChanged:
		s := string(e.Status)
		f.status, f.at = &s, e.At
	case product.Restocked:
		f.stock, f.at = &e.Stock, e.At
	case product.StockReserved:
		f.stock, f.at = &e.Stock, e.At
	case product.StockReleased:
		f.stock, f.at = &e.Stock, e.At
	}
}

// ratingFold is a review written in the batch, as its later events in the batch left it.
type ratingFold struct {
	product uuid.UUID
	rating  int
	deleted bool
}

// catalogBatch is the plan of one Apply.
type catalogBatch struct {
	entities []planned // step 1
	newRated map[uuid.UUID]*ratingFold
	rated    []uuid.UUID        // newRated's reviews in log order
	ratedRec *eventstore.Record // the first of them, named when their write fails
	ratings  []planned          // step 4: edits and deletions of older reviews
	unfolded map[uuid.UUID]bool // reviews with a statement of their own in the batch
	products map[uuid.UUID]*productFold
	order    []uuid.UUID // products in the order of their first event
}

// Apply applies consecutive catalog, product and review events with a few pipelined statements;
// see catalogBatch.
func (c *Catalog) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	b, err := c.Plan(recs)
	if err != nil {
		return err
	}
	return b.Write(ctx, tx)
}

// Plan decodes the catalog, product and review events of recs and folds them.
func (c *Catalog) Plan(recs []eventstore.Record) (Plan, error) {
	b := &catalogBatch{products: make(map[uuid.UUID]*productFold), newRated: make(map[uuid.UUID]*ratingFold),
		unfolded: make(map[uuid.UUID]bool)}
	for _, rec := range recs {
		if err := b.add(c, rec); err != nil {
			return nil, &EventError{Record: rec, Err: err}
		}
	}
	return b, nil
}

// FoldBatches returns 5: a rebuild writes the catalog in batches of five of its batches. Every
// batch of a busy shop's log changes the stock of most products, and planned together, five
// batches update each product once instead of five times.
func (*Catalog) FoldBatches() int { return 5 }

// catalogProductTypes are the product events that change a catalog row. The others (a
// reservation committed, two in every order of two lines) are skipped before they are decoded.
var catalogProductTypes = map[string]bool{product.TypeCreated: true, product.TypeEdited: true,
	product.TypeStatusChanged: true, product.TypeRestocked: true, product.TypeStockReserved: true,
	product.TypeStockReleased: true}

func (b *catalogBatch) add(c *Catalog, rec eventstore.Record) error {
	if strings.HasPrefix(rec.Type, "review.") && b.foldRating(rec) {
		return nil
	}
	if !strings.HasPrefix(rec.Type, "product.") {
		st, ok, err := c.plan(rec)
		switch {
		case err != nil || !ok:
			return err
		case strings.HasPrefix(rec.Type, "review."):
			b.ratings = append(b.ratings, planned{st, rec})
		default:
			b.entities = append(b.entities, planned{st, rec})
		}
		return nil
	}
	if !catalogProductTypes[rec.Type] {
		return nil
	}
	e, err := product.Decode(rec.Type, rec.Data)
	if err != nil {
		_, _, err = ignoreUnknown(err)
		return err
	}
	var id uuid.UUID
	switch e := e.(type) {
	case product.Created:
		id = e.ProductID
	case product.Edited:
		id = e.ProductID
	case product.StatusChanged:
		id = e.ProductID
	case product.Restocked:
		id = e.ProductID
	case product.StockReserved:
		id = e.ProductID
	case product.StockReleased:
		id = e.ProductID
	default:
		return nil
	}
	f, ok := b.products[id]
	if !ok {
		f = &productFold{first: rec}
		b.products[id] = f
		b.order = append(b.order, id)
	}
	if _, created := e.(product.Created); created && f.created != nil {
		return fmt.Errorf("product %s created twice", id)
	}
	f.apply(e)
	return nil
}

// foldRating folds a review written in the batch, or a later event of one, and reports whether it
// did; the events of older reviews are left to their own statements, and so is everything after
// one of those about the same review (a review deleted, then written again), to keep their order.
func (b *catalogBatch) foldRating(rec eventstore.Record) bool {
	e, err := review.Decode(rec.Type, rec.Data)
	if err != nil {
		return false // plan reports it
	}
	folded := b.fold(e)
	if !folded {
		switch e := e.(type) {
		case review.Written:
			b.unfolded[e.ReviewID] = true
		case review.Edited:
			b.unfolded[e.ReviewID] = true
		case review.Deleted:
			b.unfolded[e.ReviewID] = true
		}
	}
	if folded && b.ratedRec == nil {
		b.ratedRec = &rec
	}
	return folded
}

// fold folds e into the batch's new ratings, if it can.
func (b *catalogBatch) fold(e review.Event) bool {
	switch e := e.(type) {
	case review.Written:
		if _, again := b.newRated[e.ReviewID]; again || b.unfolded[e.ReviewID] {
			return false // a duplicate fails its own statement, naming this event
		}
		b.newRated[e.ReviewID] = &ratingFold{product: e.ProductID, rating: e.Rating}
		b.rated = append(b.rated, e.ReviewID)
		return true
	case review.Edited:
		if f, ok := b.newRated[e.ReviewID]; ok && !f.deleted && !b.unfolded[e.ReviewID] {
			f.rating = e.Rating
			return true
		}
	case review.Deleted:
		if f, ok := b.newRated[e.ReviewID]; ok && !f.deleted && !b.unfolded[e.ReviewID] {
			f.deleted = true
			return true
		}
	}
	return false
}

// sqlRatingsWritten inserts the ratings of the reviews a batch wrote and adds them to their
// products' sums, counts and averages.
const sqlRatingsWritten = `WITH v AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::integer[]) AS v (review_id, product_id, rating)),
r AS (INSERT INTO product_ratings (review_id, product_id, rating) SELECT * FROM v),
s AS (SELECT product_id, sum(rating) AS sum, count(*) AS n FROM v GROUP BY 1)
UPDATE products p SET rating_sum = p.rating_sum + s.sum, review_count = p.review_count + s.n,
	avg_rating = round((p.rating_sum + s.sum)::numeric / (p.review_count + s.n), 2)
FROM s WHERE p.id = s.product_id`

// The folded statements: one INSERT for the products created in the batch and one UPDATE for
// those that existed, each keeping catalog_counts in step.
const (
	sqlProductsInsert = `WITH v AS (
	SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::bigint[],
		$8::integer[], $9::text[], $10::timestamptz[], $11::timestamptz[])
		AS v (id, seller_id, item_id, category_id, brand_id, name, price, stock, status, created_at, updated_at)),
p AS (
	INSERT INTO products (id, seller_id, item_id, item_name, category_id, category_name, brand_id, brand_name,
		name, price, stock, status, created_at, updated_at)
	SELECT v.id, v.seller_id, v.item_id, coalesce(i.name, ''), v.category_id, coalesce(c.name, ''),
		v.brand_id, coalesce(b.name, ''), v.name, v.price, v.stock, v.status, v.created_at, v.updated_at
	FROM v LEFT JOIN items i ON i.id = v.item_id LEFT JOIN categories c ON c.id = v.category_id
		LEFT JOIN brands b ON b.id = v.brand_id)
INSERT INTO catalog_counts AS c (category_id, brand_id, visible)
SELECT category_id, brand_id, count(*) FILTER (WHERE status IN ('SELL', 'SOLD_OUT')) FROM v GROUP BY 1, 2
ON CONFLICT (category_id, brand_id) DO UPDATE SET visible = c.visible + EXCLUDED.visible`
	// NULL in an array means the batch did not change that column.
	sqlProductsUpdate = `WITH v AS (
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::integer[], $5::text[], $6::timestamptz[])
		AS v (id, name, price, stock, status, updated_at)),
old AS (SELECT p.id, p.status, p.category_id, p.brand_id FROM products p JOIN v ON v.id = p.id),
u AS (
	UPDATE products p SET name = coalesce(v.name, p.name), price = coalesce(v.price, p.price),
		stock = coalesce(v.stock, p.stock), status = coalesce(v.status, p.status), updated_at = v.updated_at
	FROM v WHERE p.id = v.id),
d AS (
	SELECT old.category_id, old.brand_id,
		sum((v.status IN ('SELL', 'SOLD_OUT'))::integer - (old.status IN ('SELL', 'SOLD_OUT'))::integer) AS delta
	FROM old JOIN v ON v.id = old.id WHERE v.status IS NOT NULL GROUP BY 1, 2)
INSERT INTO catalog_counts AS c (category_id, brand_id, visible)
SELECT category_id, brand_id, delta FROM d WHERE delta <> 0
ON CONFLICT (category_id, brand_id) DO UPDATE SET visible = c.visible + EXCLUDED.visible`
)

// Write sends the batch's statements in the order above.
func (b *catalogBatch) Write(ctx context.Context, tx pgx.Tx) error {
	var sends []planned
	sends = append(sends, b.entities...)
	var ins, upd struct {
		first                             *eventstore.Record
		ids, sellers, items, cats, brands []uuid.UUID
		names                             []*string
		prices                            []*int64
		stocks                            []*int32
		statuses                          []*string
		createdAt, updatedAt              []time.Time
	}
	for _, id := range b.order {
		f := b.products[id]
		set := &upd
		if f.created != nil {
			set = &ins
			c := f.created
			set.sellers, set.items = append(set.sellers, c.SellerID), append(set.items, c.ItemID)
			set.cats, set.brands = append(set.cats, c.CategoryID), append(set.brands, c.BrandID)
			set.createdAt = append(set.createdAt, c.At)
		}
		if set.first == nil {
			set.first = &f.first
		}
		set.ids = append(set.ids, id)
		set.names, set.prices, set.statuses = append(set.names, f.name), append(set.prices, f.price), append(set.statuses, f.status)
		set.stocks = append(set.stocks, int32p(f.stock))
		set.updatedAt = append(set.updatedAt, f.at)
	}
	if ins.first != nil {
		sends = append(sends, planned{statement{sqlProductsInsert, []any{pgUUIDs(ins.ids), pgUUIDs(ins.sellers),
			pgUUIDs(ins.items), pgUUIDs(ins.cats), pgUUIDs(ins.brands),
			ins.names, ins.prices, ins.stocks, ins.statuses, ins.createdAt, ins.updatedAt}}, *ins.first})
	}
	if upd.first != nil {
		sends = append(sends, planned{statement{sqlProductsUpdate, []any{pgUUIDs(upd.ids), upd.names, upd.prices, upd.stocks,
			upd.statuses, upd.updatedAt}}, *upd.first})
	}
	var reviews, products []uuid.UUID
	var ratings []int32
	for _, id := range b.rated {
		if f := b.newRated[id]; !f.deleted {
			reviews, products, ratings = append(reviews, id), append(products, f.product), append(ratings, int32(f.rating))
		}
	}
	if len(reviews) > 0 {
		sends = append(sends, planned{statement{sqlRatingsWritten, []any{pgUUIDs(reviews), pgUUIDs(products), ratings}}, *b.ratedRec})
	}
	sends = append(sends, b.ratings...)
	return sendPlanned(ctx, tx, sends)
}

func int32p(n *int) *int32 {
	if n == nil {
		return nil
	}
	v := int32(*n)
	return &v
}

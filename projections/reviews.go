package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Reviews builds the reviews read model: every live review with its order line, product, author,
// rating, content and times, listed by product and by user. A deleted review's row is removed; a
// review written again for the same line gets a new row.
type Reviews struct{}

// NewReviews returns the reviews projector.
func NewReviews() *Reviews { return &Reviews{} }

// Name returns "reviews.v1".
func (*Reviews) Name() string { return "reviews.v1" }

// Tables returns the reviews' table.
func (*Reviews) Tables() []string { return []string{"reviews"} }

const reviewsTables = `
CREATE TABLE IF NOT EXISTS reviews (
	id         uuid PRIMARY KEY,
	order_id   uuid NOT NULL,
	line       integer NOT NULL,
	product_id uuid NOT NULL,
	user_id    uuid NOT NULL,
	rating     integer NOT NULL,
	content    text NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_product_idx ON reviews (product_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS reviews_user_idx ON reviews (user_id, created_at DESC, id DESC);
`

// Setup creates the reviews table and its indexes.
func (*Reviews) Setup(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, reviewsTables); err != nil {
		return fmt.Errorf("create review tables: %w", err)
	}
	return nil
}

// DeferredIndexes names the indexes only queries use, which a rebuild builds after its replay.
func (*Reviews) DeferredIndexes() []string {
	return []string{"reviews_product_idx", "reviews_user_idx"}
}

// Apply applies consecutive events in one round trip: the reviews written in the batch, as their
// later events in it left them, in one INSERT; then the statements of the other events, in log
// order (those of older reviews, and any event after one of those about the same review).
func (r *Reviews) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	type fold struct {
		w       review.Written
		updated time.Time
		deleted bool
	}
	folds := map[uuid.UUID]*fold{}
	var order []uuid.UUID
	var first *eventstore.Record
	unfolded := map[uuid.UUID]bool{} // reviews with a statement of their own in the batch
	var others []planned
	for _, rec := range recs {
		if !strings.HasPrefix(rec.Type, "review.") {
			continue
		}
		var id uuid.UUID
		if e, err := review.Decode(rec.Type, rec.Data); err == nil {
			switch e := e.(type) {
			case review.Written:
				id = e.ReviewID
				if _, again := folds[id]; !again && !unfolded[id] {
					folds[id] = &fold{w: e, updated: e.At}
					order = append(order, id)
					if first == nil {
						first = &rec
					}
					continue
				}
			case review.Edited:
				id = e.ReviewID
				if f := folds[id]; f != nil && !f.deleted && !unfolded[id] {
					f.w.Rating, f.w.Content, f.updated = e.Rating, e.Content, e.At
					continue
				}
			case review.Deleted:
				id = e.ReviewID
				if f := folds[id]; f != nil && !f.deleted && !unfolded[id] {
					f.deleted = true
					continue
				}
			}
		}
		st, ok, err := r.plan(rec)
		if err != nil {
			return &EventError{Record: rec, Err: err}
		}
		if ok {
			others = append(others, planned{st, rec})
			unfolded[id] = true
		}
	}
	var ids, orders, products, users []uuid.UUID
	var lines, ratings []int32
	var contents []string
	var created, updated []time.Time
	for _, id := range order {
		f := folds[id]
		if f.deleted {
			continue
		}
		w := f.w
		ids, orders, products, users = append(ids, id), append(orders, w.OrderID), append(products, w.ProductID), append(users, w.UserID)
		lines, ratings, contents = append(lines, int32(w.Line)), append(ratings, int32(w.Rating)), append(contents, w.Content)
		created, updated = append(created, w.At), append(updated, f.updated)
	}
	var sends []planned
	if len(ids) > 0 {
		sends = append(sends, planned{statement{sqlReviewsWritten, []any{pgUUIDs(ids), pgUUIDs(orders), lines,
			pgUUIDs(products), pgUUIDs(users), ratings, contents, created, updated}}, *first})
	}
	return sendPlanned(ctx, tx, append(sends, others...))
}

// sqlReviewsWritten inserts the reviews a batch wrote.
const sqlReviewsWritten = `INSERT INTO reviews (id, order_id, line, product_id, user_id, rating, content, created_at, updated_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::integer[], $4::uuid[], $5::uuid[], $6::integer[], $7::text[],
	$8::timestamptz[], $9::timestamptz[])`

// The reviews' statements, one per event.
const (
	sqlReviewWritten = `INSERT INTO reviews (id, order_id, line, product_id, user_id, rating, content, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`
	sqlReviewEdited  = `UPDATE reviews SET rating = $2, content = $3, updated_at = $4 WHERE id = $1`
	sqlReviewDeleted = `DELETE FROM reviews WHERE id = $1`
)

func (*Reviews) plan(rec eventstore.Record) (statement, bool, error) {
	if !strings.HasPrefix(rec.Type, "review.") {
		return statement{}, false, nil
	}
	e, err := review.Decode(rec.Type, rec.Data)
	if err != nil {
		return ignoreUnknown(err)
	}
	switch e := e.(type) {
	case review.Written:
		return statement{sqlReviewWritten, []any{e.ReviewID, e.OrderID, e.Line, e.ProductID, e.UserID, e.Rating, e.Content, e.At}}, true, nil
	case review.Edited:
		return statement{sqlReviewEdited, []any{e.ReviewID, e.Rating, e.Content, e.At}}, true, nil
	case review.Deleted:
		return statement{sqlReviewDeleted, []any{e.ReviewID}}, true, nil
	}
	return statement{}, false, nil
}

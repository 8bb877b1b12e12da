package projections

import (
	"context"
	"fmt"
	"strings"

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

// Apply applies consecutive events in one round trip.
func (r *Reviews) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	return execBatch(ctx, tx, r.plan, recs)
}

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

package readmodels

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/review"
)

// Review is a live review of an order line.
type Review struct {
	ID        uuid.UUID `json:"id"`
	OrderID   uuid.UUID `json:"order_id"`
	Line      int       `json:"line"`
	ProductID uuid.UUID `json:"product_id"`
	UserID    uuid.UUID `json:"user_id"`
	Rating    int       `json:"rating"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

const reviewColumns = `id, order_id, line, product_id, user_id, rating, content, created_at, updated_at`

func scanReview(row pgx.Row) (Review, error) {
	var v Review
	err := row.Scan(&v.ID, &v.OrderID, &v.Line, &v.ProductID, &v.UserID, &v.Rating, &v.Content, &v.CreatedAt, &v.UpdatedAt)
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	return v, err
}

// ListProductReviews lists the reviews of a product, newest first.
func (r *Reader) ListProductReviews(ctx context.Context, productID uuid.UUID, page Page) (List[Review], error) {
	q := &query{}
	q.and("product_id = " + q.arg(productID))
	return list(ctx, r.db, "product reviews", q, "readmodel.reviews", reviewColumns, "created_at DESC, id DESC", page, scanReview)
}

// ListUserReviews lists the reviews a user wrote, newest first.
func (r *Reader) ListUserReviews(ctx context.Context, userID uuid.UUID, page Page) (List[Review], error) {
	q := &query{}
	q.and("user_id = " + q.arg(userID))
	return list(ctx, r.db, "user reviews", q, "readmodel.reviews", reviewColumns, "created_at DESC, id DESC", page, scanReview)
}

// FindReview returns a live review; a deleted one is NotFound.
func (r *Reader) FindReview(ctx context.Context, id uuid.UUID) (Review, error) {
	v, err := scanReview(r.db.QueryRow(ctx, "SELECT "+reviewColumns+" FROM readmodel.reviews WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Review{}, domain.NotFoundf(review.CodeNotFound, "review %s not found", id)
	}
	if err != nil {
		return Review{}, fmt.Errorf("find review %s: %w", id, err)
	}
	return v, nil
}

package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/review"
)

// EditReview is the author changing a review's rating and content (PATCH /reviews/{id}).
type EditReview struct {
	ReviewID uuid.UUID
	Rating   int
	Content  string
}

// EditReviewHandler handles EditReview.
type EditReviewHandler struct{ base }

// Handle edits the review; another user's review is not found, unchanged values change nothing.
func (h *EditReviewHandler) Handle(ctx context.Context, cmd EditReview) (res Result[review.Review], err error) {
	ctx, done := h.begin(ctx, "EditReview")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	st, err := h.repos.Reviews.UpdateState(ctx, cmd.ReviewID, m, func(r review.Review) ([]review.Event, error) {
		return r.Edit(m.Actor, cmd.Rating, cmd.Content, at)
	})
	if err != nil {
		return res, err
	}
	return result(cmd.ReviewID, st), nil
}

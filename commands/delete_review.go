package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/review"
)

// DeleteReview is the author deleting a review (DELETE /reviews/{id}).
type DeleteReview struct {
	ReviewID uuid.UUID
}

// DeleteReviewHandler handles DeleteReview.
type DeleteReviewHandler struct{ base }

// Handle deletes the review; another user's review, or a deleted one, is not found.
func (h *DeleteReviewHandler) Handle(ctx context.Context, cmd DeleteReview) (res Result[review.Review], err error) {
	ctx, done := h.begin(ctx, "DeleteReview")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	st, err := h.repos.Reviews.UpdateState(ctx, cmd.ReviewID, m, func(r review.Review) ([]review.Event, error) {
		return r.Delete(m.Actor, at)
	})
	if err != nil {
		return res, err
	}
	return result(cmd.ReviewID, st), nil
}

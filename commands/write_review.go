package commands

import (
	"context"
	"encoding/binary"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/review"
)

// WriteReview is the order's user reviewing an accepted, delivered line
// (POST /orders/{id}/lines/{line}/review, USER).
type WriteReview struct {
	OrderID uuid.UUID
	Line    int
	Rating  int
	Content string
}

// WriteReviewHandler handles WriteReview.
type WriteReviewHandler struct{ base }

// reviewNamespace derives review ids from order lines.
var reviewNamespace = uuid.MustParse("3f1c9a52-7d0e-4b8a-9c61-2f4e8d7b5a10")

// ReviewID returns the id of the review of an order's line: one line has one review stream, so a
// second review of the line is a conflict on that stream, not a second review.
func ReviewID(orderID uuid.UUID, line int) uuid.UUID {
	b := make([]byte, 0, 24)
	b = append(b, orderID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(line))
	return uuid.NewSHA1(reviewNamespace, b)
}

// Handle reads the order to check that the actor is its user and that the line is ACCEPT and
// COMPLETE, then writes the review. Another user's order, or an unknown one, is not found.
func (h *WriteReviewHandler) Handle(ctx context.Context, cmd WriteReview) (res Result[review.Review], err error) {
	ctx, done := h.begin(ctx, "WriteReview")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	o, err := h.repos.Orders.Load(ctx, cmd.OrderID)
	if err != nil {
		return res, err
	}
	if !o.Value.Exists() || !m.Actor.IsUser(o.Value.UserID) {
		return res, domain.NotFoundf(review.CodeOrderNotFound, "order not found")
	}
	l, ok := o.Value.Line(cmd.Line)
	if !ok {
		return res, domain.NotFoundf(order.CodeLineNotFound, "order %s has no line %d", cmd.OrderID, cmd.Line)
	}
	id := ReviewID(cmd.OrderID, cmd.Line)
	st, err := h.repos.Reviews.UpdateState(ctx, id, m, func(r review.Review) ([]review.Event, error) {
		return r.Write(m.Actor, review.Write{
			ReviewID: id, OrderID: cmd.OrderID, Line: cmd.Line, ProductID: l.ProductID, OrderUserID: o.Value.UserID,
			LineStatus: l.Status, Delivery: l.Delivery, Rating: cmd.Rating, Content: cmd.Content, At: at,
		})
	})
	if err != nil {
		return res, err
	}
	return result(id, st), nil
}

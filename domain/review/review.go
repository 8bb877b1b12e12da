package review

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
)

// Limits of a review.
const (
	MinRating     = 1
	MaxRating     = 5
	MaxContentLen = 2000
)

// Codes of the business errors the review decisions return.
const (
	CodeNotFound      = "REVIEW_NOT_FOUND"
	CodeOrderNotFound = "ORDER_NOT_FOUND"
	CodeReviewed      = "ALREADY_REVIEWED"
	CodeNotReviewable = "LINE_NOT_REVIEWABLE"
)

// StreamPrefix starts every review stream id.
const StreamPrefix = "review-"

// StreamID returns the id of review id's stream, "review-<uuid>".
func StreamID(id uuid.UUID) string { return StreamPrefix + id.String() }

// Review is the state of one review's stream: one order line's review.
type Review struct {
	ID        uuid.UUID `json:"id"`
	OrderID   uuid.UUID `json:"order_id"`
	Line      int       `json:"line"`
	ProductID uuid.UUID `json:"product_id"`
	UserID    uuid.UUID `json:"user_id"`
	Rating    int       `json:"rating"`
	Content   string    `json:"content"`
	Deleted   bool      `json:"deleted"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Exists reports whether the review has been written (it may have been deleted since).
func (r Review) Exists() bool { return r.ID != uuid.Nil }

// Evolve returns r with e applied. It never fails and ignores unknown events.
func Evolve(r Review, e Event) Review {
	switch e := e.(type) {
	case Written:
		return Review{
			ID: e.ReviewID, OrderID: e.OrderID, Line: e.Line, ProductID: e.ProductID, UserID: e.UserID,
			Rating: e.Rating, Content: e.Content, CreatedAt: e.At, UpdatedAt: e.At,
		}
	case Edited:
		r.Rating, r.Content, r.UpdatedAt = e.Rating, e.Content, e.At
	case Deleted:
		r.Deleted, r.UpdatedAt = true, e.At
	}
	return r
}

// Fold replays a whole history from the empty state.
func Fold(events ...Event) Review {
	var r Review
	for _, e := range events {
		r = Evolve(r, e)
	}
	return r
}

// Write is the input of Review.Write: the review and the facts looked up from the order line.
type Write struct {
	ReviewID    uuid.UUID
	OrderID     uuid.UUID
	Line        int
	ProductID   uuid.UUID
	OrderUserID uuid.UUID
	LineStatus  order.LineStatus
	Delivery    order.DeliveryStatus
	Rating      int
	Content     string
	At          time.Time
}

func validate(f domain.Fields, rating int, content string) {
	f.Range("rating", int64(rating), MinRating, MaxRating)
	f.Text("content", content, 1, MaxContentLen)
}

// Write decides a review of an order line by the order's user: only for an ACCEPT line whose
// delivery is COMPLETE, and only one live review per line (a deleted one may be written again).
// Another user's order is not found.
func (r Review) Write(actor domain.Actor, cmd Write) ([]Event, error) {
	if !actor.IsUser(cmd.OrderUserID) {
		return nil, domain.NotFoundf(CodeOrderNotFound, "order not found")
	}
	f := make(domain.Fields)
	f.ID("review_id", cmd.ReviewID)
	f.ID("order_id", cmd.OrderID)
	f.ID("product_id", cmd.ProductID)
	if cmd.Line < 1 {
		f["line"] = "must be 1 or more"
	}
	validate(f, cmd.Rating, cmd.Content)
	if err := f.Err(); err != nil {
		return nil, err
	}
	if r.Exists() && !r.Deleted {
		return nil, domain.Conflictf(CodeReviewed, "line %d of order %s already has review %s", cmd.Line, cmd.OrderID, r.ID)
	}
	if cmd.LineStatus != order.LineAccept || cmd.Delivery != order.DeliveryComplete {
		return nil, domain.Invalidf(CodeNotReviewable, "line %d of order %s is %s/%s: only an accepted, delivered line can be reviewed",
			cmd.Line, cmd.OrderID, cmd.LineStatus, cmd.Delivery)
	}
	return []Event{Written{
		ReviewID: cmd.ReviewID, OrderID: cmd.OrderID, Line: cmd.Line, ProductID: cmd.ProductID,
		UserID: cmd.OrderUserID, Rating: cmd.Rating, Content: strings.TrimSpace(cmd.Content), At: cmd.At,
	}}, nil
}

// authored checks that r is live and that actor wrote it; anyone else finds nothing.
func (r Review) authored(actor domain.Actor) error {
	if !r.Exists() || r.Deleted || !actor.IsUser(r.UserID) {
		return domain.NotFoundf(CodeNotFound, "review not found")
	}
	return nil
}

// Edit decides a new rating and content by the author. Unchanged values are a no-op.
func (r Review) Edit(actor domain.Actor, rating int, content string, at time.Time) ([]Event, error) {
	if err := r.authored(actor); err != nil {
		return nil, err
	}
	f := make(domain.Fields)
	validate(f, rating, content)
	if err := f.Err(); err != nil {
		return nil, err
	}
	content = strings.TrimSpace(content)
	if rating == r.Rating && content == r.Content {
		return nil, nil
	}
	return []Event{Edited{ReviewID: r.ID, ProductID: r.ProductID, UserID: r.UserID, Rating: rating, Content: content, At: at}}, nil
}

// Delete decides the deletion of the review by the author. A deleted review is not found.
func (r Review) Delete(actor domain.Actor, at time.Time) ([]Event, error) {
	if err := r.authored(actor); err != nil {
		return nil, err
	}
	return []Event{Deleted{ReviewID: r.ID, ProductID: r.ProductID, UserID: r.UserID, At: at}}, nil
}

package order

import (
	"time"

	"github.com/google/uuid"
)

// Event is a fact in an order's stream. Each event type has an explicit, versioned wire name.
type Event interface {
	// EventType returns the event's wire name, such as "order.placed.v1".
	EventType() string
}

// Wire names of the order events. They never change; a new shape gets a new version suffix.
const (
	TypePlaced              = "order.placed.v1"
	TypeConfirmed           = "order.confirmed.v1"
	TypeRejected            = "order.rejected.v1"
	TypeLineAccepted        = "order.line_accepted.v1"
	TypeLineRejected        = "order.line_rejected.v1"
	TypeLineShipped         = "order.line_shipped.v1"
	TypeLineDelivered       = "order.line_delivered.v1"
	TypeLineCancelRequested = "order.line_cancel_requested.v1"
	TypeLineCancelled       = "order.line_cancelled.v1"
)

// Placed happens when a user places an order; it is PENDING until its stock is reserved. Lines
// carry what was ordered (status and delivery are empty until the order is confirmed).
type Placed struct {
	OrderID uuid.UUID `json:"order_id"`
	UserID  uuid.UUID `json:"user_id"`
	Address Address   `json:"address"`
	Lines   []Line    `json:"lines"`
	Total   int64     `json:"total"`
	At      time.Time `json:"at"`
}

// Confirmed happens when stock was reserved for every line: the order and its lines are ORDER and
// every delivery is READY.
type Confirmed struct {
	OrderID uuid.UUID `json:"order_id"`
	UserID  uuid.UUID `json:"user_id"`
	At      time.Time `json:"at"`
}

// Rejected happens when a pending order cannot be fulfilled, such as with Reason OUT_OF_STOCK.
type Rejected struct {
	OrderID uuid.UUID `json:"order_id"`
	UserID  uuid.UUID `json:"user_id"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// LineEvent is what every line event carries: the order, its user, the line and its product,
// seller and quantity.
type LineEvent struct {
	OrderID   uuid.UUID `json:"order_id"`
	UserID    uuid.UUID `json:"user_id"`
	Line      int       `json:"line"`
	ProductID uuid.UUID `json:"product_id"`
	SellerID  uuid.UUID `json:"seller_id"`
	Quantity  int       `json:"quantity"`
	At        time.Time `json:"at"`
}

// LineAccepted happens when the seller accepts an ORDER line.
type LineAccepted struct {
	LineEvent
}

// LineRejected happens when the seller rejects an ORDER line; its stock goes back.
type LineRejected struct {
	LineEvent
	Reason string `json:"reason"`
}

// LineShipped happens when the seller ships an accepted line: delivery READY to DELIVERY.
type LineShipped struct {
	LineEvent
}

// LineDelivered happens when the seller marks a shipped line delivered: delivery COMPLETE.
type LineDelivered struct {
	LineEvent
}

// LineCancelRequested happens when the user asks to cancel a line not yet shipped: CANCELING.
type LineCancelRequested struct {
	LineEvent
}

// LineCancelled happens when the seller confirms a cancel request: CANCEL; its stock goes back.
type LineCancelled struct {
	LineEvent
}

// EventType returns "order.placed.v1".
func (Placed) EventType() string { return TypePlaced }

// EventType returns "order.confirmed.v1".
func (Confirmed) EventType() string { return TypeConfirmed }

// EventType returns "order.rejected.v1".
func (Rejected) EventType() string { return TypeRejected }

// EventType returns "order.line_accepted.v1".
func (LineAccepted) EventType() string { return TypeLineAccepted }

// EventType returns "order.line_rejected.v1".
func (LineRejected) EventType() string { return TypeLineRejected }

// EventType returns "order.line_shipped.v1".
func (LineShipped) EventType() string { return TypeLineShipped }

// EventType returns "order.line_delivered.v1".
func (LineDelivered) EventType() string { return TypeLineDelivered }

// EventType returns "order.line_cancel_requested.v1".
func (LineCancelRequested) EventType() string { return TypeLineCancelRequested }

// EventType returns "order.line_cancelled.v1".
func (LineCancelled) EventType() string { return TypeLineCancelled }

package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
)

// The line transitions of an order. Seller routes (accept, reject, ship, deliver, confirm-cancel)
// act on a line of the seller's own product, or any line for a SUPERVISOR; another seller's line
// is not found. The user asks to cancel a line of their own order. A transition the line's status
// does not allow is a conflict (409) and changes nothing. Releasing a rejected or cancelled line's
// stock is the process manager's work, from the events.

// AcceptLine is a seller accepting an ORDER line (POST /seller/order-lines/{order_id}/{line}/accept).
type AcceptLine struct {
	OrderID uuid.UUID
	Line    int
}

// RejectLine is a seller rejecting an ORDER line, with an optional reason (…/reject).
type RejectLine struct {
	OrderID uuid.UUID
	Line    int
	Reason  string
}

// ShipLine is a seller shipping an ACCEPT line (…/ship).
type ShipLine struct {
	OrderID uuid.UUID
	Line    int
}

// DeliverLine is a seller marking a shipped line delivered (…/deliver).
type DeliverLine struct {
	OrderID uuid.UUID
	Line    int
}

// ConfirmCancel is a seller confirming a CANCELING line (…/confirm-cancel).
type ConfirmCancel struct {
	OrderID uuid.UUID
	Line    int
}

// RequestCancel is the order's user asking to cancel a line (POST /orders/{id}/lines/{line}/cancel).
type RequestCancel struct {
	OrderID uuid.UUID
	Line    int
}

// AcceptLineHandler handles AcceptLine.
type AcceptLineHandler struct{ base }

// RejectLineHandler handles RejectLine.
type RejectLineHandler struct{ base }

// ShipLineHandler handles ShipLine.
type ShipLineHandler struct{ base }

// DeliverLineHandler handles DeliverLine.
type DeliverLineHandler struct{ base }

// ConfirmCancelHandler handles ConfirmCancel.
type ConfirmCancelHandler struct{ base }

// RequestCancelHandler handles RequestCancel.
type RequestCancelHandler struct{ base }

// Handle accepts the line.
func (h *AcceptLineHandler) Handle(ctx context.Context, cmd AcceptLine) (Result[order.Order], error) {
	return h.line(ctx, "AcceptLine", cmd.OrderID, func(o order.Order, a domain.Actor, at time.Time) ([]order.Event, error) {
		return o.AcceptLine(a, cmd.Line, at)
	})
}

// Handle rejects the line.
func (h *RejectLineHandler) Handle(ctx context.Context, cmd RejectLine) (Result[order.Order], error) {
	return h.line(ctx, "RejectLine", cmd.OrderID, func(o order.Order, a domain.Actor, at time.Time) ([]order.Event, error) {
		return o.RejectLine(a, cmd.Line, cmd.Reason, at)
	})
}

// Handle ships the line.
func (h *ShipLineHandler) Handle(ctx context.Context, cmd ShipLine) (Result[order.Order], error) {
	return h.line(ctx, "ShipLine", cmd.OrderID, func(o order.Order, a domain.Actor, at time.Time) ([]order.Event, error) {
		return o.ShipLine(a, cmd.Line, at)
	})
}

// Handle marks the line delivered.
func (h *DeliverLineHandler) Handle(ctx context.Context, cmd DeliverLine) (Result[order.Order], error) {
	return h.line(ctx, "DeliverLine", cmd.OrderID, func(o order.Order, a domain.Actor, at time.Time) ([]order.Event, error) {
		return o.DeliverLine(a, cmd.Line, at)
	})
}

// Handle confirms the line's cancel.
func (h *ConfirmCancelHandler) Handle(ctx context.Context, cmd ConfirmCancel) (Result[order.Order], error) {
	return h.line(ctx, "ConfirmCancel", cmd.OrderID, func(o order.Order, a domain.Actor, at time.Time) ([]order.Event, error) {
		return o.ConfirmCancel(a, cmd.Line, at)
	})
}

// Handle asks for the line's cancel.
func (h *RequestCancelHandler) Handle(ctx context.Context, cmd RequestCancel) (Result[order.Order], error) {
	return h.line(ctx, "RequestCancel", cmd.OrderID, func(o order.Order, a domain.Actor, at time.Time) ([]order.Event, error) {
		return o.RequestCancel(a, cmd.Line, at)
	})
}

// line runs one line decision on the order's stream.
func (b base) line(ctx context.Context, name string, orderID uuid.UUID, decide func(order.Order, domain.Actor, time.Time) ([]order.Event, error)) (res Result[order.Order], err error) {
	ctx, done := b.begin(ctx, name)
	defer done(&err)
	m, at, err := b.start(ctx)
	if err != nil {
		return res, err
	}
	st, err := b.repos.Orders.UpdateState(ctx, orderID, m, func(o order.Order) ([]order.Event, error) {
		return decide(o, m.Actor, at)
	})
	if err != nil {
		return res, err
	}
	return result(orderID, st), nil
}

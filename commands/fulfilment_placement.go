package commands

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// SettleWith lets h settle the orders it places itself, in the append that places them, when f
// runs in this process and writes the products itself (no FulfilmentConfig.Stock): an order whose
// products this process holds in its cache, with none of their writers busy, is appended with
// its stock reserved and order.confirmed, in one transaction (eventstore.MultiAppender): one
// durable commit instead of the process manager's three statements and two commits. An order of
// one line whose product is busy or not cached is decided by the product's writer with its batch
// and appended with it (settleThroughWriter). Every other order (not enough stock, several lines
// with a product busy, a store without multi-stream appends) is placed PENDING and settled by the
// process manager as before. The relay still publishes the
// events; the process manager, given order.placed of an order already ORDER, does nothing.
func (h *PlaceOrderHandler) SettleWith(f *Fulfilment) {
	h.settle = f
}

// settleAtPlacement places order id and settles it ORDER in one append, when it can: the store
// appends to several streams at once, this Fulfilment writes the products itself, every line
// names a distinct product whose stream it can claim (cached with its last event, no writer
// busy; for an order of one line, see settleThroughWriter), the order's stream is new to this
// process, the decision places the order, and every line's stock can be reserved. Otherwise it
// appends nothing and returns false, and the order goes the usual way. The products' streams are
// expected to end where the cache has them, so a product another process changed meanwhile
// refuses the append (false too).
//
// The result is the order as placed (PENDING, at order.placed's version and position), as
// PlaceOrder answers. The process's Outcomes hears of the outcome at once.
func (f *Fulfilment) settleAtPlacement(ctx context.Context, id uuid.UUID, m Meta, at time.Time, lines []PlaceOrderLine, place func([]product.Product) func(order.Order) ([]order.Event, error)) (State[order.Order], bool) {
	multi, ok := f.repos.Orders.store.(eventstore.MultiAppender)
	if !ok || f.route != nil {
		return State[order.Order]{}, false
	}
	sorted := slices.Clone(lines)
	slices.SortFunc(sorted, func(a, b PlaceOrderLine) int { return bytes.Compare(a.ProductID[:], b.ProductID[:]) })
	for i, l := range sorted {
		if l.ProductID == uuid.Nil || (i > 0 && sorted[i-1].ProductID == l.ProductID) {
			return State[order.Order]{}, false // order.Place refuses it: the usual way says why
		}
	}

	type releaser interface {
		release(context.Context, *eventstore.AppendResult, eventstore.StreamAppend)
	}
	// What each claim appended, when the append went through: the stream's last part, and its
	// result.
	var held []releaser
	var heldParts []eventstore.StreamAppend
	var heldResults []eventstore.AppendResult
	defer func(ctx context.Context) {
		for i, c := range held {
			if heldResults == nil {
				c.release(ctx, nil, eventstore.StreamAppend{})
			} else {
				c.release(ctx, &heldResults[i], heldParts[i])
			}
		}
	}(ctx)
	oc, ok := f.repos.Orders.claim(id, true)
	if !ok {
		return State[order.Order]{}, false
	}
	held = append(held, oc)
	claims := make([]*claimed[product.Product, product.Event], len(sorted))
	for i, l := range sorted {
		if claims[i], ok = f.repos.Products.claim(l.ProductID, false); !ok {
			if len(sorted) == 1 {
				// One product, whose writer is busy (a hot product): its writer decides the
				// order with its batch and appends it with the batch's reservations.
				st, res, part, ok := f.settleThroughWriter(ctx, oc, id, m, at, l, place)
				if ok {
					heldParts, heldResults = []eventstore.StreamAppend{part}, []eventstore.AppendResult{res}
				}
				return st, ok
			}
			return State[order.Order]{}, false
		}
		held = append(held, claims[i])
	}

	products := make([]product.Product, len(lines))
	for i, l := range lines {
		products[i] = claims[slices.IndexFunc(sorted, func(s PlaceOrderLine) bool { return s.ProductID == l.ProductID })].cur.state
	}
	if oc.decide(place(products)) != nil {
		return State[order.Order]{}, false
	}
	placed := State[order.Order]{Value: oc.next, Version: int64(len(oc.events))}
	for i, l := range sorted {
		if claims[i].decide(stockDecision(stockReserve, id, l.Quantity, at)) != nil {
			return State[order.Order]{}, false
		}
	}
	if oc.decide(func(o order.Order) ([]order.Event, error) { return o.Confirm(at) }) != nil {
		return State[order.Order]{}, false
	}

	// In the log: order.placed, the reservations, order.confirmed, as the process manager would
	// have appended them.
	ctx, span := startAppend(ctx, "place and settle", oc.stream)
	m = m.traced(ctx)
	op, err := oc.part(m)
	if err != nil {
		endSpan(span, err)
		return State[order.Order]{}, false
	}
	placedPart, settledPart := aroundReservations(op, placed.Version)
	parts := []eventstore.StreamAppend{placedPart}
	for _, c := range claims {
		p, err := c.part(m)
		if err != nil {
			endSpan(span, err)
			return State[order.Order]{}, false
		}
		parts = append(parts, p)
	}
	parts = append(parts, settledPart)
	res, err := multi.AppendAll(ctx, parts...)
	endSpan(span, err)
	if err != nil {
		// A product changed in another process (or the order exists, a command run again):
		// the usual way reads what moved.
		if wv := (*eventstore.WrongVersionError)(nil); errors.As(err, &wv) {
			observeCondition(f.repos.Orders.obs, wv.Stream)
		}
		return State[order.Order]{}, false
	}
	last := len(parts) - 1
	heldParts = append([]eventstore.StreamAppend{op}, parts[1:last]...)
	heldResults = append([]eventstore.AppendResult{res[last]}, res[1:last]...)
	placed.Position = res[0].Position
	f.confirmed(id, at, res[last].Position)
	return placed, true
}

// aroundReservations splits an order's part of an append into its first n events (order.placed)
// and the rest (order.confirmed), which continues the stream after the reservations: in the log,
// the order is placed, its stock reserved, then it is confirmed, as the process manager appends
// them.
func aroundReservations(part eventstore.StreamAppend, n int64) (placed, settled eventstore.StreamAppend) {
	return eventstore.StreamAppend{Stream: part.Stream, Expected: part.Expected, Events: part.Events[:n]},
		eventstore.StreamAppend{Stream: part.Stream, Expected: eventstore.Any, Events: part.Events[n:]}
}

// settleThroughWriter places the order claimed by oc, of one line, and settles it ORDER through
// the writer of the line's product: the writer decides the order on the product as its batch
// leaves it, and appends the order's events with the batch's, in one transaction
// (writeRequest.along): a hot product's orders placed together are one durable commit. It
// returns the order as placed, and the order's part and its result for the claim's release; false
// when the order is not settled so (the decision refuses it, a line is short, the append refused
// the order's stream), and the caller goes the usual way.
func (f *Fulfilment) settleThroughWriter(ctx context.Context, oc *claimed[order.Order, order.Event], id uuid.UUID, m Meta, at time.Time, l PlaceOrderLine,
	place func([]product.Product) func(order.Order) ([]order.Event, error)) (State[order.Order], eventstore.AppendResult, eventstore.StreamAppend, bool) {
	var placed []order.Event // the decision made last: order.placed, then order.confirmed
	var settled []order.Event
	decide := func(p product.Product) ([]product.Event, error) {
		o := order.Order{}
		evs, err := place([]product.Product{p})(o)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			o = order.Evolve(o, e)
		}
		reserved, err := stockDecision(stockReserve, id, l.Quantity, at)(p)
		if err != nil {
			return nil, err
		}
		confirmed, err := o.Confirm(at)
		if err != nil {
			return nil, err
		}
		placed, settled = evs, confirmed
		return reserved, nil
	}
	var part eventstore.StreamAppend
	var before, after []eventstore.AppendResult
	along := func() ([]eventstore.StreamAppend, []eventstore.StreamAppend, error) {
		p, err := oc.partOf(append(slices.Clone(placed), settled...), m)
		if err != nil {
			return nil, nil, err
		}
		part = p
		placedPart, settledPart := aroundReservations(p, int64(len(placed)))
		return []eventstore.StreamAppend{placedPart}, []eventstore.StreamAppend{settledPart}, nil
	}
	done := func(b, a []eventstore.AppendResult) { before, after = b, a }
	ctx, span := startAppend(ctx, "place and settle", oc.stream)
	m = m.traced(ctx)
	_, err := f.repos.Products.updateAlong(ctx, l.ProductID, m, decide, along, done)
	endSpan(span, err)
	if err != nil || len(before) != 1 || len(after) != 1 {
		return State[order.Order]{}, eventstore.AppendResult{}, eventstore.StreamAppend{}, false
	}
	oc.set(append(slices.Clone(placed), settled...))
	f.confirmed(id, at, after[0].Position)
	st := State[order.Order]{Value: order.Order{}, Version: int64(len(placed)), Position: before[0].Position}
	for _, e := range placed {
		st.Value = order.Evolve(st.Value, e)
	}
	return st, after[0], part, true
}

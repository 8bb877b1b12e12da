package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// FulfilmentStep names a point in the handling of an order.placed, for FulfilmentConfig.Hook.
type FulfilmentStep string

// The steps a Hook is called at.
const (
	// StepLineReserved is after a line's stock was reserved, before the next line or the confirm.
	StepLineReserved FulfilmentStep = "line-reserved"
	// StepRejected is after order.rejected was appended, before the reserved lines are released.
	StepRejected FulfilmentStep = "rejected"
)

// FulfilmentObserver is told what the process manager does, for metrics. Methods are called on
// the handler's goroutines and must not block.
type FulfilmentObserver interface {
	// Settled is called when this process appended an order's outcome: ORDER, or REJECT with its
	// reason, and how long after the order was placed.
	Settled(status order.Status, reason string, sincePlaced time.Duration)
}

// NopFulfilmentObserver observes nothing.
type NopFulfilmentObserver struct{}

// Settled does nothing.
func (NopFulfilmentObserver) Settled(order.Status, string, time.Duration) {}

// FulfilmentConfig configures a Fulfilment. The zero value works.
type FulfilmentConfig struct {
	// Now stamps the events; nil means time.Now in UTC.
	Now func() time.Time
	// Hook, when set, is called at each FulfilmentStep; an error stops the handling of the
	// message right there, as a crash would, and is returned. Tests inject failures with it.
	Hook func(ctx context.Context, step FulfilmentStep, orderID uuid.UUID) error
	// Observer counts outcomes and batch sizes; nil means NopFulfilmentObserver.
	Observer FulfilmentObserver
	// Outcomes, when set, is told of every order this process settles as soon as its work is
	// done (for a rejected order: once its stock is released), so that AwaitSettled callers in
	// this process wake without waiting for the event to come round the log.
	Outcomes *Outcomes
	// Stock, when set, carries every stock request to the product's one writer in the cluster
	// (the partition owner, which runs ServeStock) instead of this process's own writer; nil
	// means the process writes the products itself, as it does alone on the in-process bus.
	Stock StockTransport
	// StockWait bounds the wait for an answer from the product's writer through Stock; after it,
	// or when Stock fails, this process's writer carries the request out itself (see
	// routeStock). Zero means DefaultStockWait.
	StockWait time.Duration
}

// DefaultStockWait is how long a routed stock request waits for the product's writer before the
// asking process writes the product itself: well above a request's round trip under load, well
// below the seconds a crashed writer's partition waits for its consumer group to notice.
const DefaultStockWait = 500 * time.Millisecond

// Fulfilment is the order-fulfilment process manager. It consumes the order events from the bus
// (at least once, in any interleaving across orders) and drives the products' stock:
//
//   - order.placed: unless the order is already settled, reserve every line's stock, products in
//     ascending id order. When all are reserved, append order.confirmed. When one is refused,
//     append order.rejected with the reason the product's decision gave (OUT_OF_STOCK or
//     NOT_ON_SALE) and then release what was reserved.
//   - order.line_rejected and order.line_cancelled: release that line's reservation on its
//     product, once the order's stream shows the line so.
//   - order.line_delivered: commit the line's reservation (the stock is spent for good), once the
//     order's stream shows the line delivered.
//
// A message is a claim, not a fact: what it says of an order is checked on the order's stream, so
// a forged or stale line message releases or commits nothing.
//
// Every step is idempotent, so a message delivered again after a crash anywhere finishes the work:
// reservations, releases and commits are keyed by order id on the product, confirm and reject are
// no-ops on an order already in that state, and an order found REJECT has its reservations
// released again. The outcome is decided on the order stream before anything is released, so two
// deliveries of one order handled at once cannot confirm an order and release its stock:
// whichever settles the order first wins, and a loser that reserved stock for a REJECT order
// releases it.
//
// The Fulfilment writes only through the Repos, like any command handler: its stock requests go
// to the product's writer with the commands of the API (restocks, status changes), so the
// reservations of all orders waiting on a hot product are decided together and appended at once.
// With many processes (FulfilmentConfig.Stock) they go to the writer of the one process that
// serves the product (ServeStock), so a hot product has one writer in the cluster, not one per
// process fighting the others with version conflicts.
//
// Durability: an order's reservations are appended without waiting for the disk when the store
// allows it (eventstore.DelayedAppender), and its outcome, order.confirmed or order.rejected, is
// always appended durably after them, which makes them durable too (the store's log is flushed in
// order). Every message's last write is durable: the outcome, a release or a commit. So a crash
// of the database can take back only reservations of orders that are still PENDING, which the
// redelivered order.placed reserves again, and the place-to-settle path waits for two disk
// flushes (order.placed and the outcome) however many products an order has.
type Fulfilment struct {
	repos *Repos
	now   func() time.Time
	hook  func(context.Context, FulfilmentStep, uuid.UUID) error
	obs   FulfilmentObserver
	out   *Outcomes
	route StockTransport
	wait  time.Duration
	lock  keyedMutex
}

// NewFulfilment returns the process manager on repos (share them with the command handlers).
func NewFulfilment(repos *Repos, cfg FulfilmentConfig) *Fulfilment {
	f := &Fulfilment{repos: repos, now: cfg.Now, hook: cfg.Hook, obs: cfg.Observer, out: cfg.Outcomes, route: cfg.Stock, wait: cfg.StockWait}
	if f.now == nil {
		f.now = func() time.Time { return time.Now().UTC() }
	}
	if f.obs == nil {
		f.obs = NopFulfilmentObserver{}
	}
	if f.wait <= 0 {
		f.wait = DefaultStockWait
	}
	return f
}

// Handle handles one event from the bus. Events other than the four it acts on are ignored. An
// error means the work is not done and the message must be delivered again.
func (f *Fulfilment) Handle(ctx context.Context, rec eventstore.Record) (err error) {
	switch rec.Type {
	case order.TypePlaced:
		// An order this process settled in the append that placed it (SettleWith) is ORDER in
		// its cache: nothing to do, nothing to read or decode. ORDER is final for order.placed;
		// a REJECT is handled in full, since its releases may have been cut short by a crash.
		if st, _, ok := f.repos.Orders.cached(rec.Stream); ok && st.Value.Status == order.StatusOrder {
			return nil
		}
	case order.TypeLineRejected, order.TypeLineCancelled, order.TypeLineDelivered:
	default:
		return nil
	}
	ctx, span := startConsumer(ctx, "fulfil "+rec.Type, rec)
	defer func() { endSpan(span, err) }()
	e, err := order.Decode(rec.Type, rec.Data)
	if err != nil {
		return fmt.Errorf("fulfil %s %s: %w", rec.Type, rec.ID, err)
	}
	src := MetaOf(rec)
	meta := src.Caused(rec.ID, src.Actor).traced(ctx)
	switch e := e.(type) {
	case order.Placed:
		return f.settle(ctx, rec, e, meta)
	case order.LineRejected:
		return f.lineDone(ctx, e.LineEvent, stockRelease, meta, func(l order.Line) bool { return l.Status == order.LineReject })
	case order.LineCancelled:
		return f.lineDone(ctx, e.LineEvent, stockRelease, meta, func(l order.Line) bool { return l.Status == order.LineCancel })
	case order.LineDelivered:
		return f.lineDone(ctx, e.LineEvent, stockCommit, meta, func(l order.Line) bool { return l.Delivery == order.DeliveryComplete })
	}
	return nil
}

// lineDone releases or commits the stock of the line e names once the order's own stream shows
// it so (holds): a message that names another product, a line the order does not have, or a line
// in another state does nothing.
func (f *Fulfilment) lineDone(ctx context.Context, e order.LineEvent, kind stockKind, meta Meta, holds func(order.Line) bool) error {
	st, err := f.repos.Orders.Load(ctx, e.OrderID)
	if err != nil {
		return fmt.Errorf("fulfil order %s line %d: %w", e.OrderID, e.Line, err)
	}
	l, ok := st.Value.Line(e.Line)
	if !ok || st.Value.Status != order.StatusOrder || l.ProductID != e.ProductID || !holds(l) {
		return nil
	}
	return f.stock(ctx, l.ProductID, kind, e.OrderID, 0, nil, meta)
}

// stockKind is what the process manager asks of a product's stock.
type stockKind uint8

const (
	stockReserve stockKind = iota
	stockRelease
	stockCommit
)

// stock carries out one stock request on the product's writer, this process's or, with a
// StockTransport, the cluster's (fulfilment_route.go), its events appended only while conds hold
// (see settle): nil, a business error from the product's decision (such as OUT_OF_STOCK), an
// error matching eventstore.ErrConditionFailed, or a technical error.
func (f *Fulfilment) stock(ctx context.Context, productID uuid.UUID, kind stockKind, orderID uuid.UUID, qty int, conds []eventstore.StreamAt, meta Meta) error {
	if f.route != nil {
		return f.routeStock(ctx, productID, kind, orderID, qty, conds, meta)
	}
	return f.writeStock(ctx, productID, kind, orderID, qty, conds, meta)
}

// writeStock carries out one stock request on this process's writer of the product, appending
// only while conds hold. Reservations may be appended without waiting for the disk (see
// Fulfilment).
func (f *Fulfilment) writeStock(ctx context.Context, productID uuid.UUID, kind stockKind, orderID uuid.UUID, qty int, conds []eventstore.StreamAt, meta Meta) error {
	return f.decideStockIf(ctx, productID, orderID, meta, conds, kind == stockReserve, stockDecision(kind, orderID, qty, f.now()))
}

// stockDecision is the product's decision for one stock request of order orderID.
func stockDecision(kind stockKind, orderID uuid.UUID, qty int, at time.Time) func(product.Product) ([]product.Event, error) {
	return func(p product.Product) ([]product.Event, error) {
		switch kind {
		case stockReserve:
			return p.Reserve(orderID, qty, at)
		case stockRelease:
			return p.Release(orderID, at)
		default:
			return p.Commit(orderID, at)
		}
	}
}

// decideStockIf runs decide for order orderID on this process's writer of the product, appending
// only while conds hold (see settle); delayed lets the append skip the wait for the disk.
func (f *Fulfilment) decideStockIf(ctx context.Context, productID, orderID uuid.UUID, meta Meta, conds []eventstore.StreamAt, delayed bool, decide func(product.Product) ([]product.Event, error)) error {
	if _, err := f.repos.Products.update(ctx, productID, meta, conds, decide, delayed); err != nil {
		return fmt.Errorf("fulfil order %s on product %s: %w", orderID, productID, err)
	}
	return nil
}

// settle takes a placed order to ORDER or REJECT. Deliveries of one order are handled one at a
// time in this process.
//
// A first delivery, the common case, reads nothing: with a store that checks conditions on other
// streams, the order is taken as its order.placed made it, and each reservation is appended only
// while the order's stream still ends with that event, that is while the order is PENDING and
// untouched (a routed request carries the condition to the product's writer). The outcome is then
// appended through the order's writer, from its cached state when this process placed the order.
// When a condition
// fails, the order has moved on (this is a delivery again, after the order was settled): the
// order's stream is read and the delivery handled from what it says, as every delivery is
// otherwise.
func (f *Fulfilment) settle(ctx context.Context, rec eventstore.Record, placed order.Placed, meta Meta) error {
	unlock := f.lock.lock(placed.OrderID)
	defer unlock()
	if f.repos.Products.Conditional() {
		o := order.Evolve(order.Order{}, placed)
		unmoved := []eventstore.StreamAt{{Stream: rec.Stream, Version: rec.Version, Last: rec.ID}}
		if err := f.reserve(ctx, placed, o, unmoved, meta); !errors.Is(err, eventstore.ErrConditionFailed) {
			return err
		}
	}
	st, err := f.repos.Orders.Load(ctx, placed.OrderID)
	if err != nil {
		return fmt.Errorf("fulfil order %s: %w", placed.OrderID, err)
	}
	o := st.Value
	switch {
	case !o.Exists() || o.Status == order.StatusOrder:
		// An order.placed comes from the order's own stream, so a missing order cannot happen;
		// were it to, there would be nothing to do.
		return nil
	case o.Status == order.StatusReject:
		// A crash may have come between the reject and the releases.
		return f.release(ctx, o, o.Lines, meta)
	}
	return f.reserve(ctx, placed, o, nil, meta)
}

// reserve reserves the stock of PENDING order o's lines, products in ascending id order, each
// append only while conds hold, and appends the outcome: ORDER when every line was reserved,
// else REJECT with the product's reason and the reservations made released. One line after the
// other, in one order for every order, as locks are taken: orders competing for the same scarce
// products then get them whole. Reserving every line at once was tried: 200 orders for stock of
// 15 then settled 2 ORDER, each order holding part of the stock another one needed.
func (f *Fulfilment) reserve(ctx context.Context, placed order.Placed, o order.Order, conds []eventstore.StreamAt, meta Meta) error {
	lines := slices.Clone(o.Lines)
	slices.SortFunc(lines, func(a, b order.Line) int { return strings.Compare(a.ProductID.String(), b.ProductID.String()) })
	reason := ""
	reserved := 0
	for _, l := range lines {
		if err := f.stock(ctx, l.ProductID, stockReserve, o.ID, l.Quantity, conds, meta); err != nil {
			if reason = product.RejectReason(err); reason == "" {
				return fmt.Errorf("fulfil order %s: reserve %d of product %s: %w", o.ID, l.Quantity, l.ProductID, err)
			}
			break
		}
		reserved++
		if err := f.step(ctx, StepLineReserved, o.ID); err != nil {
			return err
		}
	}

	if reason == "" {
		done, err := f.repos.Orders.UpdateState(ctx, o.ID, meta, func(o order.Order) ([]order.Event, error) { return o.Confirm(f.now()) })
		switch {
		case err == nil:
			f.confirmed(o.ID, placed.At, done.Position)
			return nil
		case errors.Is(err, domain.ErrConflict):
			// Another delivery rejected the order meanwhile: what this one reserved goes back.
			return f.release(ctx, o, o.Lines, meta)
		}
		return fmt.Errorf("fulfil order %s: confirm: %w", o.ID, err)
	}

	done, err := f.repos.Orders.UpdateState(ctx, o.ID, meta, func(o order.Order) ([]order.Event, error) { return o.Reject(reason, f.now()) })
	switch {
	case errors.Is(err, domain.ErrConflict):
		// Another delivery confirmed the order meanwhile: its reservations are the order's.
		return nil
	case err != nil:
		return fmt.Errorf("fulfil order %s: reject: %w", o.ID, err)
	}
	f.obs.Settled(order.StatusReject, reason, f.now().Sub(placed.At))
	if err := f.step(ctx, StepRejected, o.ID); err != nil {
		return err
	}
	held := reserved
	if f.route != nil {
		// A routed reservation refused here may still be made when its request is carried out
		// again (its server crashed after answering, before committing it); the release, sent
		// after it to the same partition, is carried out after that. Otherwise it is a no-op.
		held++
	}
	if err := f.release(ctx, o, lines[:held], meta); err != nil {
		return err
	}
	f.out.settled(o.ID, outcome{status: order.StatusReject, reason: reason}, done.Position)
	return nil
}

// confirmed tells the observer and the process's Outcomes that this process appended
// order.confirmed of order id (at position), placed at placedAt.
func (f *Fulfilment) confirmed(id uuid.UUID, placedAt time.Time, position eventstore.Position) {
	f.obs.Settled(order.StatusOrder, "", f.now().Sub(placedAt))
	f.out.settled(id, outcome{status: order.StatusOrder}, position)
}

// release gives back the stock lines hold for order o.
func (f *Fulfilment) release(ctx context.Context, o order.Order, lines []order.Line, meta Meta) error {
	for _, l := range lines {
		if err := f.stock(ctx, l.ProductID, stockRelease, o.ID, 0, nil, meta); err != nil {
			return err
		}
	}
	return nil
}

func (f *Fulfilment) step(ctx context.Context, step FulfilmentStep, orderID uuid.UUID) error {
	if f.hook == nil {
		return nil
	}
	if err := f.hook(ctx, step, orderID); err != nil {
		return fmt.Errorf("fulfil order %s: at %s: %w", orderID, step, err)
	}
	return nil
}

// keyedMutex serializes work per key; entries exist only while someone holds or waits for them.
type keyedMutex struct {
	mu      sync.Mutex
	entries map[uuid.UUID]*keyedEntry
}

type keyedEntry struct {
	mu    sync.Mutex
	users int
}

// lock locks key and returns the unlock function.
func (k *keyedMutex) lock(key uuid.UUID) func() {
	k.mu.Lock()
	if k.entries == nil {
		k.entries = make(map[uuid.UUID]*keyedEntry)
	}
	e := k.entries[key]
	if e == nil {
		e = &keyedEntry{}
		k.entries[key] = e
	}
	e.users++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.users--; e.users == 0 {
			delete(k.entries, key)
		}
		k.mu.Unlock()
	}
}

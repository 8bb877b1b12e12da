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

// Reasons of an order.rejected appended by the process manager.
const (
	// ReasonOutOfStock rejects an order a line of which has more than the product's stock.
	ReasonOutOfStock = "OUT_OF_STOCK"
	// ReasonNotOnSale rejects an order a product of which went off sale after it was placed.
	ReasonNotOnSale = "NOT_ON_SALE"
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
	// StockBatch is called for every group commit on a product with the number of requests in it.
	StockBatch(requests int)
}

// NopFulfilmentObserver observes nothing.
type NopFulfilmentObserver struct{}

// Settled does nothing.
func (NopFulfilmentObserver) Settled(order.Status, string, time.Duration) {}

// StockBatch does nothing.
func (NopFulfilmentObserver) StockBatch(int) {}

// FulfilmentConfig configures a Fulfilment. The zero value works.
type FulfilmentConfig struct {
	// Now stamps the events; nil means time.Now in UTC.
	Now func() time.Time
	// MaxBatch bounds the requests one product append carries; 0 means 512.
	MaxBatch int
	// Hook, when set, is called at each FulfilmentStep; an error stops the handling of the
	// message right there, as a crash would, and is returned. Tests inject failures with it.
	Hook func(ctx context.Context, step FulfilmentStep, orderID uuid.UUID) error
	// Observer counts outcomes and batch sizes; nil means NopFulfilmentObserver.
	Observer FulfilmentObserver
	// Outcomes, when set, is told of every order this process settles as soon as its work is
	// done (for a rejected order: once its stock is released), so that AwaitSettled callers in
	// this process wake without waiting for the event to come round the log.
	Outcomes *Outcomes
}

// Fulfilment is the order-fulfilment process manager. It consumes the order events from the bus
// (at least once, in any interleaving across orders) and drives the products' stock:
//
//   - order.placed: unless the order is already settled, reserve every line's stock, products in
//     ascending id order. When all are reserved, append order.confirmed. When one is short, append
//     order.rejected (OUT_OF_STOCK or NOT_ON_SALE) and then release what was reserved.
//   - order.line_rejected and order.line_cancelled: release that line's reservation on its
//     product.
//   - order.line_delivered: commit the line's reservation (the stock is spent for good).
//
// Every step is idempotent, so a message delivered again after a crash anywhere finishes the work:
// reservations, releases and commits are keyed by order id on the product, confirm and reject are
// no-ops on an order already in that state, and an order found REJECT has its reservations
// released again. The outcome is decided on the order stream (its expected version) before
// anything is released, so two deliveries of one order handled at once cannot confirm an order
// and release its stock: whichever settles the order first wins, and a loser that reserved stock
// for a REJECT order releases it.
//
// Stock requests go through a per-product group commit (see stockBatcher): the reservations of all
// orders waiting on a hot product are decided together and appended in one append.
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
	stock *stockBatcher
	lock  keyedMutex
}

// NewFulfilment returns the process manager on repos (share them with the command handlers).
func NewFulfilment(repos *Repos, cfg FulfilmentConfig) *Fulfilment {
	f := &Fulfilment{repos: repos, now: cfg.Now, hook: cfg.Hook, obs: cfg.Observer, out: cfg.Outcomes}
	if f.now == nil {
		f.now = func() time.Time { return time.Now().UTC() }
	}
	if f.obs == nil {
		f.obs = NopFulfilmentObserver{}
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	f.stock = newStockBatcher(repos.Products, f.now, cfg.MaxBatch, f.obs.StockBatch)
	return f
}

// Handle handles one event from the bus. Events other than the four it acts on are ignored. An
// error means the work is not done and the message must be delivered again.
func (f *Fulfilment) Handle(ctx context.Context, rec eventstore.Record) (err error) {
	switch rec.Type {
	case order.TypePlaced, order.TypeLineRejected, order.TypeLineCancelled, order.TypeLineDelivered:
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
		return f.settle(ctx, e, meta)
	case order.LineRejected:
		return f.request(ctx, e.ProductID, stockRelease, e.OrderID, 0, meta)
	case order.LineCancelled:
		return f.request(ctx, e.ProductID, stockRelease, e.OrderID, 0, meta)
	case order.LineDelivered:
		return f.request(ctx, e.ProductID, stockCommit, e.OrderID, 0, meta)
	}
	return nil
}

// request carries out one stock request whose business errors cannot happen for a valid order
// (release and commit only find nothing to do); such an error is returned like any other.
func (f *Fulfilment) request(ctx context.Context, productID uuid.UUID, kind stockKind, orderID uuid.UUID, qty int, meta Meta) error {
	if err := f.stock.do(ctx, productID, kind, orderID, qty, meta); err != nil {
		return fmt.Errorf("fulfil order %s on product %s: %w", orderID, productID, err)
	}
	return nil
}

// settle takes a placed order to ORDER or REJECT. Deliveries of one order are handled one at a
// time in this process.
func (f *Fulfilment) settle(ctx context.Context, placed order.Placed, meta Meta) error {
	unlock := f.lock.lock(placed.OrderID)
	defer unlock()
	st, err := f.current(ctx, placed)
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

	lines := slices.Clone(o.Lines)
	slices.SortFunc(lines, func(a, b order.Line) int { return strings.Compare(a.ProductID.String(), b.ProductID.String()) })
	reason := ""
	reserved := 0
	for _, l := range lines {
		err := f.stock.do(ctx, l.ProductID, stockReserve, o.ID, l.Quantity, meta)
		if err != nil {
			if reason = rejectReason(err); reason == "" {
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
		at, err := f.decideOrder(ctx, st, meta, func(o order.Order) ([]order.Event, error) { return o.Confirm(f.now()) })
		switch {
		case err == nil:
			f.obs.Settled(order.StatusOrder, "", f.now().Sub(placed.At))
			f.out.settled(o.ID, outcome{status: order.StatusOrder}, at)
			return nil
		case errors.Is(err, domain.ErrConflict):
			// Another delivery rejected the order meanwhile: what this one reserved goes back.
			return f.release(ctx, o, o.Lines, meta)
		}
		return fmt.Errorf("fulfil order %s: confirm: %w", o.ID, err)
	}

	at, err := f.decideOrder(ctx, st, meta, func(o order.Order) ([]order.Event, error) { return o.Reject(reason, f.now()) })
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
	if err := f.release(ctx, o, lines[:reserved], meta); err != nil {
		return err
	}
	f.out.settled(o.ID, outcome{status: order.StatusReject, reason: reason}, at)
	return nil
}

// current returns the order's current state. An order whose last event is still its
// order.placed (version 1) is the placed event folded, which costs one read of one row instead of
// a load.
func (f *Fulfilment) current(ctx context.Context, placed order.Placed) (State[order.Order], error) {
	last, err := f.repos.Orders.store.ReadStreamBackward(ctx, order.StreamID(placed.OrderID), 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return State[order.Order]{}, nil
	}
	if err != nil {
		return State[order.Order]{}, err
	}
	if last[0].Version == 1 && last[0].Type == order.TypePlaced {
		return State[order.Order]{Value: order.Fold(placed), Version: 1, Position: last[0].Position}, nil
	}
	return f.repos.Orders.Load(ctx, placed.OrderID)
}

// decideOrder appends what decide returns for the order as st has it, expecting st's version, so
// that an order nobody touched meanwhile costs one append and no read. When the order changed
// since, it loads, decides and appends again through the repository (with its retries). It
// returns the position of the order's last event after the append, or 0 when decide made no
// events.
func (f *Fulfilment) decideOrder(ctx context.Context, st State[order.Order], meta Meta, decide func(order.Order) ([]order.Event, error)) (_ eventstore.Position, err error) {
	events, err := decide(st.Value)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	stream := order.StreamID(st.Value.ID)
	ctx, span := startAppend(ctx, "update", stream)
	defer func() { endSpan(span, err) }()
	meta = meta.traced(ctx)
	data, err := eventData(stream, events, func(int) Meta { return meta })
	if err != nil {
		return 0, err
	}
	res, err := f.repos.Orders.store.Append(ctx, stream, eventstore.Exact(st.Version), data...)
	if errors.Is(err, eventstore.ErrWrongVersion) {
		res, err = f.repos.Orders.Update(ctx, st.Value.ID, meta, decide)
	}
	return res.Position, err
}

// release gives back the stock lines hold for order o.
func (f *Fulfilment) release(ctx context.Context, o order.Order, lines []order.Line, meta Meta) error {
	for _, l := range lines {
		if err := f.request(ctx, l.ProductID, stockRelease, o.ID, 0, meta); err != nil {
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

// rejectReason returns the reason an order is rejected for when a reservation failed with err, or
// "" when err is not a refusal of the product (a technical error, to be retried).
func rejectReason(err error) string {
	var de *domain.Error
	if !errors.As(err, &de) {
		return ""
	}
	if de.Code == product.CodeOutOfStock {
		return ReasonOutOfStock
	}
	return ReasonNotOnSale
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

package order

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
)

// Status is where an order is as a whole.
type Status string

// The statuses of an order.
const (
	// StatusPending means placed, waiting for its stock to be reserved.
	StatusPending Status = "PENDING"
	// StatusOrder means stock is reserved for every line; the lines go their own ways.
	StatusOrder Status = "ORDER"
	// StatusReject means the order could not be fulfilled; nothing is reserved for it.
	StatusReject Status = "REJECT"
)

// LineStatus is where a line is in its handling by the seller.
type LineStatus string

// The statuses of a line.
const (
	// LineOrder is a confirmed line waiting for its seller.
	LineOrder LineStatus = "ORDER"
	// LineAccept is a line the seller will ship.
	LineAccept LineStatus = "ACCEPT"
	// LineReject is a line the seller refused; its stock went back.
	LineReject LineStatus = "REJECT"
	// LineCanceling is a line the user asked to cancel, waiting for the seller.
	LineCanceling LineStatus = "CANCELING"
	// LineCancel is a cancelled line; its stock went back.
	LineCancel LineStatus = "CANCEL"
)

// DeliveryStatus is where a line's parcel is.
type DeliveryStatus string

// The delivery statuses of a line.
const (
	// DeliveryReady means not shipped yet.
	DeliveryReady DeliveryStatus = "READY"
	// DeliveryShipping means on its way ("DELIVERY" in the API).
	DeliveryShipping DeliveryStatus = "DELIVERY"
	// DeliveryComplete means delivered.
	DeliveryComplete DeliveryStatus = "COMPLETE"
)

// Limits of an order.
const (
	MinLines     = 1
	MaxLines     = 50
	MinQuantity  = 1
	MaxQuantity  = 100
	MaxReasonLen = 500
)

// Codes of the business errors the order decisions return.
const (
	CodeNotFound     = "ORDER_NOT_FOUND"
	CodeLineNotFound = "LINE_NOT_FOUND"
	CodeExists       = "ORDER_EXISTS"
	// CodeTransition refuses a change the current status does not allow (HTTP 409).
	CodeTransition = "INVALID_TRANSITION"
)

// StreamPrefix starts every order stream id.
const StreamPrefix = "order-"

// StreamID returns the id of order id's stream, "order-<uuid>".
func StreamID(id uuid.UUID) string { return StreamPrefix + id.String() }

// Address is the delivery address as it was when the order was placed.
type Address struct {
	Receiver       string `json:"receiver"`
	Address1       string `json:"address1"`
	Address2       string `json:"address2"`
	Zipcode        string `json:"zipcode"`
	Phone          string `json:"phone"`
	ReceiveType    string `json:"receive_type"`
	ReceiveMessage string `json:"receive_message"`
}

// Line is one product of an order, with the seller, name and price it had when ordered.
type Line struct {
	// Number is the line's 1-based place in the order.
	Number      int            `json:"number"`
	ProductID   uuid.UUID      `json:"product_id"`
	SellerID    uuid.UUID      `json:"seller_id"`
	ProductName string         `json:"product_name"`
	UnitPrice   int64          `json:"unit_price"`
	Quantity    int            `json:"quantity"`
	Status      LineStatus     `json:"status,omitempty"`
	Delivery    DeliveryStatus `json:"delivery,omitempty"`
}

// Order is the state of one order's stream.
type Order struct {
	ID           uuid.UUID `json:"id"`
	UserID       uuid.UUID `json:"user_id"`
	Status       Status    `json:"status"`
	Lines        []Line    `json:"lines"`
	Total        int64     `json:"total"`
	RejectReason string    `json:"reject_reason"`
	Address      Address   `json:"address"`
	PlacedAt     time.Time `json:"placed_at"`
}

// Exists reports whether the order has been placed.
func (o Order) Exists() bool { return o.ID != uuid.Nil }

// Line returns line n (1-based).
func (o Order) Line(n int) (Line, bool) {
	if n < 1 || n > len(o.Lines) {
		return Line{}, false
	}
	return o.Lines[n-1], true
}

// Evolve returns o with e applied. It never fails and ignores unknown events; it does not modify
// o's lines (it copies them before a change).
func Evolve(o Order, e Event) Order {
	o.Lines = slices.Clone(o.Lines)
	apply(&o, e)
	return o
}

// Fold replays a whole history from the empty state.
func Fold(events ...Event) Order {
	var o Order
	for _, e := range events {
		apply(&o, e)
	}
	return o
}

// apply changes o in place, including o.Lines.
func apply(o *Order, e Event) {
	switch e := e.(type) {
	case Placed:
		*o = Order{
			ID: e.OrderID, UserID: e.UserID, Status: StatusPending, Lines: slices.Clone(e.Lines),
			Total: e.Total, Address: e.Address, PlacedAt: e.At,
		}
	case Confirmed:
		o.Status = StatusOrder
		for i := range o.Lines {
			o.Lines[i].Status, o.Lines[i].Delivery = LineOrder, DeliveryReady
		}
	case Rejected:
		o.Status, o.RejectReason = StatusReject, e.Reason
	case LineAccepted:
		o.setLine(e.Line, func(l *Line) { l.Status = LineAccept })
	case LineRejected:
		o.setLine(e.Line, func(l *Line) { l.Status = LineReject })
	case LineShipped:
		o.setLine(e.Line, func(l *Line) { l.Delivery = DeliveryShipping })
	case LineDelivered:
		o.setLine(e.Line, func(l *Line) { l.Delivery = DeliveryComplete })
	case LineCancelRequested:
		o.setLine(e.Line, func(l *Line) { l.Status = LineCanceling })
	case LineCancelled:
		o.setLine(e.Line, func(l *Line) { l.Status = LineCancel })
	}
}

func (o *Order) setLine(n int, set func(*Line)) {
	if n >= 1 && n <= len(o.Lines) {
		set(&o.Lines[n-1])
	}
}

// Offer is what a product says of itself when an order is placed: the facts Place decides on,
// looked up by the caller from the product's current state.
type Offer struct {
	// Exists is false for a product nobody created.
	Exists bool
	// OnSale is whether the product may be ordered now (SELL).
	OnSale bool
	// Status names the product's status for a refusal's message.
	Status   string
	SellerID uuid.UUID
	Name     string
	Price    int64
}

// PlaceLine is one requested line of Place, with its product's offer.
type PlaceLine struct {
	ProductID uuid.UUID
	Quantity  int
	Product   Offer
}

// Place is the input of Order.Place.
type Place struct {
	OrderID uuid.UUID
	// Actor places the order for themself; only a USER may.
	Actor   domain.Actor
	Address Address
	Lines   []PlaceLine
	At      time.Time
}

// Codes of Place's refusals of a well-formed order. Both are Invalid errors whose Fields name the
// lines ("lines[2].product_id").
const (
	// CodeUnknownProduct refuses an order naming a product that does not exist.
	CodeUnknownProduct = "UNKNOWN_PRODUCT"
	// CodeProductNotOnSale refuses an order naming a product that is not on sale.
	CodeProductNotOnSale = "PRODUCT_NOT_ON_SALE"
	// CodeUserOnly refuses an order placed by an account that is not a USER.
	CodeUserOnly = "USER_ONLY"
)

// Place decides a new PENDING order for its actor, a USER: 1 to 50 lines, one per product, each of
// quantity 1 to 100; the total is the sum of unit price times quantity, at the products' prices.
// A malformed order is a VALIDATION error naming every failing field; a well-formed one naming a
// product that does not exist or is not on sale is refused with the lines' fields and
// UNKNOWN_PRODUCT or PRODUCT_NOT_ON_SALE.
func (o Order) Place(cmd Place) ([]Event, error) {
	if o.Exists() {
		return nil, domain.Conflictf(CodeExists, "order %s already exists", o.ID)
	}
	if cmd.Actor.Role != domain.RoleUser {
		return nil, domain.Forbiddenf(CodeUserOnly, "only a USER places orders")
	}
	f := make(domain.Fields)
	f.ID("order_id", cmd.OrderID)
	f.ID("user_id", cmd.Actor.ID)
	f.Text("address.receiver", cmd.Address.Receiver, 1, 100)
	f.Text("address.address1", cmd.Address.Address1, 1, 200)
	if n := len(cmd.Lines); n < MinLines || n > MaxLines {
		f["lines"] = fmt.Sprintf("must have %d to %d lines", MinLines, MaxLines)
	}
	seen := make(map[uuid.UUID]bool, len(cmd.Lines))
	for i, pl := range cmd.Lines {
		at := fmt.Sprintf("lines[%d].", i)
		f.ID(at+"product_id", pl.ProductID)
		if seen[pl.ProductID] && pl.ProductID != uuid.Nil {
			f[at+"product_id"] = "must appear in one line only"
		}
		seen[pl.ProductID] = true
		f.Range(at+"quantity", int64(pl.Quantity), MinQuantity, MaxQuantity)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	lines, total, err := offered(cmd.Lines)
	if err != nil {
		return nil, err
	}
	return []Event{Placed{OrderID: cmd.OrderID, UserID: cmd.Actor.ID, Address: cmd.Address, Lines: lines, Total: total, At: cmd.At}}, nil
}

// offered returns the order's lines at their products' offers and the total, or the refusal of
// the lines whose product does not exist or is not on sale (an unknown product is the code when
// both happen).
func offered(pls []PlaceLine) ([]Line, int64, error) {
	refused := make(domain.Fields)
	code := ""
	lines := make([]Line, len(pls))
	var total int64
	for i, pl := range pls {
		field := fmt.Sprintf("lines[%d].product_id", i)
		switch p := pl.Product; {
		case !p.Exists:
			refused[field], code = "no such product", CodeUnknownProduct
		case !p.OnSale:
			refused[field] = fmt.Sprintf("product is %s, not on sale", p.Status)
			if code == "" {
				code = CodeProductNotOnSale
			}
		}
		lines[i] = Line{
			Number: i + 1, ProductID: pl.ProductID, SellerID: pl.Product.SellerID, ProductName: pl.Product.Name,
			UnitPrice: pl.Product.Price, Quantity: pl.Quantity,
		}
		total += pl.Product.Price * int64(pl.Quantity)
	}
	if len(refused) > 0 {
		e := refused.Err().(*domain.Error)
		e.Code = code
		return nil, 0, e
	}
	return lines, total, nil
}

func (o Order) notFound() error {
	return domain.NotFoundf(CodeNotFound, "order not found")
}

func (o Order) transition(what string) error {
	return domain.Conflictf(CodeTransition, "order %s is %s: cannot %s", o.ID, o.Status, what)
}

// Confirm decides that stock is reserved for every line of a PENDING order. A confirmed order
// changes nothing; a rejected one is a conflict.
func (o Order) Confirm(at time.Time) ([]Event, error) {
	switch {
	case !o.Exists():
		return nil, o.notFound()
	case o.Status == StatusOrder:
		return nil, nil
	case o.Status != StatusPending:
		return nil, o.transition("confirm")
	}
	return []Event{Confirmed{OrderID: o.ID, UserID: o.UserID, At: at}}, nil
}

// Reject decides that a PENDING order cannot be fulfilled, for reason (such as OUT_OF_STOCK). A
// rejected order changes nothing; a confirmed one is a conflict.
func (o Order) Reject(reason string, at time.Time) ([]Event, error) {
	if !o.Exists() {
		return nil, o.notFound()
	}
	f := make(domain.Fields)
	f.Text("reason", reason, 1, MaxReasonLen)
	if err := f.Err(); err != nil {
		return nil, err
	}
	switch o.Status {
	case StatusReject:
		return nil, nil
	case StatusPending:
		return []Event{Rejected{OrderID: o.ID, UserID: o.UserID, Reason: reason, At: at}}, nil
	}
	return nil, o.transition("reject")
}

// sellerLine returns line n when actor may act as its seller; another seller's line is not found.
func (o Order) sellerLine(actor domain.Actor, n int) (Line, error) {
	if !o.Exists() {
		return Line{}, o.notFound()
	}
	l, ok := o.Line(n)
	if !ok || !actor.ActsForSeller(l.SellerID) {
		return Line{}, domain.NotFoundf(CodeLineNotFound, "order %s has no line %d for this seller", o.ID, n)
	}
	return l, nil
}

func (o Order) lineEvent(l Line, at time.Time) LineEvent {
	return LineEvent{
		OrderID: o.ID, UserID: o.UserID, Line: l.Number, ProductID: l.ProductID,
		SellerID: l.SellerID, Quantity: l.Quantity, At: at,
	}
}

func (o Order) lineTransition(l Line, what string) error {
	return domain.Conflictf(CodeTransition, "line %d of order %s is %s/%s: cannot %s", l.Number, o.ID, l.Status, l.Delivery, what)
}

// AcceptLine decides that the line's seller accepts an ORDER line.
func (o Order) AcceptLine(actor domain.Actor, line int, at time.Time) ([]Event, error) {
	l, err := o.sellerLine(actor, line)
	if err != nil {
		return nil, err
	}
	if o.Status != StatusOrder || l.Status != LineOrder {
		return nil, o.lineTransition(l, "accept")
	}
	return []Event{LineAccepted{o.lineEvent(l, at)}}, nil
}

// RejectLine decides that the line's seller rejects an ORDER line, with an optional reason of up to
// 500 characters; its stock is to be released.
func (o Order) RejectLine(actor domain.Actor, line int, reason string, at time.Time) ([]Event, error) {
	l, err := o.sellerLine(actor, line)
	if err != nil {
		return nil, err
	}
	f := make(domain.Fields)
	f.Text("reason", reason, 0, MaxReasonLen)
	if err := f.Err(); err != nil {
		return nil, err
	}
	if o.Status != StatusOrder || l.Status != LineOrder {
		return nil, o.lineTransition(l, "reject")
	}
	return []Event{LineRejected{LineEvent: o.lineEvent(l, at), Reason: strings.TrimSpace(reason)}}, nil
}

// ShipLine decides that the line's seller ships an ACCEPT line whose delivery is READY.
func (o Order) ShipLine(actor domain.Actor, line int, at time.Time) ([]Event, error) {
	l, err := o.sellerLine(actor, line)
	if err != nil {
		return nil, err
	}
	if o.Status != StatusOrder || l.Status != LineAccept || l.Delivery != DeliveryReady {
		return nil, o.lineTransition(l, "ship")
	}
	return []Event{LineShipped{o.lineEvent(l, at)}}, nil
}

// DeliverLine decides that the line's seller marks a shipped (DELIVERY) line delivered; its
// reservation is to be committed.
func (o Order) DeliverLine(actor domain.Actor, line int, at time.Time) ([]Event, error) {
	l, err := o.sellerLine(actor, line)
	if err != nil {
		return nil, err
	}
	if o.Status != StatusOrder || l.Status != LineAccept || l.Delivery != DeliveryShipping {
		return nil, o.lineTransition(l, "deliver")
	}
	return []Event{LineDelivered{o.lineEvent(l, at)}}, nil
}

// RequestCancel decides that the order's user asks to cancel an ORDER or ACCEPT line whose
// delivery is still READY. Another user's order is not found.
func (o Order) RequestCancel(actor domain.Actor, line int, at time.Time) ([]Event, error) {
	if !o.Exists() || !actor.IsUser(o.UserID) {
		return nil, o.notFound()
	}
	l, ok := o.Line(line)
	if !ok {
		return nil, domain.NotFoundf(CodeLineNotFound, "order %s has no line %d", o.ID, line)
	}
	if o.Status != StatusOrder || (l.Status != LineOrder && l.Status != LineAccept) || l.Delivery != DeliveryReady {
		return nil, o.lineTransition(l, "request a cancel")
	}
	return []Event{LineCancelRequested{o.lineEvent(l, at)}}, nil
}

// ConfirmCancel decides that the line's seller confirms a CANCELING line; its stock is to be
// released.
func (o Order) ConfirmCancel(actor domain.Actor, line int, at time.Time) ([]Event, error) {
	l, err := o.sellerLine(actor, line)
	if err != nil {
		return nil, err
	}
	if o.Status != StatusOrder || l.Status != LineCanceling {
		return nil, o.lineTransition(l, "confirm the cancel")
	}
	return []Event{LineCancelled{o.lineEvent(l, at)}}, nil
}

package product

import (
	"errors"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
)

// Status is where a product is in its life.
type Status string

// The statuses of a product.
const (
	// StatusRegistered is the status of a new product: in the shop, not on sale.
	StatusRegistered Status = "REGISTERED"
	// StatusSell means on sale: orders may reserve its stock.
	StatusSell Status = "SELL"
	// StatusSoldOut means shown but not on sale, set by the seller or reached by itself at stock 0.
	StatusSoldOut Status = "SOLD_OUT"
	// StatusUnregistered means withdrawn for good; it is final.
	StatusUnregistered Status = "UNREGISTERED"
)

// Limits of a product's fields.
const (
	MinPrice   = 1
	MaxPrice   = 100_000_000
	MaxStock   = 1_000_000
	MaxNameLen = 100
)

// Codes of the business errors the product decisions return.
const (
	CodeNotFound     = "PRODUCT_NOT_FOUND"
	CodeExists       = "PRODUCT_EXISTS"
	CodeNotOwner     = "NOT_PRODUCT_OWNER"
	CodeUnregistered = "PRODUCT_UNREGISTERED"
	CodeNotOnSale    = "NOT_ON_SALE"
	CodeOutOfStock   = "OUT_OF_STOCK"
	// CodeStockLimit refuses a restock that could take stock past MaxStock; the API answers 422.
	CodeStockLimit = "STOCK_LIMIT"
)

// StreamPrefix starts every product stream id.
const StreamPrefix = "product-"

// StreamID returns the id of product id's stream, "product-<uuid>".
func StreamID(id uuid.UUID) string { return StreamPrefix + id.String() }

// Product is the state of one product's stream: its catalog facts and its inventory.
type Product struct {
	ID          uuid.UUID `json:"id"`
	SellerID    uuid.UUID `json:"seller_id"`
	ItemID      uuid.UUID `json:"item_id"`
	CategoryID  uuid.UUID `json:"category_id"`
	BrandID     uuid.UUID `json:"brand_id"`
	Name        string    `json:"name"`
	Price       int64     `json:"price"`
	Stock       int       `json:"stock"`
	Status      Status    `json:"status"`
	AutoSoldOut bool      `json:"auto_sold_out"`
	// Reservations maps an order id to the quantity it reserved, for the orders that can still
	// release it (see the package doc).
	Reservations map[uuid.UUID]int `json:"reservations"`
	CreatedAt    time.Time         `json:"created_at"`
}

// Exists reports whether the product has been created.
func (p Product) Exists() bool { return p.ID != uuid.Nil }

// Reserved returns the quantity held by open reservations.
func (p Product) Reserved() int {
	n := 0
	for _, q := range p.Reservations {
		n += q
	}
	return n
}

// Evolve returns p with e applied. It never fails and ignores unknown events; it does not modify
// p's reservations map (it copies it before a change).
func Evolve(p Product, e Event) Product {
	switch e.(type) {
	case StockReserved, StockReleased, ReservationCommitted:
		p.Reservations = maps.Clone(p.Reservations)
	}
	apply(&p, e)
	return p
}

// Fold replays a whole history from the empty state.
func Fold(events ...Event) Product {
	var p Product
	for _, e := range events {
		apply(&p, e)
	}
	return p
}

// FoldFrom replays events on top of p (a snapshot); p's reservations map is copied once, not per
// event.
func FoldFrom(p Product, events ...Event) Product {
	p = Own(p)
	for _, e := range events {
		apply(&p, e)
	}
	return p
}

// Own returns a copy of p with its own reservations map, which Apply may change: a caller that
// applies many events (a batch of decisions) copies the map once instead of once per event.
func Own(p Product) Product {
	p.Reservations = maps.Clone(p.Reservations)
	return p
}

// Apply applies e to *p in place, including its reservations map: only to a state from Own (or
// Fold) that nobody else holds. Like Evolve it never fails and ignores unknown events.
func Apply(p *Product, e Event) { apply(p, e) }

// apply changes p in place, including p.Reservations.
func apply(p *Product, e Event) {
	switch e := e.(type) {
	case Created:
		*p = Product{
			ID: e.ProductID, SellerID: e.SellerID, ItemID: e.ItemID, CategoryID: e.CategoryID,
			BrandID: e.BrandID, Name: e.Name, Price: e.Price, Stock: e.Stock, Status: e.Status,
			CreatedAt: e.At,
		}
	case Edited:
		p.Name, p.Price = e.Name, e.Price
	case StatusChanged:
		p.Status = e.Status
		p.AutoSoldOut = e.Auto && e.Status == StatusSoldOut
	case Restocked:
		p.Stock = e.Stock
	case StockReserved:
		p.Stock = e.Stock
		if p.Reservations == nil {
			p.Reservations = make(map[uuid.UUID]int)
		}
		p.Reservations[e.OrderID] = e.Quantity
	case StockReleased:
		p.Stock = e.Stock
		delete(p.Reservations, e.OrderID)
	case ReservationCommitted:
		delete(p.Reservations, e.OrderID)
	}
}

// Create is the input of Product.Create.
type Create struct {
	ProductID  uuid.UUID
	SellerID   uuid.UUID
	ItemID     uuid.UUID
	CategoryID uuid.UUID
	BrandID    uuid.UUID
	Name       string
	Price      int64
	Stock      int
	At         time.Time
}

// Create decides the creation of a product from an item, REGISTERED, for the seller cmd.SellerID.
func (p Product) Create(actor domain.Actor, cmd Create) ([]Event, error) {
	if p.Exists() {
		return nil, domain.Conflictf(CodeExists, "product %s already exists", p.ID)
	}
	if !actor.ActsForSeller(cmd.SellerID) {
		return nil, domain.Forbiddenf(CodeNotOwner, "only the seller or a supervisor may create a product for seller %s", cmd.SellerID)
	}
	f := make(domain.Fields)
	f.ID("product_id", cmd.ProductID)
	f.ID("seller_id", cmd.SellerID)
	f.ID("item_id", cmd.ItemID)
	f.ID("category_id", cmd.CategoryID)
	f.ID("brand_id", cmd.BrandID)
	f.Text("name", cmd.Name, 1, MaxNameLen)
	f.Range("price", cmd.Price, MinPrice, MaxPrice)
	f.Range("stock", int64(cmd.Stock), 0, MaxStock)
	if err := f.Err(); err != nil {
		return nil, err
	}
	return []Event{Created{
		ProductID: cmd.ProductID, SellerID: cmd.SellerID, ItemID: cmd.ItemID, CategoryID: cmd.CategoryID,
		BrandID: cmd.BrandID, Name: strings.TrimSpace(cmd.Name), Price: cmd.Price, Stock: cmd.Stock,
		Status: StatusRegistered, At: cmd.At,
	}}, nil
}

// owned checks that p exists and that actor may act for its seller.
func (p Product) owned(actor domain.Actor) error {
	if !p.Exists() {
		return domain.NotFoundf(CodeNotFound, "product not found")
	}
	if !actor.ActsForSeller(p.SellerID) {
		return domain.Forbiddenf(CodeNotOwner, "product %s belongs to another seller", p.ID)
	}
	return nil
}

func (p Product) unregistered() error {
	return domain.Conflictf(CodeUnregistered, "product %s is unregistered", p.ID)
}

// Edit decides a change of name and price by the owning seller. Unchanged values are a no-op.
func (p Product) Edit(actor domain.Actor, name string, price int64, at time.Time) ([]Event, error) {
	if err := p.owned(actor); err != nil {
		return nil, err
	}
	f := make(domain.Fields)
	f.Text("name", name, 1, MaxNameLen)
	f.Range("price", price, MinPrice, MaxPrice)
	if err := f.Err(); err != nil {
		return nil, err
	}
	if p.Status == StatusUnregistered {
		return nil, p.unregistered()
	}
	name = strings.TrimSpace(name)
	if name == p.Name && price == p.Price {
		return nil, nil
	}
	return []Event{Edited{ProductID: p.ID, Name: name, Price: price, At: at}}, nil
}

// ChangeStatus decides a status change by the owning seller: to SELL, SOLD_OUT or UNREGISTERED,
// never out of UNREGISTERED. Asking for the current status is a no-op. Asking for SELL with no
// stock makes the product sold out by itself, so that the next restock or release puts it on sale.
// Asking for SOLD_OUT when it is sold out by itself makes it sold out by the seller.
func (p Product) ChangeStatus(actor domain.Actor, status Status, at time.Time) ([]Event, error) {
	if err := p.owned(actor); err != nil {
		return nil, err
	}
	if status != StatusSell && status != StatusSoldOut && status != StatusUnregistered {
		return nil, domain.Fields{"status": "must be SELL, SOLD_OUT or UNREGISTERED"}.Err()
	}
	if p.Status == StatusUnregistered {
		if status == StatusUnregistered {
			return nil, nil
		}
		return nil, p.unregistered()
	}
	auto := false
	if status == StatusSell && p.Stock == 0 {
		status, auto = StatusSoldOut, true
	}
	if status == p.Status && auto == p.AutoSoldOut {
		return nil, nil
	}
	return []Event{StatusChanged{ProductID: p.ID, Status: status, Auto: auto, At: at}}, nil
}

// Restock decides adding qty (> 0) to the stock by the owning seller. Stock plus open reservations
// never exceeds MaxStock, so that releases cannot push stock past it either. A product that sold
// out by itself goes back on sale.
func (p Product) Restock(actor domain.Actor, qty int, at time.Time) ([]Event, error) {
	if err := p.owned(actor); err != nil {
		return nil, err
	}
	if qty <= 0 {
		return nil, domain.Fields{"quantity": "must be greater than 0"}.Err()
	}
	if p.Status == StatusUnregistered {
		return nil, p.unregistered()
	}
	if room := MaxStock - p.Stock - p.Reserved(); qty > room {
		return nil, domain.Conflictf(CodeStockLimit, "restock of %d would take stock past %d (room for %d)", qty, MaxStock, room)
	}
	stock := p.Stock + qty
	events := []Event{Restocked{ProductID: p.ID, Quantity: qty, Stock: stock, At: at}}
	return append(events, p.backOnSale(at)...), nil
}

// backOnSale returns the event that puts a product sold out by itself back on sale.
func (p Product) backOnSale(at time.Time) []Event {
	if p.Status == StatusSoldOut && p.AutoSoldOut {
		return []Event{StatusChanged{ProductID: p.ID, Status: StatusSell, Auto: true, At: at}}
	}
	return nil
}

// Reserve decides setting qty aside for orderID. Only a product on sale with enough stock reserves;
// a second Reserve for the same order changes nothing. Stock reaching 0 makes the product sold out
// by itself. A refusal's code is the reason the order is rejected for (see RejectReason): a
// product sold out by itself is OUT_OF_STOCK like a short line, NOT_ON_SALE is only for a product
// the seller took off sale (or never put on sale).
func (p Product) Reserve(orderID uuid.UUID, qty int, at time.Time) ([]Event, error) {
	if !p.Exists() {
		return nil, domain.NotFoundf(CodeNotFound, "product not found")
	}
	f := make(domain.Fields)
	f.ID("order_id", orderID)
	if qty <= 0 {
		f["quantity"] = "must be greater than 0"
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if _, ok := p.Reservations[orderID]; ok {
		return nil, nil
	}
	if p.Status == StatusSoldOut && p.AutoSoldOut {
		return nil, domain.Conflictf(CodeOutOfStock, "product %s sold out, %d wanted", p.ID, qty)
	}
	if p.Status != StatusSell {
		return nil, domain.Conflictf(CodeNotOnSale, "product %s is %s, not on sale", p.ID, p.Status)
	}
	if qty > p.Stock {
		return nil, domain.Conflictf(CodeOutOfStock, "product %s has %d in stock, %d wanted", p.ID, p.Stock, qty)
	}
	stock := p.Stock - qty
	events := []Event{StockReserved{ProductID: p.ID, OrderID: orderID, Quantity: qty, Stock: stock, At: at}}
	if stock == 0 {
		events = append(events, StatusChanged{ProductID: p.ID, Status: StatusSoldOut, Auto: true, At: at})
	}
	return events, nil
}

// Release decides giving back what orderID reserved, whatever the status. An order without an open
// reservation (never reserved, released or committed) changes nothing. A product sold out by
// itself goes back on sale.
func (p Product) Release(orderID uuid.UUID, at time.Time) ([]Event, error) {
	if !p.Exists() {
		return nil, domain.NotFoundf(CodeNotFound, "product not found")
	}
	qty, ok := p.Reservations[orderID]
	if !ok {
		return nil, nil
	}
	events := []Event{StockReleased{ProductID: p.ID, OrderID: orderID, Quantity: qty, Stock: p.Stock + qty, At: at}}
	return append(events, p.backOnSale(at)...), nil
}

// Commit decides that what orderID reserved is spent for good (its line was delivered): the
// reservation is dropped and the stock does not change. No open reservation changes nothing.
func (p Product) Commit(orderID uuid.UUID, at time.Time) ([]Event, error) {
	if !p.Exists() {
		return nil, domain.NotFoundf(CodeNotFound, "product not found")
	}
	qty, ok := p.Reservations[orderID]
	if !ok {
		return nil, nil
	}
	return []Event{ReservationCommitted{ProductID: p.ID, OrderID: orderID, Quantity: qty, At: at}}, nil
}

// RejectReason returns the reason an order is rejected for when Reserve refused it with err:
// OUT_OF_STOCK or NOT_ON_SALE, the refusal's own code, and NOT_ON_SALE for a product that does not
// exist (order.Place refuses those, so only an order.placed written around it names one; retrying
// it would hold up every message behind it for good). Any other error (a technical one, to be
// retried) gives "".
func RejectReason(err error) string {
	var de *domain.Error
	if !errors.As(err, &de) {
		return ""
	}
	switch de.Code {
	case CodeOutOfStock, CodeNotOnSale:
		return de.Code
	case CodeNotFound:
		return CodeNotOnSale
	}
	return ""
}

package product

import (
	"time"

	"github.com/google/uuid"
)

// Event is a fact in a product's stream. Each event type has an explicit, versioned wire name.
type Event interface {
	// EventType returns the event's wire name, such as "product.stock_reserved.v1".
	EventType() string
}

// Wire names of the product events. They never change; a new shape gets a new version suffix.
const (
	TypeCreated              = "product.created.v1"
	TypeEdited               = "product.edited.v1"
	TypeStatusChanged        = "product.status_changed.v1"
	TypeRestocked            = "product.restocked.v1"
	TypeStockReserved        = "product.stock_reserved.v1"
	TypeStockReleased        = "product.stock_released.v1"
	TypeReservationCommitted = "product.reservation_committed.v1"
)

// Created happens when a seller puts a new product in the shop; it starts REGISTERED.
type Created struct {
	ProductID  uuid.UUID `json:"product_id"`
	SellerID   uuid.UUID `json:"seller_id"`
	ItemID     uuid.UUID `json:"item_id"`
	CategoryID uuid.UUID `json:"category_id"`
	BrandID    uuid.UUID `json:"brand_id"`
	Name       string    `json:"name"`
	Price      int64     `json:"price"`
	Stock      int       `json:"stock"`
	Status     Status    `json:"status"`
	At         time.Time `json:"at"`
}

// Edited happens when the seller changes the name or price.
type Edited struct {
	ProductID uuid.UUID `json:"product_id"`
	Name      string    `json:"name"`
	Price     int64     `json:"price"`
	At        time.Time `json:"at"`
}

// StatusChanged happens when the seller changes the status, or, with Auto set, when the product
// sells out by itself or comes back on sale by itself.
type StatusChanged struct {
	ProductID uuid.UUID `json:"product_id"`
	Status    Status    `json:"status"`
	Auto      bool      `json:"auto"`
	At        time.Time `json:"at"`
}

// Restocked happens when the seller adds Quantity to the stock; Stock is the stock after it.
type Restocked struct {
	ProductID uuid.UUID `json:"product_id"`
	Quantity  int       `json:"quantity"`
	Stock     int       `json:"stock"`
	At        time.Time `json:"at"`
}

// StockReserved happens when Quantity is set aside for an order; Stock is the stock after it.
type StockReserved struct {
	ProductID uuid.UUID `json:"product_id"`
	OrderID   uuid.UUID `json:"order_id"`
	Quantity  int       `json:"quantity"`
	Stock     int       `json:"stock"`
	At        time.Time `json:"at"`
}

// StockReleased happens when an order's reservation goes back to stock (the order was rejected,
// or its line was rejected or cancelled); Stock is the stock after it.
type StockReleased struct {
	ProductID uuid.UUID `json:"product_id"`
	OrderID   uuid.UUID `json:"order_id"`
	Quantity  int       `json:"quantity"`
	Stock     int       `json:"stock"`
	At        time.Time `json:"at"`
}

// ReservationCommitted happens when an order's reserved Quantity is spent for good (its line was
// delivered); the stock does not change and the reservation is forgotten.
type ReservationCommitted struct {
	ProductID uuid.UUID `json:"product_id"`
	OrderID   uuid.UUID `json:"order_id"`
	Quantity  int       `json:"quantity"`
	At        time.Time `json:"at"`
}

// EventType returns "product.created.v1".
func (Created) EventType() string { return TypeCreated }

// EventType returns "product.edited.v1".
func (Edited) EventType() string { return TypeEdited }

// EventType returns "product.status_changed.v1".
func (StatusChanged) EventType() string { return TypeStatusChanged }

// EventType returns "product.restocked.v1".
func (Restocked) EventType() string { return TypeRestocked }

// EventType returns "product.stock_reserved.v1".
func (StockReserved) EventType() string { return TypeStockReserved }

// EventType returns "product.stock_released.v1".
func (StockReleased) EventType() string { return TypeStockReleased }

// EventType returns "product.reservation_committed.v1".
func (ReservationCommitted) EventType() string { return TypeReservationCommitted }

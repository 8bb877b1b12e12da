package commands

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
)

// Codes of PlaceOrder's refusals; both are Invalid errors the API answers 422, with Fields naming
// the lines ("lines[2].product_id").
const (
	// CodeUnknownProduct refuses an order naming a product that does not exist.
	CodeUnknownProduct = "UNKNOWN_PRODUCT"
	// CodeProductNotOnSale refuses an order naming a product that is not SELL.
	CodeProductNotOnSale = "PRODUCT_NOT_ON_SALE"
)

// PlaceOrder places an order, PENDING until the process manager reserves its stock (POST /orders,
// USER). Prices, names and sellers come from the products, never from the client.
type PlaceOrder struct {
	// OrderID is the new order's id; zero means one derived from the Idempotency-Key's CommandID,
	// or a new id.
	OrderID uuid.UUID
	// Address is the delivery address, looked up by the caller from the user's address_id.
	Address order.Address
	Lines   []PlaceOrderLine
}

// PlaceOrderLine is one requested line: a product and a quantity.
type PlaceOrderLine struct {
	ProductID uuid.UUID
	Quantity  int
}

// PlaceOrderHandler handles PlaceOrder.
type PlaceOrderHandler struct{ base }

// Handle reads every product's current stream state, refuses the order when one is unknown or not
// on sale, and appends order.placed with the products' names, prices and sellers. The acting
// account must be a USER: the order is theirs.
func (h *PlaceOrderHandler) Handle(ctx context.Context, cmd PlaceOrder) (res Result[order.Order], err error) {
	defer h.observe("PlaceOrder", &err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	if m.Actor.Role != domain.RoleUser {
		return res, domain.Forbiddenf("USER_ONLY", "only a USER places orders")
	}
	id := newID(cmd.OrderID, m, "order")
	place := order.Place{OrderID: id, UserID: m.Actor.ID, Address: cmd.Address, Lines: make([]order.PlaceLine, len(cmd.Lines)), At: at}
	// The request's own shape first (line count, quantities, duplicates, address), with stand-in
	// product facts, so that a malformed order is a 400 before any product is read.
	for i, l := range cmd.Lines {
		place.Lines[i] = order.PlaceLine{ProductID: l.ProductID, SellerID: uuid.Max, ProductName: "-", UnitPrice: 1, Quantity: l.Quantity}
	}
	if _, err := (order.Order{}).Place(place); err != nil {
		return res, err
	}
	refused := make(domain.Fields)
	code := ""
	for i, l := range cmd.Lines {
		p, err := h.repos.Products.Load(ctx, l.ProductID)
		if err != nil {
			return res, err
		}
		field := fmt.Sprintf("lines[%d].product_id", i)
		switch {
		case !p.Value.Exists():
			refused[field] = "no such product"
			code = CodeUnknownProduct
		case p.Value.Status != product.StatusSell:
			refused[field] = fmt.Sprintf("product is %s, not on sale", p.Value.Status)
			if code == "" {
				code = CodeProductNotOnSale
			}
		}
		place.Lines[i] = order.PlaceLine{
			ProductID: l.ProductID, SellerID: p.Value.SellerID, ProductName: p.Value.Name,
			UnitPrice: p.Value.Price, Quantity: l.Quantity,
		}
	}
	if len(refused) > 0 {
		e := refused.Err().(*domain.Error)
		e.Code = code
		return res, e
	}
	st, err := h.repos.Orders.UpdateState(ctx, id, m, func(o order.Order) ([]order.Event, error) {
		return o.Place(place)
	})
	if err != nil {
		return res, err
	}
	return result(id, st), nil
}

package commands

import (
	"context"
	"fmt"
	"sync"

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

// Handle reads every product's state (see loadProducts), refuses the order when one is unknown or
// not on sale, and appends order.placed with the products' names, prices and sellers. The acting
// account must be a USER: the order is theirs.
func (h *PlaceOrderHandler) Handle(ctx context.Context, cmd PlaceOrder) (res Result[order.Order], err error) {
	ctx, done := h.begin(ctx, "PlaceOrder")
	defer done(&err)
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
	products, err := h.loadProducts(ctx, cmd.Lines)
	if err != nil {
		return res, err
	}
	for i, l := range cmd.Lines {
		p := products[i]
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
	st, err := h.repos.Orders.CreateState(ctx, id, m, func(o order.Order) ([]order.Event, error) {
		return o.Place(place)
	})
	if err != nil {
		return res, err
	}
	return result(id, st), nil
}

// loadProducts returns the lines' products, one state per line. A product cached on sale while
// the log's follower keeps the cache current (Outcomes.Run) is taken from the cache: it may lag
// behind its stream by the follower's lag (milliseconds), which is harmless here, because the
// process manager's reservation decides on the product's current stream, and rejects the order if
// the product went off sale meanwhile. The others are loaded, concurrently, so that a refusal is
// always decided on the product's current stream. When loads fail, the error is the one of the
// first failing line, so that the same failures give the same error.
func (h *PlaceOrderHandler) loadProducts(ctx context.Context, lines []PlaceOrderLine) ([]State[product.Product], error) {
	products := make([]State[product.Product], len(lines))
	errs := make([]error, len(lines))
	var wg sync.WaitGroup
	for i, l := range lines {
		if p, ok := h.repos.Products.recent(l.ProductID); ok && p.Value.Status == product.StatusSell {
			products[i] = p
			continue
		}
		wg.Go(func() {
			products[i], errs[i] = h.repos.Products.Load(ctx, l.ProductID)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return products, nil
}

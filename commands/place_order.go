package commands

import (
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Codes of PlaceOrder's refusals of a well-formed order, as order.Place decides them; both are
// Invalid errors the API answers 422, with Fields naming the lines ("lines[2].product_id").
const (
	// CodeUnknownProduct refuses an order naming a product that does not exist.
	CodeUnknownProduct = order.CodeUnknownProduct
	// CodeProductNotOnSale refuses an order naming a product that is not SELL.
	CodeProductNotOnSale = order.CodeProductNotOnSale
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
type PlaceOrderHandler struct {
	base
	settle *Fulfilment // SettleWith's
}

// Handle lets order.Place decide on the products' offers; the order is the acting USER's. With a
// Fulfilment given to SettleWith, an order whose products are cached and idle is placed and
// settled in one append (Fulfilment.settleAtPlacement); any other goes as follows. The
// offers are those of the products as this process's cache holds them when it holds them all and
// none of their writers is busy, and the order is appended only if none of those products' streams
// has moved since (Repo.CreateStateIf): no read on the way. When one has, when the cache lacks
// one, when a product's writer has work queued (a hot product, whose stream moves all the time:
// its writer answers the read with its next append), or when the decision on the cached offers is
// a refusal, it reads every product's current state (Repo.Current) and decides again. Either way
// whatever a seller's answered command changed, in any process, is in the offers the order takes.
func (h *PlaceOrderHandler) Handle(ctx context.Context, cmd PlaceOrder) (res Result[order.Order], err error) {
	ctx, done := h.begin(ctx, "PlaceOrder")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	id := newID(cmd.OrderID, m, "order")
	place := func(products []product.Product) func(order.Order) ([]order.Event, error) {
		p := order.Place{OrderID: id, Actor: m.Actor, Address: cmd.Address, Lines: make([]order.PlaceLine, len(cmd.Lines)), At: at}
		for i, l := range cmd.Lines {
			p.Lines[i] = order.PlaceLine{ProductID: l.ProductID, Quantity: l.Quantity, Product: offer(products[i])}
		}
		return func(o order.Order) ([]order.Event, error) { return o.Place(p) }
	}
	if h.settle != nil {
		if st, ok := h.settle.settleAtPlacement(ctx, id, m, at, cmd.Lines, place); ok {
			return result(id, st), nil
		}
	}
	if products, conds, ok := h.cachedProducts(cmd.Lines); ok {
		st, err := h.repos.Orders.CreateStateIf(ctx, id, m, conds, place(products))
		var refusal *domain.Error
		switch {
		case err == nil:
			return result(id, st), nil
		case !errors.Is(err, eventstore.ErrConditionFailed) && !errors.As(err, &refusal):
			return res, err
		}
	}
	products, err := h.products(ctx, cmd.Lines)
	if err != nil {
		return res, err
	}
	st, err := h.repos.Orders.CreateState(ctx, id, m, place(products))
	if err != nil {
		return res, err
	}
	return result(id, st), nil
}

// cachedProducts returns the lines' products as this process's cache holds them, one per line,
// and a condition that each product's stream still ends there; false when the store checks no
// conditions, or the cache lacks one of them (or its last event's id), or its writer is busy
// (Repo.Cached). A line naming no product (the nil id) gets the zero product and no condition, for
// order.Place to refuse.
func (h *PlaceOrderHandler) cachedProducts(lines []PlaceOrderLine) ([]product.Product, []eventstore.StreamAt, bool) {
	if !h.repos.Orders.Conditional() {
		return nil, nil, false
	}
	products := make([]product.Product, len(lines))
	conds := make([]eventstore.StreamAt, 0, len(lines))
	for i, l := range lines {
		if l.ProductID == uuid.Nil {
			continue
		}
		st, at, ok := h.repos.Products.Cached(l.ProductID)
		if !ok {
			return nil, nil, false
		}
		products[i], conds = st.Value, append(conds, at)
	}
	return products, conds, true
}

// offer is what p says of itself to an order.
func offer(p product.Product) order.Offer {
	return order.Offer{Exists: p.Exists(), OnSale: p.Status == product.StatusSell, Status: string(p.Status),
		SellerID: p.SellerID, Name: p.Name, Price: p.Price}
}

// products returns the lines' products as their streams have them now, one per line, read
// concurrently. A line naming no product (the nil id) or a product twice is left to order.Place to
// refuse. When reads fail, the error is the one of the first failing line, so that the same
// failures give the same error.
func (h *PlaceOrderHandler) products(ctx context.Context, lines []PlaceOrderLine) ([]product.Product, error) {
	products := make([]product.Product, len(lines))
	errs := make([]error, len(lines))
	var wg sync.WaitGroup
	for i, l := range lines {
		if l.ProductID == uuid.Nil {
			continue
		}
		wg.Go(func() {
			st, err := h.repos.Products.Current(ctx, l.ProductID)
			products[i], errs[i] = st.Value, err
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

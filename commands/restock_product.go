package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/product"
)

// RestockProduct adds Quantity to a product's stock (POST /products/{id}/stock, owning SELLER).
type RestockProduct struct {
	ProductID uuid.UUID
	Quantity  int
}

// RestockProductHandler handles RestockProduct.
type RestockProductHandler struct{ base }

// Handle restocks the product. Past the stock limit it is the domain's STOCK_LIMIT conflict, which
// the API answers 422.
func (h *RestockProductHandler) Handle(ctx context.Context, cmd RestockProduct) (res Result[product.Product], err error) {
	ctx, done := h.begin(ctx, "RestockProduct")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	st, err := h.repos.Products.UpdateState(ctx, cmd.ProductID, m, func(p product.Product) ([]product.Event, error) {
		return p.Restock(m.Actor, cmd.Quantity, at)
	})
	if err != nil {
		return res, err
	}
	return result(cmd.ProductID, st), nil
}

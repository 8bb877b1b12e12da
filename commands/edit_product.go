package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/product"
)

// EditProduct changes a product's name, price or both (PATCH /products/{id}, owning SELLER): a nil
// field keeps the product's value.
type EditProduct struct {
	ProductID uuid.UUID
	Name      *string
	Price     *int64
}

// EditProductHandler handles EditProduct.
type EditProductHandler struct{ base }

// Handle edits the product; unchanged values change nothing.
func (h *EditProductHandler) Handle(ctx context.Context, cmd EditProduct) (res Result[product.Product], err error) {
	ctx, done := h.begin(ctx, "EditProduct")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	st, err := h.repos.Products.UpdateState(ctx, cmd.ProductID, m, func(p product.Product) ([]product.Event, error) {
		name, price := p.Name, p.Price
		if cmd.Name != nil {
			name = *cmd.Name
		}
		if cmd.Price != nil {
			price = *cmd.Price
		}
		return p.Edit(m.Actor, name, price, at)
	})
	if err != nil {
		return res, err
	}
	return result(cmd.ProductID, st), nil
}

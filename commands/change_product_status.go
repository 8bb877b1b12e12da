package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/product"
)

// ChangeProductStatus sets a product SELL, SOLD_OUT or UNREGISTERED (POST /products/{id}/status,
// owning SELLER).
type ChangeProductStatus struct {
	ProductID uuid.UUID
	Status    product.Status
}

// ChangeProductStatusHandler handles ChangeProductStatus.
type ChangeProductStatusHandler struct{ base }

// Handle changes the status; asking for the current one changes nothing.
func (h *ChangeProductStatusHandler) Handle(ctx context.Context, cmd ChangeProductStatus) (res Result[product.Product], err error) {
	ctx, done := h.begin(ctx, "ChangeProductStatus")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	st, err := h.repos.Products.UpdateState(ctx, cmd.ProductID, m, func(p product.Product) ([]product.Event, error) {
		return p.ChangeStatus(m.Actor, cmd.Status, at)
	})
	if err != nil {
		return res, err
	}
	return result(cmd.ProductID, st), nil
}

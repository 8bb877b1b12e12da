package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/product"
)

// CreateProduct puts a product made from an item in the shop, REGISTERED (POST /products,
// SELLER). The category and brand come from the item.
type CreateProduct struct {
	// ProductID is the new product's id; zero means a new id.
	ProductID uuid.UUID
	// SellerID is the seller the product belongs to; zero means the acting account (a SELLER).
	SellerID uuid.UUID
	ItemID   uuid.UUID
	Name     string
	Price    int64
	Stock    int
}

// CreateProductHandler handles CreateProduct.
type CreateProductHandler struct{ base }

// Handle creates the product. An unknown item is not found.
func (h *CreateProductHandler) Handle(ctx context.Context, cmd CreateProduct) (res Result[product.Product], err error) {
	ctx, done := h.begin(ctx, "CreateProduct")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	id := newID(cmd.ProductID, m, "product")
	seller := cmd.SellerID
	if seller == uuid.Nil {
		seller = m.Actor.ID
	}
	create := product.Create{
		ProductID: id, SellerID: seller, ItemID: cmd.ItemID, Name: cmd.Name, Price: cmd.Price, Stock: cmd.Stock, At: at,
	}
	if cmd.ItemID != uuid.Nil {
		item, err := h.repos.Items.Load(ctx, cmd.ItemID)
		if err != nil {
			return res, err
		}
		if !item.Value.Exists() {
			return res, domain.NotFoundf(catalog.CodeItemNotFound, "item %s not found", cmd.ItemID)
		}
		create.CategoryID, create.BrandID = item.Value.CategoryID, item.Value.BrandID
	}
	st, err := h.repos.Products.CreateState(ctx, id, m, func(p product.Product) ([]product.Event, error) {
		return p.Create(m.Actor, create)
	})
	if err != nil {
		return res, err
	}
	return result(id, st), nil
}

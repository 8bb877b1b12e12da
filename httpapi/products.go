package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/readmodels"
)

// ProductView is a product. The names of its item, category and brand and its ratings come with
// reads (the catalog and the seller's list), not with the answer to a write.
type ProductView struct {
	ID           uuid.UUID  `json:"id"`
	SellerID     uuid.UUID  `json:"seller_id"`
	ItemID       uuid.UUID  `json:"item_id"`
	ItemName     string     `json:"item_name,omitempty"`
	CategoryID   uuid.UUID  `json:"category_id"`
	CategoryName string     `json:"category_name,omitempty"`
	BrandID      uuid.UUID  `json:"brand_id"`
	BrandName    string     `json:"brand_name,omitempty"`
	Name         string     `json:"name" example:"Trail runner 2"`
	Price        int64      `json:"price" doc:"KRW" example:"89000"`
	Stock        int        `json:"stock" example:"30"`
	Status       string     `json:"status" enum:"REGISTERED,SELL,SOLD_OUT,UNREGISTERED"`
	AvgRating    *float64   `json:"avg_rating,omitempty" doc:"Mean rating of the live reviews, 2 decimals; 0 without reviews (reads only)"`
	ReviewCount  *int       `json:"review_count,omitempty" doc:"Number of live reviews (reads only)"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    *time.Time `json:"updated_at,omitempty" doc:"Reads only"`
}

func productView(p product.Product) ProductView {
	return ProductView{ID: p.ID, SellerID: p.SellerID, ItemID: p.ItemID, CategoryID: p.CategoryID, BrandID: p.BrandID,
		Name: p.Name, Price: p.Price, Stock: p.Stock, Status: string(p.Status), CreatedAt: p.CreatedAt.UTC()}
}

func productRead(p readmodels.Product) ProductView {
	rating, count, updated := p.AvgRating, p.ReviewCount, p.UpdatedAt
	return ProductView{ID: p.ID, SellerID: p.SellerID, ItemID: p.ItemID, ItemName: p.ItemName,
		CategoryID: p.CategoryID, CategoryName: p.CategoryName, BrandID: p.BrandID, BrandName: p.BrandName,
		Name: p.Name, Price: p.Price, Stock: p.Stock, Status: string(p.Status),
		AvgRating: &rating, ReviewCount: &count, CreatedAt: p.CreatedAt, UpdatedAt: &updated}
}

// CreateProductBody is POST /products.
type CreateProductBody struct {
	ItemID   uuid.UUID `json:"item_id" format:"uuid" doc:"An existing item (else 404); the product takes its category and brand"`
	Name     string    `json:"name" minLength:"1" maxLength:"100" pattern:"\\S" patternDescription:"not blank"`
	Price    int64     `json:"price" minimum:"1" maximum:"100000000" doc:"KRW, 1 to 100,000,000"`
	Stock    int       `json:"stock" minimum:"0" maximum:"1000000" doc:"0 to 1,000,000"`
	SellerID uuid.UUID `json:"seller_id,omitempty" format:"uuid" doc:"The seller the product belongs to: required for a SUPERVISOR, absent (or the caller) for a SELLER"`
}

// CreateProductInput is POST /products.
type CreateProductInput struct {
	Body CreateProductBody
}

// EditProductBody is PATCH /products/{id}: a partial update, at least one field; a field left out
// keeps its value.
type EditProductBody struct {
	Name  *string `json:"name,omitempty" minLength:"1" maxLength:"100" pattern:"\\S" patternDescription:"not blank"`
	Price *int64  `json:"price,omitempty" minimum:"1" maximum:"100000000" doc:"KRW, 1 to 100,000,000"`
}

// Resolve requires one field at least.
func (b *EditProductBody) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	if b.Name == nil && b.Price == nil {
		return []error{&huma.ErrorDetail{Location: prefix.String(), Message: "must change at least one of name, price"}}
	}
	return nil
}

// EditProductInput is PATCH /products/{id}.
type EditProductInput struct {
	ID   uuid.UUID `path:"id" format:"uuid" doc:"Product id"`
	Body EditProductBody
}

// ProductStatusBody is POST /products/{id}/status.
type ProductStatusBody struct {
	Status string `json:"status" enum:"SELL,SOLD_OUT,UNREGISTERED" doc:"UNREGISTERED is final. SELL with no stock makes the product SOLD_OUT until stock comes back."`
}

// ProductStatusInput is POST /products/{id}/status.
type ProductStatusInput struct {
	ID   uuid.UUID `path:"id" format:"uuid" doc:"Product id"`
	Body ProductStatusBody
}

// RestockBody is POST /products/{id}/stock.
type RestockBody struct {
	Quantity int `json:"quantity" minimum:"1" maximum:"1000000" doc:"Added to the stock; stock (with what open orders hold) never exceeds 1,000,000: past it 422"`
}

// RestockInput is POST /products/{id}/stock.
type RestockInput struct {
	ID   uuid.UUID `path:"id" format:"uuid" doc:"Product id"`
	Body RestockBody
}

// SellerProductsInput is GET /seller/products.
type SellerProductsInput struct {
	PageQuery
	MinPositionQuery
	Status   string    `query:"status" enum:"REGISTERED,SELL,SOLD_OUT,UNREGISTERED" doc:"Only products in this status"`
	SellerID uuid.UUID `query:"seller_id" format:"uuid" doc:"SUPERVISOR only: this seller's products (default every seller's); a SELLER always gets their own"`
}

// ProductIDInput names a product in the path of a query.
type ProductIDInput struct {
	ID uuid.UUID `path:"id" format:"uuid" doc:"Product id"`
	MinPositionQuery
}

// CatalogInput is GET /products.
type CatalogInput struct {
	PageQuery
	MinPositionQuery
	Q          string    `query:"q" maxLength:"100" doc:"Name contains this, ignoring case"`
	CategoryID uuid.UUID `query:"category_id" format:"uuid"`
	BrandID    uuid.UUID `query:"brand_id" format:"uuid"`
	MinPrice   int64     `query:"min_price" minimum:"0" doc:"Price at least this (KRW)"`
	MaxPrice   int64     `query:"max_price" minimum:"0" doc:"Price at most this (KRW); 0 means no bound"`
	Sort       string    `query:"sort" enum:"newest,price,-price,rating" default:"newest" doc:"newest (default), price, -price, or rating (best rated, then most reviewed)"`
}

func (s *Server) registerProducts(api huma.API) {
	seller := roles(domain.RoleSeller)
	tags := []string{"products"}
	huma.Register(api, op(huma.Operation{
		OperationID: "create-product", Method: http.MethodPost, Path: "/products", Tags: tags,
		Summary: "Put a product made from an item in the shop", Description: "The product starts REGISTERED (not on sale).",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound},
	}, seller), s.createProduct)
	huma.Register(api, op(huma.Operation{
		OperationID: "edit-product", Method: http.MethodPatch, Path: "/products/{id}", Tags: tags,
		Summary:     "Change a product's name and price",
		Description: "The owning seller's product; another seller's is 404. An UNREGISTERED product is 409.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, seller), s.editProduct)
	huma.Register(api, op(huma.Operation{
		OperationID: "change-product-status", Method: http.MethodPost, Path: "/products/{id}/status", Tags: tags,
		Summary:     "Put a product on sale, sold out, or unregister it",
		Description: "REGISTERED, SELL and SOLD_OUT go to SELL, SOLD_OUT or UNREGISTERED; UNREGISTERED is final (409). Another seller's product is 404.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, seller), s.changeProductStatus)
	huma.Register(api, op(huma.Operation{
		OperationID: "restock-product", Method: http.MethodPost, Path: "/products/{id}/stock", Tags: tags,
		Summary:     "Add stock",
		Description: "Stock never exceeds 1,000,000: past it 422. A product sold out by itself goes back on sale. Another seller's product is 404; an UNREGISTERED one 409.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, seller), s.restockProduct)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-seller-products", Method: http.MethodGet, Path: "/seller/products", Tags: tags,
		Summary: "The seller's own products, in every status", Description: "Newest first.",
		Errors: []int{http.StatusServiceUnavailable},
	}, seller), s.listSellerProducts)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-seller-product", Method: http.MethodGet, Path: "/seller/products/{id}", Tags: tags,
		Summary: "One of the seller's products, in any status", Description: "Another seller's product is 404.",
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, seller), s.getSellerProduct)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-catalog", Method: http.MethodGet, Path: "/products", Tags: tags,
		Summary: "The catalog", Description: "Products on SELL or SOLD_OUT, with their ratings.",
		Errors: []int{http.StatusServiceUnavailable},
	}, public), s.listCatalog)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-catalog-product", Method: http.MethodGet, Path: "/products/{id}", Tags: tags,
		Summary: "A product of the catalog", Description: "404 unless SELL or SOLD_OUT.",
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, public), s.getCatalogProduct)
}

// ownProduct answers a product decision refused because the product is another seller's as not
// found: another seller's data is 404, as if it did not exist.
func ownProduct(err error) error {
	if errors.Is(err, &domain.Error{Kind: domain.Forbidden, Code: product.CodeNotOwner}) {
		return domain.NotFoundf(product.CodeNotFound, "product not found")
	}
	return err
}

func (s *Server) createProduct(ctx context.Context, in *CreateProductInput) (*Written[ProductView], error) {
	b, a := in.Body, actor(ctx)
	seller := b.SellerID
	switch {
	case a.IsSupervisor() && seller == uuid.Nil:
		return nil, domain.Fields{"seller_id": "is required when a SUPERVISOR creates a product"}.Err()
	case a.IsSupervisor():
		if _, err := s.auth.Seller(ctx, seller); err != nil {
			return nil, err
		}
	case seller != uuid.Nil && seller != a.ID:
		return nil, domain.Fields{"seller_id": "must be absent or the caller's own id"}.Err()
	}
	res, err := s.commands.CreateProduct.Handle(command(ctx), commands.CreateProduct{
		SellerID: seller, ItemID: b.ItemID, Name: b.Name, Price: b.Price, Stock: b.Stock})
	if err != nil {
		return nil, err
	}
	return written(http.StatusCreated, productView(res.State), res.Position, "/api/v1/seller/products/"+res.ID.String()), nil
}

func (s *Server) editProduct(ctx context.Context, in *EditProductInput) (*Written[ProductView], error) {
	res, err := s.commands.EditProduct.Handle(command(ctx), commands.EditProduct{ProductID: in.ID, Name: in.Body.Name, Price: in.Body.Price})
	if err != nil {
		return nil, ownProduct(err)
	}
	return written(http.StatusOK, productView(res.State), res.Position, ""), nil
}

func (s *Server) changeProductStatus(ctx context.Context, in *ProductStatusInput) (*Written[ProductView], error) {
	res, err := s.commands.ChangeProductStatus.Handle(command(ctx), commands.ChangeProductStatus{ProductID: in.ID, Status: product.Status(in.Body.Status)})
	if err != nil {
		return nil, ownProduct(err)
	}
	return written(http.StatusOK, productView(res.State), res.Position, ""), nil
}

func (s *Server) restockProduct(ctx context.Context, in *RestockInput) (*Written[ProductView], error) {
	res, err := s.commands.RestockProduct.Handle(command(ctx), commands.RestockProduct{ProductID: in.ID, Quantity: in.Body.Quantity})
	if err != nil {
		return nil, ownProduct(err)
	}
	return written(http.StatusOK, productView(res.State), res.Position, ""), nil
}

// sellerScope is the seller whose data a seller route shows: the caller, or for a SUPERVISOR the
// seller asked for (uuid.Nil: every seller).
func sellerScope(ctx context.Context, asked uuid.UUID) uuid.UUID {
	if a := actor(ctx); !a.IsSupervisor() {
		return a.ID
	}
	return asked
}

func (s *Server) listSellerProducts(ctx context.Context, in *SellerProductsInput) (*Response[[]ProductView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListSellerProducts(ctx, readmodels.SellerProductFilter{
		SellerID: sellerScope(ctx, in.SellerID), Status: product.Status(in.Status), Page: pageOf(in.PageQuery)})
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, productRead), nil
}

func (s *Server) getSellerProduct(ctx context.Context, in *ProductIDInput) (*Response[ProductView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	var p readmodels.Product
	var err error
	if a := actor(ctx); a.IsSupervisor() {
		p, err = s.reader.FindProduct(ctx, in.ID)
	} else {
		p, err = s.reader.FindSellerProduct(ctx, a.ID, in.ID)
	}
	if err != nil {
		return nil, err
	}
	return ok(productRead(p)), nil
}

func (s *Server) listCatalog(ctx context.Context, in *CatalogInput) (*Response[[]ProductView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListCatalog(ctx, readmodels.CatalogFilter{
		Q: in.Q, CategoryID: in.CategoryID, BrandID: in.BrandID, MinPrice: in.MinPrice, MaxPrice: in.MaxPrice,
		Sort: readmodels.CatalogSort(in.Sort), Page: pageOf(in.PageQuery)})
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, productRead), nil
}

func (s *Server) getCatalogProduct(ctx context.Context, in *ProductIDInput) (*Response[ProductView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	p, err := s.reader.FindCatalogProduct(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(productRead(p)), nil
}

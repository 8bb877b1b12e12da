package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/readmodels"
)

// What every event-sourced route group shares: the Meta of the commands a request sends, the
// X-Event-Position of their responses, and ?min_position on the query routes.

// Positions waits for a projector's checkpoint to reach an event position; *projections.Runner
// implements it. WaitFor returns an error when ctx ends first.
type Positions interface {
	WaitFor(ctx context.Context, projector string, pos eventstore.Position) error
}

// The projectors the query routes read, by base name (WaitFor finds "catalog.v1" by "catalog").
const (
	projectorCatalog = "catalog"
	projectorOrders  = "orders"
	projectorReviews = "reviews"
)

// MinPositionQuery is the ?min_position every query route takes.
type MinPositionQuery struct {
	MinPosition uint64 `query:"min_position" doc:"An X-Event-Position from a command response: wait up to 2 s for this read model to reach it, then answer with data at least that fresh, or 503. Not a number: 400."`
}

// fresh returns once the projector has reached q.MinPosition (at once without one), or
// notFresh (503) when it did not within Config.MinPositionWait.
func (s *Server) fresh(ctx context.Context, projector string, q MinPositionQuery) error {
	if q.MinPosition == 0 {
		return nil
	}
	if s.positions == nil {
		return notFresh()
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.MinPositionWait)
	defer cancel()
	err := s.positions.WaitFor(wctx, projector, eventstore.Position(q.MinPosition))
	switch {
	case err == nil:
		return nil
	case wctx.Err() != nil:
		return notFresh()
	}
	return fmt.Errorf("wait for %s to reach %d: %w", projector, q.MinPosition, err)
}

// Written is the response of a command: the X-Event-Position of the last event it wrote, the
// Location of what it created (201, 202), and the envelope.
type Written[T any] struct {
	Status   int
	Location string              `header:"Location" doc:"The created resource (201, 202)"`
	Position eventstore.Position `header:"X-Event-Position" doc:"The event store position of the last event written; pass it as min_position to read your own write"`
	Body     Envelope[T]
}

// written wraps data in an envelope of status with the command's position.
func written[T any](status int, data T, pos eventstore.Position, location string) *Written[T] {
	return &Written[T]{Status: status, Location: location, Position: pos,
		Body: Envelope[T]{Result: okResult(status), Data: data}}
}

// requestNamespace derives correlation ids from request ids that are not UUIDs.
var requestNamespace = uuid.MustParse("b0d4a1f2-52c3-4e8e-9a7d-6f1c2e3d4b5a")

// command returns ctx carrying the Meta of a command sent by the caller: the caller acts, and
// the request id is the correlation id.
func command(ctx context.Context) context.Context {
	id := RequestID(ctx)
	corr, err := uuid.Parse(id)
	if err != nil {
		corr = uuid.NewSHA1(requestNamespace, []byte(id))
	}
	return commands.WithMeta(ctx, commands.Meta{CorrelationID: corr, Actor: actor(ctx)})
}

// pageOf returns the read models' page for q.
func pageOf(q PageQuery) readmodels.Page { return readmodels.Page{Number: q.Page, Size: q.Size} }

// listPage converts a read-model list into the envelope's page.
func listPage[T, V any](l readmodels.List[T], q PageQuery, view func(T) V) *Response[[]V] {
	items := make([]V, len(l.Items))
	for i, it := range l.Items {
		items[i] = view(it)
	}
	return page(items, q, l.Total)
}

// CategoryView is a category, or a brand (BrandView).
type CategoryView struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name" example:"Shoes"`
}

// BrandView is a brand.
type BrandView struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name" example:"Acme"`
}

// ItemView is an item, what products are made from. The names of its category and brand come
// with reads, not with the answer to a write.
type ItemView struct {
	ID           uuid.UUID `json:"id"`
	CategoryID   uuid.UUID `json:"category_id"`
	CategoryName string    `json:"category_name,omitempty"`
	BrandID      uuid.UUID `json:"brand_id"`
	BrandName    string    `json:"brand_name,omitempty"`
	Name         string    `json:"name" example:"Running shoe"`
	Description  string    `json:"description"`
}

func itemView(i catalog.Item) ItemView {
	return ItemView{ID: i.ID, CategoryID: i.CategoryID, BrandID: i.BrandID, Name: i.Name, Description: i.Description}
}

func itemRead(i readmodels.Item) ItemView {
	return ItemView{ID: i.ID, CategoryID: i.CategoryID, CategoryName: i.CategoryName, BrandID: i.BrandID,
		BrandName: i.BrandName, Name: i.Name, Description: i.Description}
}

// CatalogNameBody names a category or a brand.
type CatalogNameBody struct {
	Name string `json:"name" minLength:"1" maxLength:"50" pattern:"\\S" patternDescription:"not blank" doc:"1-50 characters"`
}

// CreateCategoryInput is POST /categories.
type CreateCategoryInput struct {
	Body CatalogNameBody
}

// RenameCategoryInput is PATCH /categories/{id}.
type RenameCategoryInput struct {
	ID   uuid.UUID `path:"id" format:"uuid" doc:"Category id"`
	Body CatalogNameBody
}

// CreateBrandInput is POST /brands.
type CreateBrandInput struct {
	Body CatalogNameBody
}

// RenameBrandInput is PATCH /brands/{id}.
type RenameBrandInput struct {
	ID   uuid.UUID `path:"id" format:"uuid" doc:"Brand id"`
	Body CatalogNameBody
}

// CatalogListInput lists categories or brands.
type CatalogListInput struct {
	PageQuery
	MinPositionQuery
}

// CatalogIDInput names a category, brand or item in the path.
type CatalogIDInput struct {
	ID uuid.UUID `path:"id" format:"uuid"`
	MinPositionQuery
}

// ItemBody is an item's fields.
type ItemBody struct {
	CategoryID  uuid.UUID `json:"category_id" format:"uuid" doc:"An existing category (else 404)"`
	BrandID     uuid.UUID `json:"brand_id" format:"uuid" doc:"An existing brand (else 404)"`
	Name        string    `json:"name" minLength:"1" maxLength:"100" pattern:"\\S" patternDescription:"not blank"`
	Description string    `json:"description,omitempty" maxLength:"2000" doc:"Up to 2,000 characters"`
}

// CreateItemInput is POST /items.
type CreateItemInput struct {
	Body ItemBody
}

// EditItemInput is PUT /items/{id}: every field is replaced.
type EditItemInput struct {
	ID   uuid.UUID `path:"id" format:"uuid" doc:"Item id"`
	Body ItemBody
}

// ItemListInput is GET /items.
type ItemListInput struct {
	PageQuery
	MinPositionQuery
	CategoryID uuid.UUID `query:"category_id" format:"uuid" doc:"Only this category's items"`
	BrandID    uuid.UUID `query:"brand_id" format:"uuid" doc:"Only this brand's items"`
}

func (s *Server) registerCatalog(api huma.API) {
	supervisor := roles(domain.RoleSupervisor)
	tags := []string{"catalog"}
	huma.Register(api, op(huma.Operation{
		OperationID: "create-category", Method: http.MethodPost, Path: "/categories", Tags: tags,
		Summary: "Create a category", DefaultStatus: http.StatusCreated,
	}, supervisor), s.createCategory)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-categories", Method: http.MethodGet, Path: "/categories", Tags: tags,
		Summary: "List the categories", Description: "By name.", Errors: []int{http.StatusServiceUnavailable},
	}, public), s.listCategories)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-category", Method: http.MethodGet, Path: "/categories/{id}", Tags: tags,
		Summary: "A category", Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, public), s.getCategory)
	huma.Register(api, op(huma.Operation{
		OperationID: "rename-category", Method: http.MethodPatch, Path: "/categories/{id}", Tags: tags,
		Summary: "Rename a category", Errors: []int{http.StatusNotFound},
	}, supervisor), s.renameCategory)

	huma.Register(api, op(huma.Operation{
		OperationID: "create-brand", Method: http.MethodPost, Path: "/brands", Tags: tags,
		Summary: "Create a brand", DefaultStatus: http.StatusCreated,
	}, supervisor), s.createBrand)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-brands", Method: http.MethodGet, Path: "/brands", Tags: tags,
		Summary: "List the brands", Description: "By name.", Errors: []int{http.StatusServiceUnavailable},
	}, public), s.listBrands)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-brand", Method: http.MethodGet, Path: "/brands/{id}", Tags: tags,
		Summary: "A brand", Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, public), s.getBrand)
	huma.Register(api, op(huma.Operation{
		OperationID: "rename-brand", Method: http.MethodPatch, Path: "/brands/{id}", Tags: tags,
		Summary: "Rename a brand", Errors: []int{http.StatusNotFound},
	}, supervisor), s.renameBrand)

	huma.Register(api, op(huma.Operation{
		OperationID: "create-item", Method: http.MethodPost, Path: "/items", Tags: tags,
		Summary:       "Create an item",
		Description:   "An item is what a product is made from; its category and brand must exist (else 404).",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound},
	}, supervisor), s.createItem)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-items", Method: http.MethodGet, Path: "/items", Tags: tags,
		Summary: "List the items", Description: "By name.", Errors: []int{http.StatusServiceUnavailable},
	}, roles(domain.RoleSeller)), s.listItems)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-item", Method: http.MethodGet, Path: "/items/{id}", Tags: tags,
		Summary: "An item", Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, roles(domain.RoleSeller)), s.getItem)
	huma.Register(api, op(huma.Operation{
		OperationID: "edit-item", Method: http.MethodPut, Path: "/items/{id}", Tags: tags,
		Summary: "Replace an item's fields", Description: "Products made from it keep their category and brand.",
		Errors: []int{http.StatusNotFound},
	}, supervisor), s.editItem)
}

func (s *Server) createCategory(ctx context.Context, in *CreateCategoryInput) (*Written[CategoryView], error) {
	res, err := s.commands.CreateCategory.Handle(command(ctx), commands.CreateCategory{Name: in.Body.Name})
	if err != nil {
		return nil, err
	}
	return written(http.StatusCreated, CategoryView{ID: res.State.ID, Name: res.State.Name}, res.Position,
		"/api/v1/categories/"+res.ID.String()), nil
}

func (s *Server) renameCategory(ctx context.Context, in *RenameCategoryInput) (*Written[CategoryView], error) {
	res, err := s.commands.RenameCategory.Handle(command(ctx), commands.RenameCategory{CategoryID: in.ID, Name: in.Body.Name})
	if err != nil {
		return nil, err
	}
	return written(http.StatusOK, CategoryView{ID: res.State.ID, Name: res.State.Name}, res.Position, ""), nil
}

func (s *Server) listCategories(ctx context.Context, in *CatalogListInput) (*Response[[]CategoryView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListCategories(ctx, pageOf(in.PageQuery))
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, func(c readmodels.Category) CategoryView { return CategoryView{ID: c.ID, Name: c.Name} }), nil
}

func (s *Server) getCategory(ctx context.Context, in *CatalogIDInput) (*Response[CategoryView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	c, err := s.reader.FindCategory(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(CategoryView{ID: c.ID, Name: c.Name}), nil
}

func (s *Server) createBrand(ctx context.Context, in *CreateBrandInput) (*Written[BrandView], error) {
	res, err := s.commands.CreateBrand.Handle(command(ctx), commands.CreateBrand{Name: in.Body.Name})
	if err != nil {
		return nil, err
	}
	return written(http.StatusCreated, BrandView{ID: res.State.ID, Name: res.State.Name}, res.Position,
		"/api/v1/brands/"+res.ID.String()), nil
}

func (s *Server) renameBrand(ctx context.Context, in *RenameBrandInput) (*Written[BrandView], error) {
	res, err := s.commands.RenameBrand.Handle(command(ctx), commands.RenameBrand{BrandID: in.ID, Name: in.Body.Name})
	if err != nil {
		return nil, err
	}
	return written(http.StatusOK, BrandView{ID: res.State.ID, Name: res.State.Name}, res.Position, ""), nil
}

func (s *Server) listBrands(ctx context.Context, in *CatalogListInput) (*Response[[]BrandView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListBrands(ctx, pageOf(in.PageQuery))
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, func(b readmodels.Brand) BrandView { return BrandView{ID: b.ID, Name: b.Name} }), nil
}

func (s *Server) getBrand(ctx context.Context, in *CatalogIDInput) (*Response[BrandView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	b, err := s.reader.FindBrand(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(BrandView{ID: b.ID, Name: b.Name}), nil
}

func (s *Server) createItem(ctx context.Context, in *CreateItemInput) (*Written[ItemView], error) {
	b := in.Body
	res, err := s.commands.CreateItem.Handle(command(ctx), commands.CreateItem{
		CategoryID: b.CategoryID, BrandID: b.BrandID, Name: b.Name, Description: b.Description})
	if err != nil {
		return nil, err
	}
	return written(http.StatusCreated, itemView(res.State), res.Position, "/api/v1/items/"+res.ID.String()), nil
}

func (s *Server) editItem(ctx context.Context, in *EditItemInput) (*Written[ItemView], error) {
	b := in.Body
	res, err := s.commands.EditItem.Handle(command(ctx), commands.EditItem{
		ItemID: in.ID, CategoryID: b.CategoryID, BrandID: b.BrandID, Name: b.Name, Description: b.Description})
	if err != nil {
		return nil, err
	}
	return written(http.StatusOK, itemView(res.State), res.Position, ""), nil
}

func (s *Server) listItems(ctx context.Context, in *ItemListInput) (*Response[[]ItemView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListItems(ctx, readmodels.ItemFilter{CategoryID: in.CategoryID, BrandID: in.BrandID, Page: pageOf(in.PageQuery)})
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, itemRead), nil
}

func (s *Server) getItem(ctx context.Context, in *CatalogIDInput) (*Response[ItemView], error) {
	if err := s.fresh(ctx, projectorCatalog, in.MinPositionQuery); err != nil {
		return nil, err
	}
	i, err := s.reader.FindItem(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(itemRead(i)), nil
}

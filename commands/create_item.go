package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
)

// CreateItem creates an item, what products are made from (POST /items, SUPERVISOR).
type CreateItem struct {
	// ItemID is the new item's id; zero means a new id.
	ItemID      uuid.UUID
	CategoryID  uuid.UUID
	BrandID     uuid.UUID
	Name        string
	Description string
}

// CreateItemHandler handles CreateItem.
type CreateItemHandler struct{ base }

// Handle creates the item once its input is valid and its category and brand exist.
func (h *CreateItemHandler) Handle(ctx context.Context, cmd CreateItem) (res Result[catalog.Item], err error) {
	ctx, done := h.begin(ctx, "CreateItem")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	id := newID(cmd.ItemID, m, "item")
	// Decide first so that the role and every field are checked before any lookup.
	if _, err := catalog.CreateItem(m.Actor, id, cmd.CategoryID, cmd.BrandID, cmd.Name, cmd.Description, at); err != nil {
		return res, err
	}
	if err := h.catalogRefs(ctx, cmd.CategoryID, cmd.BrandID); err != nil {
		return res, err
	}
	st, err := h.repos.Items.CreateState(ctx, id, m, func(i catalog.Item) ([]catalog.Event, error) {
		if i.Exists() {
			return nil, exists("item", id)
		}
		return catalog.CreateItem(m.Actor, id, cmd.CategoryID, cmd.BrandID, cmd.Name, cmd.Description, at)
	})
	if err != nil {
		return res, err
	}
	return result(id, st), nil
}

// catalogRefs checks that the category and the brand an item names exist. Catalog entries are
// never deleted, so the check stays true.
func (b base) catalogRefs(ctx context.Context, categoryID, brandID uuid.UUID) error {
	c, err := b.repos.Categories.Load(ctx, categoryID)
	if err != nil {
		return err
	}
	if !c.Value.Exists() {
		return domain.NotFoundf(catalog.CodeCategoryNotFound, "category %s not found", categoryID)
	}
	br, err := b.repos.Brands.Load(ctx, brandID)
	if err != nil {
		return err
	}
	if !br.Value.Exists() {
		return domain.NotFoundf(catalog.CodeBrandNotFound, "brand %s not found", brandID)
	}
	return nil
}

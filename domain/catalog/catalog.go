package catalog

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
)

// Limits of the catalog's fields, in characters.
const (
	MaxCategoryNameLen = 50
	MaxBrandNameLen    = 50
	MaxItemNameLen     = 100
	MaxDescriptionLen  = 2000
)

// Codes of the business errors the catalog decisions return.
const (
	CodeSupervisorOnly   = "SUPERVISOR_ONLY"
	CodeCategoryNotFound = "CATEGORY_NOT_FOUND"
	CodeBrandNotFound    = "BRAND_NOT_FOUND"
	CodeItemNotFound     = "ITEM_NOT_FOUND"
)

// Stream id prefixes of the three catalog aggregates.
const (
	CategoryStreamPrefix = "category-"
	BrandStreamPrefix    = "brand-"
	ItemStreamPrefix     = "item-"
)

// CategoryStreamID returns the id of category id's stream, "category-<uuid>".
func CategoryStreamID(id uuid.UUID) string { return CategoryStreamPrefix + id.String() }

// BrandStreamID returns the id of brand id's stream, "brand-<uuid>".
func BrandStreamID(id uuid.UUID) string { return BrandStreamPrefix + id.String() }

// ItemStreamID returns the id of item id's stream, "item-<uuid>".
func ItemStreamID(id uuid.UUID) string { return ItemStreamPrefix + id.String() }

// Category is the state of one category's stream.
type Category struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

// Brand is the state of one brand's stream.
type Brand struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

// Item is the state of one item's stream: what sellers make products from.
type Item struct {
	ID          uuid.UUID `json:"id"`
	CategoryID  uuid.UUID `json:"category_id"`
	BrandID     uuid.UUID `json:"brand_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
}

// Exists reports whether the category has been created.
func (c Category) Exists() bool { return c.ID != uuid.Nil }

// Exists reports whether the brand has been created.
func (b Brand) Exists() bool { return b.ID != uuid.Nil }

// Exists reports whether the item has been created.
func (i Item) Exists() bool { return i.ID != uuid.Nil }

// EvolveCategory returns c with e applied. It never fails and ignores events of other aggregates.
func EvolveCategory(c Category, e Event) Category {
	switch e := e.(type) {
	case CategoryCreated:
		return Category{ID: e.CategoryID, Name: e.Name}
	case CategoryRenamed:
		c.Name = e.Name
	}
	return c
}

// EvolveBrand returns b with e applied. It never fails and ignores events of other aggregates.
func EvolveBrand(b Brand, e Event) Brand {
	switch e := e.(type) {
	case BrandCreated:
		return Brand{ID: e.BrandID, Name: e.Name}
	case BrandRenamed:
		b.Name = e.Name
	}
	return b
}

// EvolveItem returns i with e applied. It never fails and ignores events of other aggregates.
func EvolveItem(i Item, e Event) Item {
	switch e := e.(type) {
	case ItemCreated:
		return Item{ID: e.ItemID, CategoryID: e.CategoryID, BrandID: e.BrandID, Name: e.Name, Description: e.Description}
	case ItemEdited:
		i.CategoryID, i.BrandID, i.Name, i.Description = e.CategoryID, e.BrandID, e.Name, e.Description
	}
	return i
}

// FoldCategory replays a category's history from the empty state.
func FoldCategory(events ...Event) Category {
	var c Category
	for _, e := range events {
		c = EvolveCategory(c, e)
	}
	return c
}

// FoldBrand replays a brand's history from the empty state.
func FoldBrand(events ...Event) Brand {
	var b Brand
	for _, e := range events {
		b = EvolveBrand(b, e)
	}
	return b
}

// FoldItem replays an item's history from the empty state.
func FoldItem(events ...Event) Item {
	var i Item
	for _, e := range events {
		i = EvolveItem(i, e)
	}
	return i
}

func supervisorOnly(actor domain.Actor) error {
	if !actor.IsSupervisor() {
		return domain.Forbiddenf(CodeSupervisorOnly, "only a supervisor may change the catalog")
	}
	return nil
}

// CreateCategory decides a new category named name (1 to 50 characters), by a supervisor.
func CreateCategory(actor domain.Actor, id uuid.UUID, name string, at time.Time) ([]Event, error) {
	if err := supervisorOnly(actor); err != nil {
		return nil, err
	}
	f := make(domain.Fields)
	f.ID("category_id", id)
	f.Text("name", name, 1, MaxCategoryNameLen)
	if err := f.Err(); err != nil {
		return nil, err
	}
	return []Event{CategoryCreated{CategoryID: id, Name: strings.TrimSpace(name), At: at}}, nil
}

// Rename decides a new name for the category, by a supervisor. The same name is a no-op.
func (c Category) Rename(actor domain.Actor, name string, at time.Time) ([]Event, error) {
	if err := supervisorOnly(actor); err != nil {
		return nil, err
	}
	if !c.Exists() {
		return nil, domain.NotFoundf(CodeCategoryNotFound, "category not found")
	}
	f := make(domain.Fields)
	f.Text("name", name, 1, MaxCategoryNameLen)
	if err := f.Err(); err != nil {
		return nil, err
	}
	if name = strings.TrimSpace(name); name == c.Name {
		return nil, nil
	}
	return []Event{CategoryRenamed{CategoryID: c.ID, Name: name, At: at}}, nil
}

// CreateBrand decides a new brand named name (1 to 50 characters), by a supervisor.
func CreateBrand(actor domain.Actor, id uuid.UUID, name string, at time.Time) ([]Event, error) {
	if err := supervisorOnly(actor); err != nil {
		return nil, err
	}
	f := make(domain.Fields)
	f.ID("brand_id", id)
	f.Text("name", name, 1, MaxBrandNameLen)
	if err := f.Err(); err != nil {
		return nil, err
	}
	return []Event{BrandCreated{BrandID: id, Name: strings.TrimSpace(name), At: at}}, nil
}

// Rename decides a new name for the brand, by a supervisor. The same name is a no-op.
func (b Brand) Rename(actor domain.Actor, name string, at time.Time) ([]Event, error) {
	if err := supervisorOnly(actor); err != nil {
		return nil, err
	}
	if !b.Exists() {
		return nil, domain.NotFoundf(CodeBrandNotFound, "brand not found")
	}
	f := make(domain.Fields)
	f.Text("name", name, 1, MaxBrandNameLen)
	if err := f.Err(); err != nil {
		return nil, err
	}
	if name = strings.TrimSpace(name); name == b.Name {
		return nil, nil
	}
	return []Event{BrandRenamed{BrandID: b.ID, Name: name, At: at}}, nil
}

func validateItem(f domain.Fields, categoryID, brandID uuid.UUID, name, description string) {
	f.ID("category_id", categoryID)
	f.ID("brand_id", brandID)
	f.Text("name", name, 1, MaxItemNameLen)
	f.Text("description", description, 0, MaxDescriptionLen)
}

// CreateItem decides a new item, by a supervisor: name 1 to 100 characters, description up to
// 2,000. That the category and brand exist is the caller's fact to check.
func CreateItem(actor domain.Actor, id, categoryID, brandID uuid.UUID, name, description string, at time.Time) ([]Event, error) {
	if err := supervisorOnly(actor); err != nil {
		return nil, err
	}
	f := make(domain.Fields)
	f.ID("item_id", id)
	validateItem(f, categoryID, brandID, name, description)
	if err := f.Err(); err != nil {
		return nil, err
	}
	return []Event{ItemCreated{
		ItemID: id, CategoryID: categoryID, BrandID: brandID, Name: strings.TrimSpace(name),
		Description: strings.TrimSpace(description), At: at,
	}}, nil
}

// Edit decides new values for every field of the item, by a supervisor. Unchanged values are a
// no-op.
func (i Item) Edit(actor domain.Actor, categoryID, brandID uuid.UUID, name, description string, at time.Time) ([]Event, error) {
	if err := supervisorOnly(actor); err != nil {
		return nil, err
	}
	if !i.Exists() {
		return nil, domain.NotFoundf(CodeItemNotFound, "item not found")
	}
	f := make(domain.Fields)
	validateItem(f, categoryID, brandID, name, description)
	if err := f.Err(); err != nil {
		return nil, err
	}
	next := Item{ID: i.ID, CategoryID: categoryID, BrandID: brandID, Name: strings.TrimSpace(name), Description: strings.TrimSpace(description)}
	if next == i {
		return nil, nil
	}
	return []Event{ItemEdited{
		ItemID: i.ID, CategoryID: next.CategoryID, BrandID: next.BrandID, Name: next.Name,
		Description: next.Description, At: at,
	}}, nil
}

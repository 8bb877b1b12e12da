package catalog

import (
	"time"

	"github.com/google/uuid"
)

// Event is a fact in a category's, brand's or item's stream. Each event type has an explicit,
// versioned wire name.
type Event interface {
	// EventType returns the event's wire name, such as "catalog.item_created.v1".
	EventType() string
}

// Wire names of the catalog events. They never change; a new shape gets a new version suffix.
const (
	TypeCategoryCreated = "catalog.category_created.v1"
	TypeCategoryRenamed = "catalog.category_renamed.v1"
	TypeBrandCreated    = "catalog.brand_created.v1"
	TypeBrandRenamed    = "catalog.brand_renamed.v1"
	TypeItemCreated     = "catalog.item_created.v1"
	TypeItemEdited      = "catalog.item_edited.v1"
)

// CategoryCreated happens when a supervisor adds a category.
type CategoryCreated struct {
	CategoryID uuid.UUID `json:"category_id"`
	Name       string    `json:"name"`
	At         time.Time `json:"at"`
}

// CategoryRenamed happens when a supervisor renames a category.
type CategoryRenamed struct {
	CategoryID uuid.UUID `json:"category_id"`
	Name       string    `json:"name"`
	At         time.Time `json:"at"`
}

// BrandCreated happens when a supervisor adds a brand.
type BrandCreated struct {
	BrandID uuid.UUID `json:"brand_id"`
	Name    string    `json:"name"`
	At      time.Time `json:"at"`
}

// BrandRenamed happens when a supervisor renames a brand.
type BrandRenamed struct {
	BrandID uuid.UUID `json:"brand_id"`
	Name    string    `json:"name"`
	At      time.Time `json:"at"`
}

// ItemCreated happens when a supervisor adds an item, the thing products are made from.
type ItemCreated struct {
	ItemID      uuid.UUID `json:"item_id"`
	CategoryID  uuid.UUID `json:"category_id"`
	BrandID     uuid.UUID `json:"brand_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	At          time.Time `json:"at"`
}

// ItemEdited happens when a supervisor changes an item; it carries the whole new item.
type ItemEdited struct {
	ItemID      uuid.UUID `json:"item_id"`
	CategoryID  uuid.UUID `json:"category_id"`
	BrandID     uuid.UUID `json:"brand_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	At          time.Time `json:"at"`
}

// EventType returns "catalog.category_created.v1".
func (CategoryCreated) EventType() string { return TypeCategoryCreated }

// EventType returns "catalog.category_renamed.v1".
func (CategoryRenamed) EventType() string { return TypeCategoryRenamed }

// EventType returns "catalog.brand_created.v1".
func (BrandCreated) EventType() string { return TypeBrandCreated }

// EventType returns "catalog.brand_renamed.v1".
func (BrandRenamed) EventType() string { return TypeBrandRenamed }

// EventType returns "catalog.item_created.v1".
func (ItemCreated) EventType() string { return TypeItemCreated }

// EventType returns "catalog.item_edited.v1".
func (ItemEdited) EventType() string { return TypeItemEdited }

package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/catalog"
)

// EditItem replaces every field of an item (SUPERVISOR).
type EditItem struct {
	ItemID      uuid.UUID
	CategoryID  uuid.UUID
	BrandID     uuid.UUID
	Name        string
	Description string
}

// EditItemHandler handles EditItem.
type EditItemHandler struct{ base }

// Handle edits the item once its category and brand exist; unchanged values change nothing.
func (h *EditItemHandler) Handle(ctx context.Context, cmd EditItem) (res Result[catalog.Item], err error) {
	ctx, done := h.begin(ctx, "EditItem")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	checked := false
	st, err := h.repos.Items.UpdateState(ctx, cmd.ItemID, m, func(i catalog.Item) ([]catalog.Event, error) {
		events, err := i.Edit(m.Actor, cmd.CategoryID, cmd.BrandID, cmd.Name, cmd.Description, at)
		if err != nil || len(events) == 0 || checked {
			return events, err
		}
		if err := h.catalogRefs(ctx, cmd.CategoryID, cmd.BrandID); err != nil {
			return nil, err
		}
		checked = true
		return events, nil
	})
	if err != nil {
		return res, err
	}
	return result(cmd.ItemID, st), nil
}

package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/catalog"
)

// RenameCategory renames a category (SUPERVISOR).
type RenameCategory struct {
	CategoryID uuid.UUID
	Name       string
}

// RenameCategoryHandler handles RenameCategory.
type RenameCategoryHandler struct{ base }

// Handle renames the category; the same name changes nothing.
func (h *RenameCategoryHandler) Handle(ctx context.Context, cmd RenameCategory) (res Result[catalog.Category], err error) {
	ctx, done := h.begin(ctx, "RenameCategory")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	st, err := h.repos.Categories.UpdateState(ctx, cmd.CategoryID, m, func(c catalog.Category) ([]catalog.Event, error) {
		return c.Rename(m.Actor, cmd.Name, at)
	})
	if err != nil {
		return res, err
	}
	return result(cmd.CategoryID, st), nil
}

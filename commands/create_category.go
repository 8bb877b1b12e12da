package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/catalog"
)

// CreateCategory creates a category (POST /categories, SUPERVISOR).
type CreateCategory struct {
	// CategoryID is the new category's id; zero means a new id.
	CategoryID uuid.UUID
	Name       string
}

// CreateCategoryHandler handles CreateCategory.
type CreateCategoryHandler struct{ base }

// Handle creates the category and returns its id and state.
func (h *CreateCategoryHandler) Handle(ctx context.Context, cmd CreateCategory) (res Result[catalog.Category], err error) {
	ctx, done := h.begin(ctx, "CreateCategory")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	id := newID(cmd.CategoryID, m, "category")
	st, err := h.repos.Categories.CreateState(ctx, id, m, func(c catalog.Category) ([]catalog.Event, error) {
		if c.Exists() {
			return nil, exists("category", id)
		}
		return catalog.CreateCategory(m.Actor, id, cmd.Name, at)
	})
	if err != nil {
		return res, err
	}
	return result(id, st), nil
}

package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/catalog"
)

// RenameBrand renames a brand (SUPERVISOR).
type RenameBrand struct {
	BrandID uuid.UUID
	Name    string
}

// RenameBrandHandler handles RenameBrand.
type RenameBrandHandler struct{ base }

// Handle renames the brand; the same name changes nothing.
func (h *RenameBrandHandler) Handle(ctx context.Context, cmd RenameBrand) (res Result[catalog.Brand], err error) {
	ctx, done := h.begin(ctx, "RenameBrand")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	st, err := h.repos.Brands.UpdateState(ctx, cmd.BrandID, m, func(b catalog.Brand) ([]catalog.Event, error) {
		return b.Rename(m.Actor, cmd.Name, at)
	})
	if err != nil {
		return res, err
	}
	return result(cmd.BrandID, st), nil
}

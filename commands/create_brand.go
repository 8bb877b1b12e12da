package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/catalog"
)

// CreateBrand creates a brand (POST /brands, SUPERVISOR).
type CreateBrand struct {
	// BrandID is the new brand's id; zero means a new id.
	BrandID uuid.UUID
	Name    string
}

// CreateBrandHandler handles CreateBrand.
type CreateBrandHandler struct{ base }

// Handle creates the brand and returns its id and state.
func (h *CreateBrandHandler) Handle(ctx context.Context, cmd CreateBrand) (res Result[catalog.Brand], err error) {
	ctx, done := h.begin(ctx, "CreateBrand")
	defer done(&err)
	m, at, err := h.start(ctx)
	if err != nil {
		return res, err
	}
	id := newID(cmd.BrandID, m, "brand")
	st, err := h.repos.Brands.CreateState(ctx, id, m, func(c catalog.Brand) ([]catalog.Event, error) {
		if c.Exists() {
			return nil, exists("brand", id)
		}
		return catalog.CreateBrand(m.Actor, id, cmd.Name, at)
	})
	if err != nil {
		return res, err
	}
	return result(id, st), nil
}

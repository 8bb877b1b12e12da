package commands_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/product"
)

func TestProductCommands(t *testing.T) {
	e := newEnv(t, commands.Config{})
	item := e.item()
	s := seller()
	ctx := as(s)
	p, err := e.h.CreateProduct.Handle(ctx, commands.CreateProduct{ItemID: item.ID, Name: "Runner 1", Price: 30000, Stock: 10})
	want := product.Product{
		ID: p.ID, SellerID: s.ID, ItemID: item.ID, CategoryID: item.CategoryID, BrandID: item.BrandID,
		Name: "Runner 1", Price: 30000, Stock: 10, Status: product.StatusRegistered, CreatedAt: p.State.CreatedAt,
	}
	if err != nil || p.State.ID == uuid.Nil || p.State.SellerID != want.SellerID || p.State.CategoryID != want.CategoryID ||
		p.State.BrandID != want.BrandID || p.State.Status != want.Status || p.State.Stock != 10 {
		t.Fatalf("CreateProduct = %+v, %v; want %+v", p.State, err, want)
	}
	ed, err := e.h.EditProduct.Handle(ctx, commands.EditProduct{ProductID: p.ID, Name: new("Runner 2"), Price: new(int64(25000))})
	if err != nil || ed.State.Name != "Runner 2" || ed.State.Price != 25000 {
		t.Fatalf("EditProduct = %+v, %v; want Runner 2 at 25000", ed.State, err)
	}
	st, err := e.h.ChangeProductStatus.Handle(ctx, commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusSell})
	if err != nil || st.State.Status != product.StatusSell {
		t.Fatalf("ChangeProductStatus SELL = %+v, %v", st.State, err)
	}
	rs, err := e.h.RestockProduct.Handle(ctx, commands.RestockProduct{ProductID: p.ID, Quantity: 5})
	if err != nil || rs.State.Stock != 15 || rs.Version != 4 {
		t.Fatalf("RestockProduct 5 = stock %d version %d, %v; want 15 at version 4", rs.State.Stock, rs.Version, err)
	}
	// A supervisor acts for any seller.
	if _, err := e.h.RestockProduct.Handle(as(e.super), commands.RestockProduct{ProductID: p.ID, Quantity: 1}); err != nil {
		t.Fatalf("RestockProduct by a supervisor: %v", err)
	}

	e.refused("CreateProduct from an unknown item", &domain.Error{Kind: domain.NotFound, Code: catalog.CodeItemNotFound}, func() error {
		_, err := e.h.CreateProduct.Handle(ctx, commands.CreateProduct{ItemID: uuid.New(), Name: "x", Price: 1, Stock: 1})
		return err
	})
	e.refused("CreateProduct with price 0 and stock past the limit", domain.ErrInvalid, func() error {
		_, err := e.h.CreateProduct.Handle(ctx, commands.CreateProduct{ItemID: item.ID, Name: "x", Price: 0, Stock: 1_000_001})
		return err
	})
	e.refused("CreateProduct by a user", domain.ErrForbidden, func() error {
		_, err := e.h.CreateProduct.Handle(as(user()), commands.CreateProduct{ItemID: item.ID, Name: "x", Price: 1, Stock: 1})
		return err
	})
	e.refused("EditProduct by another seller", domain.ErrForbidden, func() error {
		_, err := e.h.EditProduct.Handle(as(seller()), commands.EditProduct{ProductID: p.ID, Name: new("x"), Price: new(int64(1))})
		return err
	})
	e.refused("EditProduct of an unknown product", domain.ErrNotFound, func() error {
		_, err := e.h.EditProduct.Handle(ctx, commands.EditProduct{ProductID: uuid.New(), Name: new("x"), Price: new(int64(1))})
		return err
	})
	e.refused("ChangeProductStatus to REGISTERED", domain.ErrInvalid, func() error {
		_, err := e.h.ChangeProductStatus.Handle(ctx, commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusRegistered})
		return err
	})
	e.refused("RestockProduct of 0", domain.ErrInvalid, func() error {
		_, err := e.h.RestockProduct.Handle(ctx, commands.RestockProduct{ProductID: p.ID, Quantity: 0})
		return err
	})
	e.refused("RestockProduct past 1,000,000", &domain.Error{Kind: domain.Conflict, Code: product.CodeStockLimit}, func() error {
		_, err := e.h.RestockProduct.Handle(ctx, commands.RestockProduct{ProductID: p.ID, Quantity: 999_990})
		return err
	})
	if _, err := e.h.ChangeProductStatus.Handle(ctx, commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusUnregistered}); err != nil {
		t.Fatalf("ChangeProductStatus UNREGISTERED: %v", err)
	}
	e.refused("ChangeProductStatus out of UNREGISTERED", domain.ErrConflict, func() error {
		_, err := e.h.ChangeProductStatus.Handle(ctx, commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusSell})
		return err
	})
}

package commands_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
)

// refused runs a command that must be refused with want and checks that nothing was appended.
func (e *env) refused(name string, want error, run func() error) {
	e.t.Helper()
	before := e.count()
	err := run()
	if !errors.Is(err, want) {
		e.t.Fatalf("%s = %v, want %v", name, err, want)
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		e.t.Fatalf("%s = %T %v, want a *domain.Error", name, err, err)
	}
	if after := e.count(); after != before {
		e.t.Fatalf("%s appended %d events, want none", name, after-before)
	}
}

func TestCategoryAndBrandCommands(t *testing.T) {
	e := newEnv(t, commands.Config{})
	ctx := as(e.super)
	c, err := e.h.CreateCategory.Handle(ctx, commands.CreateCategory{Name: "  Shoes "})
	if err != nil || c.ID == uuid.Nil || c.State.Name != "Shoes" || c.Version != 1 || c.Position == 0 {
		t.Fatalf("CreateCategory = %+v, %v; want a new category Shoes at version 1 with a position", c, err)
	}
	r, err := e.h.RenameCategory.Handle(ctx, commands.RenameCategory{CategoryID: c.ID, Name: "Sneakers"})
	if err != nil || r.State.Name != "Sneakers" || r.Version != 2 || r.Position <= c.Position {
		t.Fatalf("RenameCategory = %+v, %v; want Sneakers at version 2 after position %d", r, err, c.Position)
	}
	recs := e.stream(catalog.CategoryStreamID(c.ID))
	if len(recs) != 2 || recs[0].Type != catalog.TypeCategoryCreated || recs[1].Type != catalog.TypeCategoryRenamed {
		t.Fatalf("category stream = %d events, want created and renamed", len(recs))
	}
	b, err := e.h.CreateBrand.Handle(ctx, commands.CreateBrand{Name: "Acme"})
	if err != nil || b.State.Name != "Acme" {
		t.Fatalf("CreateBrand = %+v, %v; want Acme", b, err)
	}
	if rb, err := e.h.RenameBrand.Handle(ctx, commands.RenameBrand{BrandID: b.ID, Name: "Acme Co"}); err != nil || rb.State.Name != "Acme Co" {
		t.Fatalf("RenameBrand = %+v, %v; want Acme Co", rb, err)
	}

	e.refused("CreateCategory with a blank name", domain.ErrInvalid, func() error {
		_, err := e.h.CreateCategory.Handle(ctx, commands.CreateCategory{Name: " "})
		return err
	})
	e.refused("CreateCategory by a seller", domain.ErrForbidden, func() error {
		_, err := e.h.CreateCategory.Handle(as(seller()), commands.CreateCategory{Name: "x"})
		return err
	})
	e.refused("CreateCategory with a taken id", domain.ErrConflict, func() error {
		_, err := e.h.CreateCategory.Handle(ctx, commands.CreateCategory{CategoryID: c.ID, Name: "x"})
		return err
	})
	e.refused("RenameCategory of an unknown category", domain.ErrNotFound, func() error {
		_, err := e.h.RenameCategory.Handle(ctx, commands.RenameCategory{CategoryID: uuid.New(), Name: "x"})
		return err
	})
	e.refused("CreateBrand with a 51-character name", domain.ErrInvalid, func() error {
		_, err := e.h.CreateBrand.Handle(ctx, commands.CreateBrand{Name: string(make([]rune, 51))})
		return err
	})
	e.refused("RenameBrand by a user", domain.ErrForbidden, func() error {
		_, err := e.h.RenameBrand.Handle(as(user()), commands.RenameBrand{BrandID: b.ID, Name: "x"})
		return err
	})
}

func TestItemCommands(t *testing.T) {
	e := newEnv(t, commands.Config{})
	ctx := as(e.super)
	item := e.item()
	c2, _ := e.h.CreateCategory.Handle(ctx, commands.CreateCategory{Name: "Boots"})
	ed, err := e.h.EditItem.Handle(ctx, commands.EditItem{ItemID: item.ID, CategoryID: c2.ID, BrandID: item.BrandID, Name: "Trail", Description: "d"})
	if err != nil || ed.State.CategoryID != c2.ID || ed.State.Name != "Trail" {
		t.Fatalf("EditItem = %+v, %v; want category %s and name Trail", ed, err, c2.ID)
	}
	e.refused("CreateItem with an unknown category", &domain.Error{Kind: domain.NotFound, Code: catalog.CodeCategoryNotFound}, func() error {
		_, err := e.h.CreateItem.Handle(ctx, commands.CreateItem{CategoryID: uuid.New(), BrandID: item.BrandID, Name: "x"})
		return err
	})
	e.refused("CreateItem with an unknown brand", &domain.Error{Kind: domain.NotFound, Code: catalog.CodeBrandNotFound}, func() error {
		_, err := e.h.CreateItem.Handle(ctx, commands.CreateItem{CategoryID: item.CategoryID, BrandID: uuid.New(), Name: "x"})
		return err
	})
	e.refused("CreateItem without a name", domain.ErrInvalid, func() error {
		_, err := e.h.CreateItem.Handle(ctx, commands.CreateItem{CategoryID: item.CategoryID, BrandID: item.BrandID})
		return err
	})
	e.refused("CreateItem by a seller", domain.ErrForbidden, func() error {
		_, err := e.h.CreateItem.Handle(as(seller()), commands.CreateItem{CategoryID: item.CategoryID, BrandID: item.BrandID, Name: "x"})
		return err
	})
	e.refused("EditItem to an unknown brand", domain.ErrNotFound, func() error {
		_, err := e.h.EditItem.Handle(ctx, commands.EditItem{ItemID: item.ID, CategoryID: c2.ID, BrandID: uuid.New(), Name: "Trail"})
		return err
	})
	e.refused("EditItem of an unknown item", domain.ErrNotFound, func() error {
		_, err := e.h.EditItem.Handle(ctx, commands.EditItem{ItemID: uuid.New(), CategoryID: c2.ID, BrandID: item.BrandID, Name: "x"})
		return err
	})
}

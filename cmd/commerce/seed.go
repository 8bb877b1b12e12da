package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/auth"
)

// seedNamespace derives the demo data's ids from names, so that seeding twice finds what the first
// run made instead of making it again.
var seedNamespace = uuid.MustParse("6f1d7c52-3c1e-4a3e-9a55-3f0f6d1c2b10")

func seedID(kind, name string) uuid.UUID { return uuid.NewSHA1(seedNamespace, []byte(kind+"/"+name)) }

// demoAccounts are the demo accounts the README lists. Development data only.
var demoAccounts = struct{ users, sellers, supers []auth.NewAccount }{
	users: []auth.NewAccount{
		{Name: "Test User 1", Email: "testUser1@aaa.com", Password: "uP@sswr0d!11", Phone: "01011112222"},
		{Name: "Test User 2", Email: "testUser2@aaa.com", Password: "uP@sswr0d!22", Phone: "01022223333"},
		{Name: "Test User 3", Email: "testUser3@aaa.com", Password: "uP@sswr0d!33", Phone: "01033334444"},
	},
	sellers: []auth.NewAccount{
		{Name: "Test Seller 1", Email: "testSeller1@aaa.com", Password: "slP@sswr0d!11", Phone: "01044445555"},
		{Name: "Test Seller 2", Email: "testSeller2@aaa.com", Password: "slP@sswr0d!22", Phone: "01055556666"},
	},
	supers: []auth.NewAccount{
		{Name: "Test Supervisor 1", Email: "testSuper1@aaa.com", Password: "spP@sswr0d!11", Phone: "01066667777"},
	},
}

// demoCatalog is the demo catalog: category -> brand -> items, and the products seller 1 and 2 sell.
var demoCatalog = []struct {
	category, brand, item, description string
	price                              int64
	stock                              int
}{
	{"Laptops", "Acme", "Acme Book 14", "A 14-inch laptop, 16 GB of memory.", 1_290_000, 30},
	{"Laptops", "Globex", "Globex Air 13", "A light 13-inch laptop.", 990_000, 20},
	{"Phones", "Acme", "Acme Phone X", "A phone with a very good camera.", 850_000, 100},
	{"Phones", "Initech", "Initech Mini", "A small phone for one hand.", 450_000, 50},
	{"Audio", "Globex", "Globex Buds", "Wireless earbuds with noise cancelling.", 129_000, 200},
	{"Audio", "Initech", "Initech Speaker", "A portable speaker.", 79_000, 5},
}

// seedCmd creates the demo accounts and catalog. Running it again changes nothing.
func seedCmd(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.production() {
		return errors.New("seed creates demo accounts with published passwords: refused with ENV=production")
	}
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	return seed(ctx, a)
}

func seed(ctx context.Context, a *app) error {
	var sellers []uuid.UUID
	var super uuid.UUID
	for _, u := range demoAccounts.users {
		if _, err := a.auth.EnsureUser(ctx, u); err != nil {
			return fmt.Errorf("seed user %s: %w", u.Email, err)
		}
	}
	for _, s := range demoAccounts.sellers {
		id, err := a.auth.EnsureSeller(ctx, s)
		if err != nil {
			return fmt.Errorf("seed seller %s: %w", s.Email, err)
		}
		sellers = append(sellers, id)
	}
	for _, s := range demoAccounts.supers {
		id, err := a.auth.EnsureSupervisor(ctx, s)
		if err != nil {
			return fmt.Errorf("seed supervisor %s: %w", s.Email, err)
		}
		super = id
	}
	ctx = commands.WithMeta(ctx, commands.Meta{Actor: domain.Actor{ID: super, Role: domain.RoleSupervisor}})
	h := a.handlers
	for i, d := range demoCatalog {
		catID, brandID, itemID := seedID("category", d.category), seedID("brand", d.brand), seedID("item", d.item)
		if _, err := h.CreateCategory.Handle(ctx, commands.CreateCategory{CategoryID: catID, Name: d.category}); ignoreExists(err) != nil {
			return fmt.Errorf("seed category %s: %w", d.category, err)
		}
		if _, err := h.CreateBrand.Handle(ctx, commands.CreateBrand{BrandID: brandID, Name: d.brand}); ignoreExists(err) != nil {
			return fmt.Errorf("seed brand %s: %w", d.brand, err)
		}
		if _, err := h.CreateItem.Handle(ctx, commands.CreateItem{ItemID: itemID, CategoryID: catID, BrandID: brandID, Name: d.item, Description: d.description}); ignoreExists(err) != nil {
			return fmt.Errorf("seed item %s: %w", d.item, err)
		}
		productID := seedID("product", d.item)
		seller := sellers[i%len(sellers)]
		_, err := h.CreateProduct.Handle(ctx, commands.CreateProduct{ProductID: productID, SellerID: seller, ItemID: itemID, Name: d.item, Price: d.price, Stock: d.stock})
		if err == nil {
			// Only a product this run created is put on sale: a seller may have changed it since.
			if _, err := h.ChangeProductStatus.Handle(ctx, commands.ChangeProductStatus{ProductID: productID, Status: product.StatusSell}); err != nil {
				return fmt.Errorf("seed product %s on sale: %w", d.item, err)
			}
		} else if ignoreExists(err) != nil {
			return fmt.Errorf("seed product %s: %w", d.item, err)
		}
	}
	a.log.Info("demo data seeded", "users", len(demoAccounts.users), "sellers", len(sellers), "products", len(demoCatalog))
	return nil
}

// ignoreExists treats "already exists" as done: seeding is idempotent. The demo ids are derived
// from names, so a conflict on a create can only mean the aggregate is there.
func ignoreExists(err error) error {
	if errors.Is(err, domain.ErrConflict) {
		return nil
	}
	return err
}

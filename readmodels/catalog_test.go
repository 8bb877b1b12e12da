package readmodels_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/readmodels"
)

// shop is a small catalog: two categories, two brands, two items, two sellers and five products,
// one in each status and two on sale.
type shop struct {
	shoes, bags    uuid.UUID // categories
	nike, acme     uuid.UUID // brands
	runner, tote   uuid.UUID // items
	s1, s2         uuid.UUID // sellers
	red, blue      uuid.UUID // products of s1: SELL 30,000 and SOLD_OUT 50,000 (shoes, nike)
	bag            uuid.UUID // product of s2: SELL 20,000 (bags, acme)
	draft, retired uuid.UUID // products of s1: REGISTERED and UNREGISTERED
}

func newShop(w *world) shop {
	s := shop{}
	for _, id := range []*uuid.UUID{&s.shoes, &s.bags, &s.nike, &s.acme, &s.runner, &s.tote, &s.s1, &s.s2,
		&s.red, &s.blue, &s.bag, &s.draft, &s.retired} {
		*id = uuid.New()
	}
	created := func(id, seller, item, cat, brand uuid.UUID, name string, price int64, stock, n int) product.Created {
		return product.Created{ProductID: id, SellerID: seller, ItemID: item, CategoryID: cat, BrandID: brand,
			Name: name, Price: price, Stock: stock, Status: product.StatusRegistered, At: at(n)}
	}
	status := func(id uuid.UUID, st product.Status, n int) product.StatusChanged {
		return product.StatusChanged{ProductID: id, Status: st, At: at(n)}
	}
	w.given(
		catalog.CategoryCreated{CategoryID: s.shoes, Name: "Shoes", At: at(0)},
		catalog.CategoryCreated{CategoryID: s.bags, Name: "Bags", At: at(0)},
		catalog.BrandCreated{BrandID: s.nike, Name: "Nike", At: at(0)},
		catalog.BrandCreated{BrandID: s.acme, Name: "Acme", At: at(0)},
		catalog.ItemCreated{ItemID: s.runner, CategoryID: s.shoes, BrandID: s.nike, Name: "Runner", Description: "a shoe", At: at(1)},
		catalog.ItemCreated{ItemID: s.tote, CategoryID: s.bags, BrandID: s.acme, Name: "Tote", Description: "a bag", At: at(1)},
		created(s.red, s.s1, s.runner, s.shoes, s.nike, "Red Running Shoe", 30_000, 10, 2),
		created(s.blue, s.s1, s.runner, s.shoes, s.nike, "Blue Shoe_100%", 50_000, 5, 3),
		created(s.bag, s.s2, s.tote, s.bags, s.acme, "Tote bag", 20_000, 7, 4),
		created(s.draft, s.s1, s.runner, s.shoes, s.nike, "Draft shoe", 10_000, 1, 5),
		created(s.retired, s.s1, s.runner, s.shoes, s.nike, "Old shoe", 15_000, 1, 6),
		status(s.red, product.StatusSell, 7),
		status(s.blue, product.StatusSoldOut, 7),
		status(s.bag, product.StatusSell, 7),
		status(s.retired, product.StatusSell, 7),
		status(s.retired, product.StatusUnregistered, 8),
	)
	return s
}

func productIDs(l readmodels.List[readmodels.Product]) []uuid.UUID {
	return ids(l.Items, func(p readmodels.Product) uuid.UUID { return p.ID })
}

func TestListCatalog(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newShop(w)
	// Reviews of red: 5 and 4, then 4 edited to 2 (avg 3.5); of blue: 5; of bag: 1, deleted.
	r1, r2, r3, r4 := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	w.given(
		review.Written{ReviewID: r1, OrderID: uuid.New(), Line: 1, ProductID: s.red, UserID: uuid.New(), Rating: 5, Content: "great", At: at(20)},
		review.Written{ReviewID: r2, OrderID: uuid.New(), Line: 1, ProductID: s.red, UserID: uuid.New(), Rating: 4, Content: "good", At: at(21)},
		review.Edited{ReviewID: r2, ProductID: s.red, Rating: 2, Content: "meh", At: at(22)},
		review.Written{ReviewID: r3, OrderID: uuid.New(), Line: 1, ProductID: s.bag, Rating: 1, Content: "bad", At: at(23)},
		review.Deleted{ReviewID: r3, ProductID: s.bag, At: at(24)},
		review.Written{ReviewID: r4, OrderID: uuid.New(), Line: 2, ProductID: s.blue, Rating: 5, Content: "wow", At: at(25)},
	)

	tests := []struct {
		name      string
		filter    readmodels.CatalogFilter
		want      []uuid.UUID
		wantTotal int64
	}{
		{"visible only, newest first", readmodels.CatalogFilter{}, []uuid.UUID{s.bag, s.blue, s.red}, 3},
		{"search ignores case", readmodels.CatalogFilter{Q: "SHOE"}, []uuid.UUID{s.blue, s.red}, 2},
		{"search wildcards match literally", readmodels.CatalogFilter{Q: "_100%"}, []uuid.UUID{s.blue}, 1},
		{"search percent is not a wildcard", readmodels.CatalogFilter{Q: "Red%Shoe"}, []uuid.UUID{}, 0},
		{"category", readmodels.CatalogFilter{CategoryID: s.shoes}, []uuid.UUID{s.blue, s.red}, 2},
		{"brand", readmodels.CatalogFilter{BrandID: s.acme}, []uuid.UUID{s.bag}, 1},
		{"price range inclusive", readmodels.CatalogFilter{MinPrice: 20_000, MaxPrice: 30_000}, []uuid.UUID{s.bag, s.red}, 2},
		{"min price", readmodels.CatalogFilter{MinPrice: 30_001}, []uuid.UUID{s.blue}, 1},
		{"sort price", readmodels.CatalogFilter{Sort: readmodels.SortPrice}, []uuid.UUID{s.bag, s.red, s.blue}, 3},
		{"sort -price", readmodels.CatalogFilter{Sort: readmodels.SortPriceDesc}, []uuid.UUID{s.blue, s.red, s.bag}, 3},
		{"sort rating", readmodels.CatalogFilter{Sort: readmodels.SortRating}, []uuid.UUID{s.blue, s.red, s.bag}, 3},
		{"page 1 of size 2", readmodels.CatalogFilter{Page: readmodels.Page{Number: 1, Size: 2}}, []uuid.UUID{s.red}, 3},
		{"page past the end", readmodels.CatalogFilter{Page: readmodels.Page{Number: 5, Size: 2}}, []uuid.UUID{}, 3},
		{"filters combine", readmodels.CatalogFilter{Q: "shoe", BrandID: s.nike, MaxPrice: 40_000}, []uuid.UUID{s.red}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.rm.ListCatalog(context.Background(), tt.filter)
			if err != nil {
				t.Fatalf("ListCatalog(%+v): %v", tt.filter, err)
			}
			if !reflect.DeepEqual(productIDs(got), tt.want) || got.Total != tt.wantTotal {
				t.Fatalf("ListCatalog(%+v) = %v total %d, want %v total %d", tt.filter, productIDs(got), got.Total, tt.want, tt.wantTotal)
			}
		})
	}

	got, err := w.rm.FindCatalogProduct(context.Background(), s.red)
	if err != nil {
		t.Fatalf("FindCatalogProduct(red): %v", err)
	}
	want := readmodels.Product{ID: s.red, Name: "Red Running Shoe", Price: 30_000, Stock: 10, Status: product.StatusSell,
		SellerID: s.s1, ItemID: s.runner, ItemName: "Runner", CategoryID: s.shoes, CategoryName: "Shoes",
		BrandID: s.nike, BrandName: "Nike", AvgRating: 3.5, ReviewCount: 2, CreatedAt: at(2), UpdatedAt: at(7)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FindCatalogProduct(red):\n got %+v\nwant %+v", got, want)
	}
	bag, err := w.rm.FindCatalogProduct(context.Background(), s.bag)
	if err != nil || bag.AvgRating != 0 || bag.ReviewCount != 0 {
		t.Fatalf("FindCatalogProduct(bag) after its only review was deleted = rating %v count %d err %v, want 0, 0, nil", bag.AvgRating, bag.ReviewCount, err)
	}
}

func TestListCatalogRejectsBadFilters(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, f := range []readmodels.CatalogFilter{
		{Sort: "cheapest"},
		{MinPrice: -1},
		{MinPrice: 10, MaxPrice: 5},
	} {
		_, err := w.rm.ListCatalog(context.Background(), f)
		if !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ListCatalog(%+v) error = %v, want an Invalid error", f, err)
		}
	}
}

func TestCatalogProductVisibility(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newShop(w)
	ctx := context.Background()
	for _, id := range []uuid.UUID{s.draft, s.retired, uuid.New()} {
		if _, err := w.rm.FindCatalogProduct(ctx, id); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("FindCatalogProduct(%s) error = %v, want NotFound", id, err)
		}
	}
	// The owner view sees every status; another seller's product is not found.
	p, err := w.rm.FindSellerProduct(ctx, s.s1, s.draft)
	if err != nil || p.Status != product.StatusRegistered {
		t.Fatalf("FindSellerProduct(s1, draft) = %v, %v; want REGISTERED", p.Status, err)
	}
	if _, err := w.rm.FindSellerProduct(ctx, s.s2, s.draft); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("FindSellerProduct(s2, draft of s1) error = %v, want NotFound", err)
	}

	tests := []struct {
		filter readmodels.SellerProductFilter
		want   []uuid.UUID
	}{
		{readmodels.SellerProductFilter{SellerID: s.s1}, []uuid.UUID{s.retired, s.draft, s.blue, s.red}},
		{readmodels.SellerProductFilter{SellerID: s.s1, Status: product.StatusUnregistered}, []uuid.UUID{s.retired}},
		{readmodels.SellerProductFilter{SellerID: s.s2}, []uuid.UUID{s.bag}},
		{readmodels.SellerProductFilter{Status: product.StatusSell}, []uuid.UUID{s.bag, s.red}},
	}
	for _, tt := range tests {
		got, err := w.rm.ListSellerProducts(ctx, tt.filter)
		if err != nil || !reflect.DeepEqual(productIDs(got), tt.want) || got.Total != int64(len(tt.want)) {
			t.Errorf("ListSellerProducts(%+v) = %v total %d, %v; want %v", tt.filter, productIDs(got), got.Total, err, tt.want)
		}
	}
	if _, err := w.rm.ListSellerProducts(ctx, readmodels.SellerProductFilter{Status: "GONE"}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("ListSellerProducts(status GONE) error = %v, want Invalid", err)
	}
}

func TestCatalogFollowsProductEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newShop(w)
	ctx := context.Background()
	order := uuid.New()
	w.given(
		product.Edited{ProductID: s.red, Name: "Crimson Shoe", Price: 35_000, At: at(30)},
		product.StockReserved{ProductID: s.red, OrderID: order, Quantity: 10, Stock: 0, At: at(31)},
		product.StatusChanged{ProductID: s.red, Status: product.StatusSoldOut, Auto: true, At: at(31)},
		product.StockReleased{ProductID: s.red, OrderID: order, Quantity: 4, Stock: 4, At: at(32)},
		product.StatusChanged{ProductID: s.red, Status: product.StatusSell, Auto: true, At: at(32)},
		product.Restocked{ProductID: s.bag, Quantity: 3, Stock: 10, At: at(33)},
		product.ReservationCommitted{ProductID: s.bag, OrderID: uuid.New(), Quantity: 1, At: at(34)},
		catalog.CategoryRenamed{CategoryID: s.shoes, Name: "Footwear", At: at(35)},
		catalog.BrandRenamed{BrandID: s.acme, Name: "Acme Co", At: at(35)},
		catalog.ItemEdited{ItemID: s.runner, CategoryID: s.shoes, BrandID: s.nike, Name: "Runner 2", Description: "better", At: at(36)},
	)
	red, err := w.rm.FindProduct(ctx, s.red)
	if err != nil {
		t.Fatalf("FindProduct(red): %v", err)
	}
	if red.Name != "Crimson Shoe" || red.Price != 35_000 || red.Stock != 4 || red.Status != product.StatusSell ||
		red.CategoryName != "Footwear" || red.ItemName != "Runner 2" || !red.UpdatedAt.Equal(at(32)) {
		t.Fatalf("FindProduct(red) = %+v; want Crimson Shoe, 35000, stock 4, SELL, Footwear, Runner 2, updated at(32)", red)
	}
	bag, err := w.rm.FindProduct(ctx, s.bag)
	if err != nil || bag.Stock != 10 || bag.BrandName != "Acme Co" || !bag.UpdatedAt.Equal(at(33)) {
		t.Fatalf("FindProduct(bag) = %+v, %v; want stock 10, brand Acme Co, updated at(33) (a committed reservation changes nothing)", bag, err)
	}
}

func TestCategoriesBrandsItems(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := newShop(w)
	ctx := context.Background()

	cats, err := w.rm.ListCategories(ctx, readmodels.Page{})
	if err != nil || !reflect.DeepEqual(ids(cats.Items, func(c readmodels.Category) uuid.UUID { return c.ID }), []uuid.UUID{s.bags, s.shoes}) || cats.Total != 2 {
		t.Fatalf("ListCategories = %+v, %v; want Bags, Shoes", cats, err)
	}
	brands, err := w.rm.ListBrands(ctx, readmodels.Page{Size: 1})
	if err != nil || len(brands.Items) != 1 || brands.Items[0].Name != "Acme" || brands.Total != 2 || brands.TotalPages() != 2 {
		t.Fatalf("ListBrands(size 1) = %+v, %v; want [Acme] of 2 on 2 pages", brands, err)
	}
	if b, err := w.rm.FindBrand(ctx, s.nike); err != nil || b.Name != "Nike" {
		t.Fatalf("FindBrand(nike) = %+v, %v", b, err)
	}
	if c, err := w.rm.FindCategory(ctx, s.shoes); err != nil || c.Name != "Shoes" || !c.CreatedAt.Equal(at(0)) {
		t.Fatalf("FindCategory(shoes) = %+v, %v", c, err)
	}

	items, err := w.rm.ListItems(ctx, readmodels.ItemFilter{BrandID: s.acme})
	if err != nil || len(items.Items) != 1 || items.Items[0].ID != s.tote {
		t.Fatalf("ListItems(brand acme) = %+v, %v; want [tote]", items, err)
	}
	all, err := w.rm.ListItems(ctx, readmodels.ItemFilter{})
	if err != nil || all.Total != 2 {
		t.Fatalf("ListItems() = %+v, %v; want 2 items", all, err)
	}
	got, err := w.rm.FindItem(ctx, s.runner)
	want := readmodels.Item{ID: s.runner, CategoryID: s.shoes, CategoryName: "Shoes", BrandID: s.nike, BrandName: "Nike",
		Name: "Runner", Description: "a shoe", CreatedAt: at(1), UpdatedAt: at(1)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("FindItem(runner) = %+v, %v\nwant %+v", got, err, want)
	}

	missing := uuid.New()
	for name, find := range map[string]func() error{
		"FindItem":     func() error { _, err := w.rm.FindItem(ctx, missing); return err },
		"FindBrand":    func() error { _, err := w.rm.FindBrand(ctx, missing); return err },
		"FindCategory": func() error { _, err := w.rm.FindCategory(ctx, missing); return err },
		"FindProduct":  func() error { _, err := w.rm.FindProduct(ctx, missing); return err },
	} {
		if err := find(); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("%s(unknown id) error = %v, want NotFound", name, err)
		}
	}
}

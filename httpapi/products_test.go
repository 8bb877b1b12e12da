package httpapi_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/httpapi"
)

// A product's life through the API: created REGISTERED (not in the catalog, in the seller's own
// list), edited, put on sale (in the catalog with its ratings), restocked up to the limit (past it
// 422, nothing changed), unregistered for good (then 409 and out of the catalog). Another seller's
// product is 404 to every seller route; a supervisor acts on any seller's.
func testProductLifecycle(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel, other := e.supervisor(), e.seller(), e.seller()
	tok := sel.tokens.AccessToken
	c := e.catalog(sup)

	r := e.expect(req{method: "POST", path: "/api/v1/products", token: tok, body: map[string]any{
		"item_id": c.item, "name": "Trail runner", "price": 89000, "stock": 3}}, 201)
	var p httpapi.ProductView
	r.decode(t, &p)
	if p.Status != "REGISTERED" || p.SellerID != sel.id || p.CategoryID != c.category || p.BrandID != c.brand ||
		p.Price != 89000 || p.Stock != 3 || r.header.Get("Location") != "/api/v1/seller/products/"+p.ID.String() {
		t.Fatalf("POST /products: %s", r)
	}
	id := p.ID.String()
	pos := position(t, r)
	e.expect(req{method: "GET", path: at("/api/v1/products/"+id, pos)}, 404)
	e.expect(req{method: "GET", path: at("/api/v1/seller/products/"+id, pos), token: tok}, 200).decode(t, &p)
	if p.ItemName != "Runner" || p.Status != "REGISTERED" {
		t.Fatalf("GET /seller/products/{id}: %+v", p)
	}

	// Another seller: 404 on every route, and nothing changes.
	ot := other.tokens.AccessToken
	e.expect(req{method: "PATCH", path: "/api/v1/products/" + id, token: ot, body: map[string]any{"name": "Mine", "price": 1}}, 404)
	e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/status", token: ot, body: map[string]any{"status": "SELL"}}, 404)
	e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/stock", token: ot, body: map[string]any{"quantity": 1}}, 404)
	e.expect(req{method: "GET", path: "/api/v1/seller/products/" + id, token: ot}, 404)
	var list []httpapi.ProductView
	e.expect(req{method: "GET", path: at("/api/v1/seller/products", pos), token: ot}, 200).decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("another seller's list: %+v", list)
	}
	if got := s.stock(t, p.ID); got.Name != "Trail runner" || got.Stock != 3 || got.Status != "REGISTERED" {
		t.Fatalf("another seller changed the product: %+v", got)
	}

	// PATCH is a partial update: each field alone, the other kept.
	e.expect(req{method: "PATCH", path: "/api/v1/products/" + id, token: tok, body: map[string]any{"price": 99000}}, 200).decode(t, &p)
	if p.Name != "Trail runner" || p.Price != 99000 {
		t.Fatalf("PATCH with price only: %+v, want the name kept and price 99000", p)
	}
	r = e.expect(req{method: "PATCH", path: "/api/v1/products/" + id, token: tok, body: map[string]any{"name": "Trail runner 2"}}, 200)
	r.decode(t, &p)
	if p.Name != "Trail runner 2" || p.Price != 99000 {
		t.Fatalf("PATCH with name only: %+v, want the price kept and name Trail runner 2", p)
	}
	position(t, r)
	r = e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/status", token: tok, body: map[string]any{"status": "SELL"}}, 200)
	r.decode(t, &p)
	if p.Status != "SELL" || p.Name != "Trail runner 2" || p.Price != 99000 {
		t.Fatalf("after edit and SELL: %+v", p)
	}
	pos = position(t, r)
	e.expect(req{method: "GET", path: at("/api/v1/products/"+id, pos)}, 200).decode(t, &p)
	if p.Status != "SELL" || p.AvgRating == nil || *p.AvgRating != 0 || p.ReviewCount == nil || *p.ReviewCount != 0 || p.BrandName == "" {
		t.Fatalf("catalog product: %+v", p)
	}
	r = e.expect(req{method: "GET", path: at("/api/v1/products?category_id="+c.category.String(), pos)}, 200)
	r.decode(t, &list)
	if len(list) != 1 || list[0].ID != p.ID || r.env.Pagination.TotalElements != 1 {
		t.Fatalf("GET /products?category_id: %s", r)
	}

	// Restock up to 1,000,000; past it 422 and nothing changes.
	r = e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/stock", token: tok, body: map[string]any{"quantity": 999_990}}, 200)
	r.decode(t, &p)
	if p.Stock != 999_993 {
		t.Fatalf("after restock: %+v", p)
	}
	e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/stock", token: tok, body: map[string]any{"quantity": 8}}, 422)
	e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/stock", token: tok, body: map[string]any{"quantity": 0}}, 400)
	if got := s.stock(t, p.ID); got.Stock != 999_993 {
		t.Fatalf("stock after refused restock = %d, want 999993", got.Stock)
	}
	e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/stock", token: tok, body: map[string]any{"quantity": 7}}, 200)

	// A supervisor acts on any seller's product.
	st := sup.tokens.AccessToken
	r = e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/status", token: st, body: map[string]any{"status": "SOLD_OUT"}}, 200)
	e.expect(req{method: "GET", path: at("/api/v1/seller/products?seller_id="+sel.id.String()+"&status=SOLD_OUT", position(t, r)), token: st}, 200).decode(t, &list)
	if len(list) != 1 || list[0].ID != p.ID {
		t.Fatalf("supervisor's GET /seller/products?seller_id&status: %+v", list)
	}

	// UNREGISTERED is final.
	r = e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/status", token: tok, body: map[string]any{"status": "UNREGISTERED"}}, 200)
	pos = position(t, r)
	e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/status", token: tok, body: map[string]any{"status": "SELL"}}, 409)
	e.expect(req{method: "PATCH", path: "/api/v1/products/" + id, token: tok, body: map[string]any{"name": "Back", "price": 1}}, 409)
	e.expect(req{method: "POST", path: "/api/v1/products/" + id + "/stock", token: tok, body: map[string]any{"quantity": 1}}, 409)
	e.expect(req{method: "GET", path: at("/api/v1/products/"+id, pos)}, 404)
	e.expect(req{method: "GET", path: at("/api/v1/seller/products?status=UNREGISTERED", pos), token: tok}, 200).decode(t, &list)
	if len(list) != 1 || list[0].ID != p.ID {
		t.Fatalf("seller's own UNREGISTERED list: %+v", list)
	}
	e.expect(req{method: "PATCH", path: "/api/v1/products/" + uuid.NewString(), token: tok, body: map[string]any{"name": "X", "price": 1}}, 404)
	e.expect(req{method: "POST", path: "/api/v1/products", token: tok, body: map[string]any{
		"item_id": uuid.New(), "name": "X", "price": 1, "stock": 0}}, 404)
}

// SELL with no stock makes a product SOLD_OUT by itself; stock back puts it on sale. A supervisor
// names the seller of a product it creates; a seller may not name another.
func testProductStatusAndSellers(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel, other := e.supervisor(), e.seller(), e.seller()
	c := e.catalog(sup)
	id, pos := e.product(sel, c.item, 1000, 0)
	var p httpapi.ProductView
	e.expect(req{method: "GET", path: at("/api/v1/products/"+id.String(), pos)}, 200).decode(t, &p)
	if p.Status != "SOLD_OUT" {
		t.Fatalf("SELL at stock 0: %+v, want SOLD_OUT", p)
	}
	r := e.expect(req{method: "POST", path: "/api/v1/products/" + id.String() + "/stock", token: sel.tokens.AccessToken, body: map[string]any{"quantity": 2}}, 200)
	r.decode(t, &p)
	if p.Status != "SELL" || p.Stock != 2 {
		t.Fatalf("restock of a product sold out by itself: %+v, want SELL", p)
	}

	body := map[string]any{"item_id": c.item, "name": "By the supervisor", "price": 5, "stock": 1}
	r = e.expect(req{method: "POST", path: "/api/v1/products", token: sup.tokens.AccessToken, body: body}, 400)
	if _, ok := r.fields()["seller_id"]; !ok {
		t.Fatalf("supervisor without seller_id: %s", r)
	}
	body["seller_id"] = uuid.New()
	e.expect(req{method: "POST", path: "/api/v1/products", token: sup.tokens.AccessToken, body: body}, 404)
	body["seller_id"] = sel.id
	e.expect(req{method: "POST", path: "/api/v1/products", token: sup.tokens.AccessToken, body: body}, 201).decode(t, &p)
	if p.SellerID != sel.id {
		t.Fatalf("supervisor's product for a seller: %+v", p)
	}
	e.expect(req{method: "POST", path: "/api/v1/products", token: other.tokens.AccessToken, body: body}, 400)
	body["seller_id"] = other.id
	e.expect(req{method: "POST", path: "/api/v1/products", token: other.tokens.AccessToken, body: body}, 201)
}

// Product bodies and catalog queries are validated: every bad field is named.
func testProductValidation(t *testing.T, s *shop) {
	e := s.server(t)
	sel := e.seller()
	tok := sel.tokens.AccessToken
	tests := []struct {
		method, path string
		body         any
		fields       []string
	}{
		{"POST", "/api/v1/products", map[string]any{"item_id": uuid.New(), "name": " ", "price": 0, "stock": -1}, []string{"name", "price", "stock"}},
		{"POST", "/api/v1/products", map[string]any{"item_id": uuid.New(), "name": strings.Repeat("n", 101), "price": 100_000_001, "stock": 1_000_001}, []string{"name", "price", "stock"}},
		{"POST", "/api/v1/products", map[string]any{"name": "A", "price": 1.5, "stock": "1"}, []string{"item_id", "price", "stock"}},
		{"POST", "/api/v1/products", map[string]any{"item_id": uuid.New(), "name": "A", "price": 1, "stock": 1, "status": "SELL"}, []string{"status"}},
		{"PATCH", "/api/v1/products/" + uuid.NewString(), map[string]any{}, []string{"body"}},
		{"PATCH", "/api/v1/products/" + uuid.NewString(), map[string]any{"name": " ", "price": 0}, []string{"name", "price"}},
		{"POST", "/api/v1/products/" + uuid.NewString() + "/status", map[string]any{"status": "REGISTERED"}, []string{"status"}},
		{"POST", "/api/v1/products/" + uuid.NewString() + "/stock", map[string]any{"quantity": -3}, []string{"quantity"}},
		{"GET", "/api/v1/products?sort=cheapest&size=101&min_price=-1", nil, []string{"sort", "size", "min_price"}},
		{"GET", "/api/v1/products?min_position=soon", nil, []string{"min_position"}},
		{"GET", "/api/v1/seller/products?status=GONE&page=-1", nil, []string{"status", "page"}},
	}
	for _, tt := range tests {
		r := e.expect(req{method: tt.method, path: tt.path, token: tok, body: tt.body}, 400)
		for _, f := range tt.fields {
			if _, ok := r.fields()[f]; !ok {
				t.Errorf("%s %s %v: fields %v do not name %q", tt.method, tt.path, tt.body, r.fields(), f)
			}
		}
	}
}

// The catalog filters and sorts: q, price bounds and every sort, over one category's products.
func testCatalogQueries(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel := e.supervisor(), e.seller()
	c := e.catalog(sup)
	var pos uint64
	ids := map[int64]uuid.UUID{}
	for _, price := range []int64{3000, 1000, 2000} {
		ids[price], pos = e.product(sel, c.item, price, 5)
	}
	// One REGISTERED product, which the catalog does not show.
	e.expect(req{method: "POST", path: "/api/v1/products", token: sel.tokens.AccessToken, body: map[string]any{
		"item_id": c.item, "name": "Hidden", "price": 1500, "stock": 1}}, 201)
	base := "/api/v1/products?category_id=" + c.category.String()
	tests := []struct {
		query string
		want  []int64
	}{
		{"", []int64{2000, 1000, 3000}},
		{"&sort=newest", []int64{2000, 1000, 3000}},
		{"&sort=price", []int64{1000, 2000, 3000}},
		{"&sort=-price", []int64{3000, 2000, 1000}},
		{"&min_price=1500&max_price=2500", []int64{2000}},
		{"&q=product&sort=price&size=2", []int64{1000, 2000}},
		{"&q=product&sort=price&size=2&page=1", []int64{3000}},
		{"&q=nothing-like-this", nil},
	}
	for _, tt := range tests {
		r := e.expect(req{method: "GET", path: at(base+tt.query, pos)}, 200)
		var list []httpapi.ProductView
		r.decode(t, &list)
		var got []int64
		for _, p := range list {
			got = append(got, p.Price)
		}
		if len(got) != len(tt.want) {
			t.Errorf("GET products%s: prices %v, want %v", tt.query, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("GET products%s: prices %v, want %v", tt.query, got, tt.want)
				break
			}
		}
	}
	r := e.expect(req{method: "GET", path: at(base+"&sort=rating&brand_id="+c.brand.String(), pos)}, 200)
	if r.env.Pagination.TotalElements != 3 {
		t.Fatalf("sort=rating with brand_id: %s", r)
	}
	r = e.expect(req{method: "GET", path: at(base+"&size=2", pos)}, 200)
	if pg := r.env.Pagination; pg == nil || pg.TotalElements != 3 || pg.TotalPage != 2 || pg.CurrentElements != 2 || pg.Size != 2 {
		t.Fatalf("pagination: %s", r)
	}
}

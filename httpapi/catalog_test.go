package httpapi_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/auth"
)

// The catalog: a supervisor creates and renames categories, brands and items (201 with Location
// and X-Event-Position), everyone lists categories and brands, sellers read items, and the reads
// with min_position see the writes at once.
func testCatalog(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel := e.supervisor(), e.seller()
	tok := sup.tokens.AccessToken

	name := "Shoes " + uuid.NewString()[:8]
	r := e.expect(req{method: "POST", path: "/api/v1/categories", token: tok, body: map[string]any{"name": "  " + name + " "}}, 201)
	var cat httpapi.CategoryView
	r.decode(t, &cat)
	if cat.Name != name || r.header.Get("Location") != "/api/v1/categories/"+cat.ID.String() {
		t.Fatalf("POST /categories: %s (Location %q), want the trimmed name and its Location", r, r.header.Get("Location"))
	}
	p := position(t, r)
	var got httpapi.CategoryView
	e.expect(req{method: "GET", path: at("/api/v1/categories/"+cat.ID.String(), p)}, 200).decode(t, &got)
	if got != cat {
		t.Fatalf("GET category = %+v, want %+v", got, cat)
	}
	r = e.expect(req{method: "PATCH", path: "/api/v1/categories/" + cat.ID.String(), token: tok, body: map[string]any{"name": name + " 2"}}, 200)
	e.expect(req{method: "GET", path: at("/api/v1/categories/"+cat.ID.String(), position(t, r))}, 200).decode(t, &got)
	if got.Name != name+" 2" {
		t.Fatalf("after rename: %+v", got)
	}
	// Every page of the public list, until the category is found.
	found := false
	for page := 0; ; page++ {
		r := e.expect(req{method: "GET", path: at("/api/v1/categories?size=100&page="+strconv.Itoa(page), p)}, 200)
		var list []httpapi.CategoryView
		r.decode(t, &list)
		for _, c := range list {
			found = found || c.ID == cat.ID
		}
		if found || r.env.Pagination == nil || int64(page+1) >= r.env.Pagination.TotalPage {
			break
		}
	}
	if !found {
		t.Fatalf("category %s is on no page of GET /categories", cat.ID)
	}

	var brand httpapi.BrandView
	r = e.expect(req{method: "POST", path: "/api/v1/brands", token: tok, body: map[string]any{"name": "Acme"}}, 201)
	r.decode(t, &brand)
	e.expect(req{method: "PATCH", path: "/api/v1/brands/" + brand.ID.String(), token: tok, body: map[string]any{"name": "Acme 2"}}, 200)
	var gotBrand httpapi.BrandView
	e.expect(req{method: "GET", path: at("/api/v1/brands/"+brand.ID.String(), position(t, r))}, 200).decode(t, &gotBrand)
	if gotBrand.ID != brand.ID {
		t.Fatalf("GET brand = %+v, want %+v", gotBrand, brand)
	}
	e.expect(req{method: "GET", path: "/api/v1/brands?size=5"}, 200)

	r = e.expect(req{method: "POST", path: "/api/v1/items", token: tok, body: map[string]any{
		"category_id": cat.ID, "brand_id": brand.ID, "name": "Runner", "description": "a shoe"}}, 201)
	var item httpapi.ItemView
	r.decode(t, &item)
	if r.header.Get("Location") != "/api/v1/items/"+item.ID.String() || item.CategoryID != cat.ID || item.BrandID != brand.ID {
		t.Fatalf("POST /items: %s", r)
	}
	p = position(t, r)
	// Sellers read items, with the names of their category and brand.
	r = e.expect(req{method: "GET", path: at("/api/v1/items?category_id="+cat.ID.String(), p), token: sel.tokens.AccessToken}, 200)
	var items []httpapi.ItemView
	r.decode(t, &items)
	if len(items) != 1 || items[0].ID != item.ID || items[0].CategoryName != name+" 2" || r.env.Pagination.TotalElements != 1 {
		t.Fatalf("GET /items?category_id: %s", r)
	}
	r = e.expect(req{method: "PUT", path: "/api/v1/items/" + item.ID.String(), token: tok, body: map[string]any{
		"category_id": cat.ID, "brand_id": brand.ID, "name": "Runner 2"}}, 200)
	e.expect(req{method: "GET", path: at("/api/v1/items/"+item.ID.String(), position(t, r)), token: sel.tokens.AccessToken}, 200).decode(t, &item)
	if item.Name != "Runner 2" || item.Description != "" || item.BrandName != "Acme 2" {
		t.Fatalf("GET item after PUT: %+v", item)
	}

	// Refusals.
	unknown := uuid.NewString()
	e.expect(req{method: "POST", path: "/api/v1/items", token: tok, body: map[string]any{
		"category_id": unknown, "brand_id": brand.ID, "name": "X"}}, 404)
	e.expect(req{method: "POST", path: "/api/v1/items", token: tok, body: map[string]any{
		"category_id": cat.ID, "brand_id": unknown, "name": "X"}}, 404)
	e.expect(req{method: "PATCH", path: "/api/v1/categories/" + unknown, token: tok, body: map[string]any{"name": "X"}}, 404)
	e.expect(req{method: "GET", path: "/api/v1/categories/" + unknown}, 404)
	e.expect(req{method: "GET", path: "/api/v1/items/" + unknown, token: sel.tokens.AccessToken}, 404)
	e.expect(req{method: "GET", path: "/api/v1/items/not-a-uuid", token: sel.tokens.AccessToken}, 400)
}

// Catalog bodies are validated before any command runs: every bad field is named.
func testCatalogValidation(t *testing.T, s *shop) {
	e := s.server(t)
	tok := e.supervisor().tokens.AccessToken
	tests := []struct {
		name, path string
		body       any
		fields     []string
	}{
		{"blank name", "/api/v1/categories", map[string]any{"name": "   "}, []string{"name"}},
		{"empty name", "/api/v1/brands", map[string]any{"name": ""}, []string{"name"}},
		{"name over 50", "/api/v1/categories", map[string]any{"name": strings.Repeat("가", 51)}, []string{"name"}},
		{"no name", "/api/v1/brands", map[string]any{}, []string{"name"}},
		{"unknown field", "/api/v1/categories", map[string]any{"name": "A", "color": "red"}, []string{"color"}},
		{"wrong type", "/api/v1/categories", map[string]any{"name": 5}, []string{"name"}},
		{"item: every field", "/api/v1/items", map[string]any{"category_id": "x", "brand_id": 1, "name": "", "description": strings.Repeat("d", 2001)},
			[]string{"category_id", "brand_id", "name", "description"}},
	}
	for _, tt := range tests {
		r := e.expect(req{method: "POST", path: tt.path, token: tok, body: tt.body}, 400)
		for _, f := range tt.fields {
			if _, ok := r.fields()[f]; !ok {
				t.Errorf("%s: POST %s %v: fields %v do not name %q", tt.name, tt.path, tt.body, r.fields(), f)
			}
		}
	}
	// A name of 50 characters of 3 bytes each is fine: lengths count characters.
	e.expect(req{method: "POST", path: "/api/v1/categories", token: tok, body: map[string]any{"name": strings.Repeat("가", 50)}}, 201)
}

// ?min_position on a query route: not a number is 400; a position the read model reached gives
// data at least that fresh at once; one it does not reach within 2 s is 503 with Retry-After,
// never stale data.
func testMinPosition(t *testing.T, s *shop) {
	e := s.server(t)
	sup := e.supervisor()
	for _, bad := range []string{"soon", "-1", "1.5", "18446744073709551616"} {
		r := e.expect(req{method: "GET", path: "/api/v1/categories?min_position=" + bad}, 400)
		if _, ok := r.fields()["min_position"]; !ok {
			t.Errorf("min_position=%s: %s, want the field named", bad, r)
		}
	}
	// Read your write, on each read model.
	c := e.catalog(sup)
	e.expect(req{method: "GET", path: at("/api/v1/items/"+c.item.String(), c.pos), token: sup.tokens.AccessToken}, 200)
	e.expect(req{method: "GET", path: at("/api/v1/admin/orders", c.pos), token: sup.tokens.AccessToken}, 200)
	e.expect(req{method: "GET", path: at("/api/v1/products/"+uuid.NewString()+"/reviews", c.pos)}, 200)

	// A server with the production wait, asked for a position a billion transactions ahead (a
	// position is the transaction id shifted by 20 bits, and the tests running beside this one
	// use up thousands of ids a second).
	prod := s.server(t, func(d *httpapi.Deps, _ *auth.Config) { d.Config.MinPositionWait = 0 })
	start := time.Now()
	r := prod.expect(req{method: "GET", path: at("/api/v1/categories/"+c.category.String(), c.pos+1<<50)}, 503)
	if took := time.Since(start); took < 2*time.Second || took > 10*time.Second || r.header.Get("Retry-After") == "" {
		t.Fatalf("min_position ahead of the log: %s after %s, want 503 with Retry-After after about 2 s", r, took)
	}
}

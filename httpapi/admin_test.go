package httpapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/httpapi"
)

// GET /admin/streams/{stream_id}: a stream's events for support, oldest first, paged by version,
// with their metadata (the acting account and the request's correlation id).
func testAdminStreams(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel, u := e.supervisor(), e.seller(), e.user()
	c := e.catalog(sup)
	a, _ := e.product(sel, c.item, 1000, 10)
	position(t, e.expect(req{method: "POST", path: "/api/v1/products/" + a.String() + "/stock", token: sel.tokens.AccessToken,
		body: map[string]any{"quantity": 5}, header: map[string]string{"X-Request-ID": "b3c1d7e2-0f4a-4c55-9a6e-2d8f1e0c7b91"}}, 200))
	stream := "/api/v1/admin/streams/product-" + a.String()
	r := e.expect(req{method: "GET", path: stream + "?size=2", token: sup.tokens.AccessToken}, 200)
	var events []httpapi.StreamEventView
	r.decode(t, &events)
	if len(events) != 2 || events[0].Type != "product.created.v1" || events[0].Version != 1 || events[1].Version != 2 ||
		r.env.Pagination.TotalElements != 3 || r.env.Pagination.TotalPage != 2 {
		t.Fatalf("GET %s?size=2: %s", stream, r)
	}
	r = e.expect(req{method: "GET", path: stream + "?size=2&page=1", token: sup.tokens.AccessToken}, 200)
	r.decode(t, &events)
	var md struct {
		ActorID       uuid.UUID `json:"actor_id"`
		ActorRole     string    `json:"actor_role"`
		CorrelationID uuid.UUID `json:"correlation_id"`
	}
	if len(events) != 1 || events[0].Version != 3 || json.Unmarshal(events[0].Metadata, &md) != nil {
		t.Fatalf("page 1: %s", r)
	}
	if md.ActorID != sel.id || md.ActorRole != "SELLER" || md.CorrelationID.String() != "b3c1d7e2-0f4a-4c55-9a6e-2d8f1e0c7b91" {
		t.Fatalf("metadata of the restock: %+v, want the seller and the request id", md)
	}
	e.expect(req{method: "GET", path: stream + "?page=5", token: sup.tokens.AccessToken}, 200).decode(t, &events)
	if len(events) != 0 {
		t.Fatalf("a page past the end: %+v", events)
	}
	e.expect(req{method: "GET", path: "/api/v1/admin/streams/order-" + uuid.NewString(), token: sup.tokens.AccessToken}, 404)
	e.expect(req{method: "GET", path: stream, token: u.tokens.AccessToken}, 403, 4005)
	e.expect(req{method: "GET", path: stream, token: sel.tokens.AccessToken}, 403, 4005)
}

// GET /admin/projections lists every projector; POST /admin/projections/{name}/rebuild starts a
// rebuild and answers 202 while it runs; a second one meanwhile is 409; the rebuilt read model
// then serves the same data. The test keeps the rebuild from finishing by holding a lock on a
// live table its swap must take.
func testAdminProjections(t *testing.T, s *shop) {
	e := s.server(t)
	sup := e.supervisor()
	tok := sup.tokens.AccessToken
	c := e.catalog(sup)

	var infos []httpapi.ProjectionInfo
	eventually(t, 5*time.Second, "every projector running, and at the catalog's writes", func() bool {
		e.expect(req{method: "GET", path: "/api/v1/admin/projections", token: tok}, 200).decode(t, &infos)
		running := 0
		for _, in := range infos {
			if in.Status == "running" && uint64(in.Position) >= c.pos {
				running++
			}
		}
		return running == 3
	})
	names := map[string]bool{}
	for _, in := range infos {
		names[in.Name] = true
		if in.Head < in.Position || in.Lag != uint64(in.Head-in.Position) {
			t.Fatalf("projection %+v: want a position at or below the head, and the lag between them", in)
		}
	}
	if !names["catalog.v1"] || !names["orders.v1"] || !names["reviews.v1"] {
		t.Fatalf("GET /admin/projections: %+v", infos)
	}

	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM readmodel.categories LIMIT 1`); err != nil {
		t.Fatalf("lock readmodel.categories: %v", err)
	}
	r := e.expect(req{method: "POST", path: "/api/v1/admin/projections/catalog/rebuild", token: tok}, 202)
	var rv httpapi.RebuildView
	r.decode(t, &rv)
	if rv.Name != "catalog" || rv.Status != "rebuilding" {
		t.Fatalf("rebuild: %s", r)
	}
	e.expect(req{method: "POST", path: "/api/v1/admin/projections/catalog.v1/rebuild", token: tok}, 409)
	e.expect(req{method: "POST", path: "/api/v1/admin/projections/nothing/rebuild", token: tok}, 404)
	e.expect(req{method: "GET", path: "/api/v1/admin/projections", token: tok}, 200).decode(t, &infos)
	if infos[0].Name != "catalog.v1" || infos[0].Status != "rebuilding" {
		t.Fatalf("projections during the rebuild: %+v", infos)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	eventually(t, 20*time.Second, "the rebuild ends", func() bool {
		infos = nil // decode into fresh values: an absent rebuild must not keep the last one
		e.expect(req{method: "GET", path: "/api/v1/admin/projections", token: tok}, 200).decode(t, &infos)
		return infos[0].Status == "running" && infos[0].Rebuild == nil
	})
	var cat httpapi.CategoryView
	e.expect(req{method: "GET", path: at("/api/v1/categories/"+c.category.String(), c.pos)}, 200).decode(t, &cat)
	if cat.ID != c.category {
		t.Fatalf("category after the rebuild: %+v", cat)
	}
}

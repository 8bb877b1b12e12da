package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/httpapi"
)

// The order's user reviews an accepted, delivered line once (201); a line not ACCEPT and
// COMPLETE is 422 whatever its state, a second review 409; another user's order or review is 404. The review shows
// on the review routes, the order line and the product's ratings; the author edits and deletes it.
func testReviews(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel, u, other := e.supervisor(), e.seller(), e.user(), e.user()
	c := e.catalog(sup)
	a, _ := e.product(sel, c.item, 1000, 10)
	b, _ := e.product(sel, c.item, 1000, 10)
	o, _ := e.order(u, e.address(u), orderLine{a, 1}, orderLine{b, 1})
	oid := o.ID.String()
	review := func(who account, line int, body any, status int) response {
		t.Helper()
		return e.expect(req{method: "POST", path: fmt.Sprintf("/api/v1/orders/%s/lines/%d/review", oid, line),
			token: who.tokens.AccessToken, body: body}, status)
	}
	good := map[string]any{"rating": 4, "content": "Fits well"}
	review(u, 1, good, 422) // ORDER, READY
	for _, action := range []string{"accept", "ship"} {
		e.expect(req{method: "POST", path: fmt.Sprintf("/api/v1/seller/order-lines/%s/1/%s", oid, action), token: sel.tokens.AccessToken}, 200)
	}
	review(u, 1, good, 422) // ACCEPT, DELIVERY
	e.expect(req{method: "POST", path: fmt.Sprintf("/api/v1/seller/order-lines/%s/1/deliver", oid), token: sel.tokens.AccessToken}, 200)
	e.expect(req{method: "POST", path: fmt.Sprintf("/api/v1/seller/order-lines/%s/2/reject", oid), token: sel.tokens.AccessToken}, 200)
	review(u, 2, good, 422) // REJECT
	review(other, 1, good, 404)
	review(u, 3, good, 404)
	for _, bad := range []map[string]any{
		{"rating": 0, "content": "x"}, {"rating": 6, "content": "x"}, {"rating": 4, "content": ""},
		{"rating": 4, "content": "   "}, {"rating": 4, "content": strings.Repeat("a", 2001)}, {"rating": 4},
	} {
		review(u, 1, bad, 400)
	}

	// 2,000 characters of 3 bytes each: lengths count characters.
	content := strings.Repeat("좋", 2000)
	r := review(u, 1, map[string]any{"rating": 4, "content": content}, 201)
	var rv httpapi.ReviewView
	r.decode(t, &rv)
	if rv.Rating != 4 || rv.Content != content || rv.UserID != u.id || rv.ProductID != a || rv.Line != 1 ||
		r.header.Get("Location") != "/api/v1/reviews/"+rv.ID.String() {
		t.Fatalf("POST review: %s", r)
	}
	pos := position(t, r)
	review(u, 1, good, 409) // one review per line

	var got httpapi.ReviewView
	e.expect(req{method: "GET", path: at("/api/v1/reviews/"+rv.ID.String(), pos)}, 200).decode(t, &got)
	if got.ID != rv.ID || got.Content != content {
		t.Fatalf("GET /reviews/{id}: %+v", got)
	}
	var list []httpapi.ReviewView
	e.expect(req{method: "GET", path: at("/api/v1/products/"+a.String()+"/reviews", pos)}, 200).decode(t, &list)
	if len(list) != 1 || list[0].ID != rv.ID {
		t.Fatalf("GET /products/{id}/reviews: %+v", list)
	}
	e.expect(req{method: "GET", path: at("/api/v1/users/me/reviews", pos), token: u.tokens.AccessToken}, 200).decode(t, &list)
	if len(list) != 1 || list[0].ID != rv.ID {
		t.Fatalf("GET /users/me/reviews: %+v", list)
	}
	e.expect(req{method: "GET", path: at("/api/v1/users/me/reviews", pos), token: other.tokens.AccessToken}, 200).decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("another user's GET /users/me/reviews: %+v", list)
	}
	var ord httpapi.OrderView
	e.expect(req{method: "GET", path: at("/api/v1/orders/"+oid, pos), token: u.tokens.AccessToken}, 200).decode(t, &ord)
	if ord.Lines[0].ReviewID == nil || *ord.Lines[0].ReviewID != rv.ID || ord.Lines[1].ReviewID != nil || ord.Lines[1].RejectReason != "" {
		t.Fatalf("order lines after the review: %+v", ord.Lines)
	}
	var p httpapi.ProductView
	e.expect(req{method: "GET", path: at("/api/v1/products/"+a.String(), pos)}, 200).decode(t, &p)
	if *p.AvgRating != 4 || *p.ReviewCount != 1 {
		t.Fatalf("product ratings after the review: %+v", p)
	}

	// Only the author edits and deletes.
	path := "/api/v1/reviews/" + rv.ID.String()
	e.expect(req{method: "PATCH", path: path, token: other.tokens.AccessToken, body: map[string]any{"rating": 1, "content": "Mine"}}, 404)
	e.expect(req{method: "DELETE", path: path, token: other.tokens.AccessToken}, 404)
	e.expect(req{method: "PATCH", path: path, token: u.tokens.AccessToken, body: map[string]any{"rating": 2}}, 400)
	r = e.expect(req{method: "PATCH", path: path, token: u.tokens.AccessToken, body: map[string]any{"rating": 2, "content": " Smaller than I thought "}}, 200)
	r.decode(t, &rv)
	if rv.Rating != 2 || rv.Content != "Smaller than I thought" {
		t.Fatalf("PATCH review: %s", r)
	}
	e.expect(req{method: "GET", path: at("/api/v1/products/"+a.String(), position(t, r))}, 200).decode(t, &p)
	if *p.AvgRating != 2 {
		t.Fatalf("product rating after the edit: %+v", p)
	}
	r = e.expect(req{method: "DELETE", path: path, token: u.tokens.AccessToken}, 200)
	pos = position(t, r)
	e.expect(req{method: "GET", path: at(path, pos)}, 404)
	e.expect(req{method: "DELETE", path: path, token: u.tokens.AccessToken}, 404)
	e.expect(req{method: "PATCH", path: path, token: u.tokens.AccessToken, body: good}, 404)
	e.expect(req{method: "GET", path: at("/api/v1/products/"+a.String(), pos)}, 200).decode(t, &p)
	if *p.AvgRating != 0 || *p.ReviewCount != 0 {
		t.Fatalf("product ratings after the delete: %+v", p)
	}
	// A deleted review's line may be reviewed again.
	review(u, 1, good, 201)
	e.expect(req{method: "GET", path: "/api/v1/reviews/" + uuid.NewString()}, 404)
}

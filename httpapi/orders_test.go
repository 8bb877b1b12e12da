package httpapi_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/httpapi"
)

// POST /orders answers 202 with the order PENDING (prices, names and sellers from the products),
// its Location and X-Event-Position; with ?wait it answers 201 once the order is ORDER, or REJECT
// (OUT_OF_STOCK) when a line is short, and then no stock moved. The user reads their own orders;
// another user's order is 404.
func testPlaceOrder(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel, u, other := e.supervisor(), e.seller(), e.user(), e.user()
	c := e.catalog(sup)
	a, _ := e.product(sel, c.item, 1000, 5)
	b, _ := e.product(sel, c.item, 2500, 1)
	addr := e.address(u)
	tok := u.tokens.AccessToken

	r := e.expect(req{method: "POST", path: "/api/v1/orders", token: tok, body: map[string]any{
		"address_id": addr, "lines": []orderLine{{a, 2}, {b, 1}}}}, 202)
	var o httpapi.OrderView
	r.decode(t, &o)
	if o.Status != "PENDING" || o.UserID != u.id || o.Total != 4500 || len(o.Lines) != 2 || o.RejectReason != nil ||
		o.Address.Receiver != "Kim Minsu" || o.Address.ReceiveType != "DOOR" || r.header.Get("Location") != "/api/v1/orders/"+o.ID.String() {
		t.Fatalf("POST /orders: %s", r)
	}
	if l := o.Lines[1]; l.Line != 2 || l.ProductID != b || l.SellerID != sel.id || l.UnitPrice != 2500 || l.Quantity != 1 ||
		l.ProductName == "" || l.Status != nil || l.DeliveryStatus != nil || l.ReviewID != nil {
		t.Fatalf("line 2 of a PENDING order: %+v", l)
	}
	pos := position(t, r)
	var got httpapi.OrderView
	e.expect(req{method: "GET", path: at("/api/v1/orders/"+o.ID.String(), pos), token: tok}, 200).decode(t, &got)
	if got.ID != o.ID || got.Total != 4500 || len(got.Lines) != 2 {
		t.Fatalf("GET /orders/{id}?min_position: %+v", got)
	}
	e.expect(req{method: "GET", path: at("/api/v1/orders/"+o.ID.String(), pos), token: other.tokens.AccessToken}, 404)
	eventually(t, 10*time.Second, "the first order is ORDER", func() bool {
		var v httpapi.OrderView
		e.expect(req{method: "GET", path: "/api/v1/orders/" + o.ID.String(), token: tok}, 200).decode(t, &v)
		if v.Status != "ORDER" {
			return false
		}
		for _, l := range v.Lines {
			if l.Status == nil || *l.Status != "ORDER" || l.DeliveryStatus == nil || *l.DeliveryStatus != "READY" {
				t.Fatalf("an ORDER order's line as read: %+v, want ORDER READY", l)
			}
		}
		return len(v.Lines) == 2
	})

	// A wait too short for the process manager: 202 with the order PENDING. (An order of more
	// than the stock is not settled in the append that places it: the process manager rejects it.)
	// Now and then the process manager is quicker than the wait's timer: 201 REJECT, and another
	// order tries again; each is rejected, so the stock stays.
	scarce, _ := e.product(sel, c.item, 900, 1)
	var quick httpapi.OrderView
	for try := 1; ; try++ {
		r = e.do(req{method: "POST", path: "/api/v1/orders?wait=1ms", token: tok, body: map[string]any{
			"address_id": addr, "lines": []orderLine{{scarce, 2}}}})
		quick = httpapi.OrderView{}
		if err := decodeData(r, &quick); err != nil {
			t.Fatalf("POST /orders?wait=1ms: %s: %v", r, err)
		}
		if r.status == 201 && quick.Status == "REJECT" && try < 5 {
			continue
		}
		if r.status != 202 || quick.Status != "PENDING" || r.header.Get("Location") != "/api/v1/orders/"+quick.ID.String() {
			t.Fatalf("POST /orders?wait=1ms (try %d): %s, want 202 PENDING", try, r)
		}
		break
	}
	qpos := position(t, r)
	eventually(t, 10*time.Second, "the quick order is REJECT", func() bool {
		var v httpapi.OrderView
		e.expect(req{method: "GET", path: at("/api/v1/orders/"+quick.ID.String(), qpos), token: tok}, 200).decode(t, &v)
		return v.Status == "REJECT"
	})

	// A line longer than its product's stock: with ?wait the order is REJECT, and no stock moved.
	short, _ := e.product(sel, c.item, 700, 2)
	before := s.stock(t, a).Stock
	settled, _ := e.order(u, addr, orderLine{a, 1}, orderLine{short, 3})
	if settled.Status != "REJECT" || settled.RejectReason == nil || *settled.RejectReason != "OUT_OF_STOCK" || settled.Lines[0].Status != nil {
		t.Fatalf("order of more than the stock: %+v, want REJECT OUT_OF_STOCK", settled)
	}
	// What the process manager reserved before it found the short line goes back after the reject.
	eventually(t, 10*time.Second, fmt.Sprintf("stocks back to %d and 2 after a rejected order", before), func() bool {
		return s.stock(t, a).Stock == before && s.stock(t, short).Stock == 2
	})
	// b is sold out by itself: an order for it is refused at once.
	e.expect(req{method: "POST", path: "/api/v1/orders", token: tok, body: map[string]any{
		"address_id": addr, "lines": []orderLine{{b, 1}}}}, 422)
	settled, _ = e.order(u, addr, orderLine{a, 3})
	if settled.Status != "ORDER" || settled.Total != 3000 || *settled.Lines[0].Status != "ORDER" || *settled.Lines[0].DeliveryStatus != "READY" {
		t.Fatalf("order with ?wait: %+v, want ORDER", settled)
	}
	if got := s.stock(t, a); got.Stock != 0 || got.Status != "SOLD_OUT" {
		t.Fatalf("product a after its last stock was ordered: %+v, want 0 SOLD_OUT", got)
	}

	// The user's own list, with a status filter; the other user sees none of it.
	var list []httpapi.OrderView
	eventually(t, 5*time.Second, "two ORDER orders listed", func() bool {
		r = e.expect(req{method: "GET", path: "/api/v1/orders?status=ORDER", token: tok}, 200)
		r.decode(t, &list)
		return len(list) == 2
	})
	if list[0].ID != settled.ID || list[1].ID != o.ID {
		t.Fatalf("GET /orders?status=ORDER: newest first wanted: %s", r)
	}
	e.expect(req{method: "GET", path: "/api/v1/orders", token: other.tokens.AccessToken}, 200).decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("another user's GET /orders: %+v", list)
	}
	// The supervisor reads every order through /admin.
	st := sup.tokens.AccessToken
	e.expect(req{method: "GET", path: "/api/v1/admin/orders/" + o.ID.String(), token: st}, 200)
	e.expect(req{method: "GET", path: "/api/v1/admin/orders?user_id=" + u.id.String(), token: st}, 200).decode(t, &list)
	if len(list) != 4 {
		t.Fatalf("GET /admin/orders?user_id: %d orders, want 4", len(list))
	}
	e.expect(req{method: "GET", path: "/api/v1/admin/orders/" + uuid.NewString(), token: st}, 404)
	e.expect(req{method: "GET", path: "/api/v1/orders/" + uuid.NewString(), token: tok}, 404)
}

// Orders refused at placement write nothing: a malformed body (400, every field named), an
// address that is not the caller's (404), an unknown product or one not on sale (422).
func testPlaceOrderRefusals(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel, u, other := e.supervisor(), e.seller(), e.user(), e.user()
	c := e.catalog(sup)
	a, _ := e.product(sel, c.item, 1000, 5)
	var registered httpapi.ProductView
	e.expect(req{method: "POST", path: "/api/v1/products", token: sel.tokens.AccessToken, body: map[string]any{
		"item_id": c.item, "name": "Not yet", "price": 10, "stock": 10}}, 201).decode(t, &registered)
	addr, othersAddr := e.address(u), e.address(other)
	tok := u.tokens.AccessToken
	lines51 := make([]orderLine, 51)
	for i := range lines51 {
		lines51[i] = orderLine{uuid.New(), 1}
	}
	tests := []struct {
		name   string
		path   string
		body   any
		status int
		fields []string
	}{
		{"no lines", "/api/v1/orders", map[string]any{"address_id": addr, "lines": []orderLine{}}, 400, []string{"lines"}},
		{"51 lines", "/api/v1/orders", map[string]any{"address_id": addr, "lines": lines51}, 400, []string{"lines"}},
		{"quantities", "/api/v1/orders", map[string]any{"address_id": addr, "lines": []orderLine{{a, 0}, {uuid.New(), 101}}}, 400,
			[]string{"lines[0].quantity", "lines[1].quantity"}},
		{"one line per product", "/api/v1/orders", map[string]any{"address_id": addr, "lines": []orderLine{{a, 1}, {a, 2}}}, 400,
			[]string{"lines[1].product_id"}},
		{"a price from the client", "/api/v1/orders", map[string]any{"address_id": addr,
			"lines": []map[string]any{{"product_id": a, "quantity": 1, "unit_price": 1}}}, 400, []string{"lines[0].unit_price"}},
		{"no address", "/api/v1/orders", map[string]any{"lines": []orderLine{{a, 1}}}, 400, []string{"address_id"}},
		{"bad wait", "/api/v1/orders?wait=soon", map[string]any{"address_id": addr, "lines": []orderLine{{a, 1}}}, 400, []string{"wait"}},
		{"wait over 10s", "/api/v1/orders?wait=11s", map[string]any{"address_id": addr, "lines": []orderLine{{a, 1}}}, 400, []string{"wait"}},
		{"another user's address", "/api/v1/orders", map[string]any{"address_id": othersAddr, "lines": []orderLine{{a, 1}}}, 404, nil},
		{"unknown address", "/api/v1/orders", map[string]any{"address_id": uuid.New(), "lines": []orderLine{{a, 1}}}, 404, nil},
		{"unknown product", "/api/v1/orders", map[string]any{"address_id": addr, "lines": []orderLine{{a, 1}, {uuid.New(), 1}}}, 422,
			[]string{"lines[1].product_id"}},
		{"product not on sale", "/api/v1/orders", map[string]any{"address_id": addr, "lines": []orderLine{{registered.ID, 1}, {a, 1}}}, 422,
			[]string{"lines[0].product_id"}},
	}
	for _, tt := range tests {
		r := e.expect(req{method: "POST", path: tt.path, token: tok, body: tt.body}, tt.status)
		for _, f := range tt.fields {
			if _, ok := r.fields()[f]; !ok {
				t.Errorf("%s: fields %v do not name %q: %s", tt.name, r.fields(), f, r)
			}
		}
	}
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM events WHERE type = 'order.placed.v1' AND data->>'user_id' = $1`, u.id.String()).Scan(&n); err != nil {
		t.Fatalf("count orders: %v", err)
	}
	if n != 0 {
		t.Fatalf("refused orders wrote %d order.placed events, want none", n)
	}
	if got := s.stock(t, a).Stock; got != 5 {
		t.Fatalf("stock after refused orders = %d, want 5", got)
	}
	// Only a USER places orders: a SUPERVISOR's is 403 with 4005, and nothing is written.
	e.expect(req{method: "POST", path: "/api/v1/orders", token: sup.tokens.AccessToken, body: map[string]any{
		"address_id": addr, "lines": []orderLine{{a, 1}}}}, 403, 4005)
}

// An Idempotency-Key makes POST /orders safe to retry: the same key and body answer the same
// order and place nothing more, even sent at once; the same key with another body is 422; keys
// belong to their account.
func testIdempotencyKey(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel, u, other := e.supervisor(), e.seller(), e.user(), e.user()
	c := e.catalog(sup)
	a, _ := e.product(sel, c.item, 1000, 100)
	addr, otherAddr := e.address(u), e.address(other)
	body := map[string]any{"address_id": addr, "lines": []orderLine{{a, 1}}}
	key := map[string]string{"Idempotency-Key": "order-" + uuid.NewString()}

	var first, again httpapi.OrderView
	r := e.expect(req{method: "POST", path: "/api/v1/orders", token: u.tokens.AccessToken, body: body, header: key}, 202)
	r.decode(t, &first)
	pos := position(t, r)
	r = e.expect(req{method: "POST", path: "/api/v1/orders?wait=10s", token: u.tokens.AccessToken, body: body, header: key}, 201)
	r.decode(t, &again)
	if again.ID != first.ID || again.Status != "ORDER" || position(t, r) != pos {
		t.Fatalf("replay: %s, want order %s settled at the same position %d", r, first.ID, pos)
	}
	e.expect(req{method: "POST", path: "/api/v1/orders", token: u.tokens.AccessToken, header: key,
		body: map[string]any{"address_id": addr, "lines": []orderLine{{a, 2}}}}, 422)
	// Another account's same key is another order.
	var others httpapi.OrderView
	e.expect(req{method: "POST", path: "/api/v1/orders", token: other.tokens.AccessToken, header: key,
		body: map[string]any{"address_id": otherAddr, "lines": []orderLine{{a, 1}}}}, 202).decode(t, &others)
	if others.ID == first.ID {
		t.Fatal("another account's request with the same key got the same order")
	}
	e.expect(req{method: "POST", path: "/api/v1/orders", token: u.tokens.AccessToken, body: body,
		header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}, 400)

	// Ten requests at once with one new key: one order.
	key = map[string]string{"Idempotency-Key": "burst-" + uuid.NewString()}
	ids := make(chan uuid.UUID, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			r := e.do(req{method: "POST", path: "/api/v1/orders", token: u.tokens.AccessToken, body: body, header: key})
			var o httpapi.OrderView
			if r.status != 202 || decodeData(r, &o) != nil {
				t.Errorf("concurrent POST with one key: %s", r)
			}
			ids <- o.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[uuid.UUID]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("ten requests with one key placed %d orders: %v", len(seen), seen)
	}
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM events WHERE type = 'order.placed.v1' AND data->>'user_id' = $1`, u.id.String()).Scan(&n); err != nil {
		t.Fatalf("count orders: %v", err)
	}
	if n != 2 {
		t.Fatalf("user placed %d orders, want 2 (one per key)", n)
	}
}

// A seller handles the lines of their own products: accept, ship, deliver; or reject with a
// reason (stock back); the user asks to cancel a READY line and the seller confirms (stock back).
// Every transition not allowed from the current status is 409 and changes nothing; another
// seller's line is 404; the supervisor acts on any seller's line.
func testSellerLines(t *testing.T, s *shop) {
	e := s.server(t)
	sup, s1, s2, u, other := e.supervisor(), e.seller(), e.seller(), e.user(), e.user()
	c := e.catalog(sup)
	a, _ := e.product(s1, c.item, 1000, 10)
	b, _ := e.product(s2, c.item, 2000, 10)
	addr := e.address(u)
	o, pos := e.order(u, addr, orderLine{a, 2}, orderLine{b, 3})
	if o.Status != "ORDER" {
		t.Fatalf("order: %+v", o)
	}
	oid := o.ID.String()
	line := func(seller account, n int, action string, body any, status int) httpapi.SellerLineView {
		t.Helper()
		r := e.expect(req{method: "POST", path: fmt.Sprintf("/api/v1/seller/order-lines/%s/%d/%s", oid, n, action),
			token: seller.tokens.AccessToken, body: body}, status)
		var v httpapi.SellerLineView
		if status == 200 {
			r.decode(t, &v)
			pos = position(t, r)
		}
		return v
	}

	// s1 sees line 1 only, with the address to ship to.
	var lines []httpapi.SellerLineView
	eventually(t, 5*time.Second, "s1 lists line 1", func() bool {
		e.expect(req{method: "GET", path: at("/api/v1/seller/order-lines?status=ORDER", pos), token: s1.tokens.AccessToken}, 200).decode(t, &lines)
		return len(lines) == 1
	})
	if l := lines[0]; l.OrderID != o.ID || l.Line != 1 || l.ProductID != a || l.Address.Zipcode != "06236" || l.OrderStatus != "ORDER" {
		t.Fatalf("s1's lines: %+v", lines)
	}
	e.expect(req{method: "GET", path: fmt.Sprintf("/api/v1/seller/order-lines/%s/2", oid), token: s1.tokens.AccessToken}, 404)

	// Another seller's line is 404 and stays as it is.
	line(s2, 1, "accept", nil, 404)
	line(s2, 1, "reject", map[string]any{"reason": "mine now"}, 404)
	line(s1, 9, "accept", nil, 404)

	if v := line(s1, 1, "accept", nil, 200); *v.Status != "ACCEPT" || *v.DeliveryStatus != "READY" {
		t.Fatalf("accept: %+v", v)
	}
	line(s1, 1, "accept", nil, 409)
	line(s1, 1, "deliver", nil, 409)
	line(s1, 1, "confirm-cancel", nil, 409)
	if v := line(s1, 1, "ship", nil, 200); *v.DeliveryStatus != "DELIVERY" {
		t.Fatalf("ship: %+v", v)
	}
	line(s1, 1, "ship", nil, 409)
	line(s1, 1, "reject", nil, 409)
	e.expect(req{method: "POST", path: "/api/v1/orders/" + oid + "/lines/1/cancel", token: u.tokens.AccessToken}, 409)
	if v := line(s1, 1, "deliver", nil, 200); *v.Status != "ACCEPT" || *v.DeliveryStatus != "COMPLETE" {
		t.Fatalf("deliver: %+v", v)
	}
	line(s1, 1, "deliver", nil, 409)

	// s2 rejects line 2 with a reason: its 3 go back to stock, once.
	if v := line(s2, 2, "reject", map[string]any{"reason": "  damaged  "}, 200); *v.Status != "REJECT" || v.RejectReason != "damaged" {
		t.Fatalf("reject: %+v", v)
	}
	line(s2, 2, "reject", map[string]any{"reason": "again"}, 409)
	line(s2, 2, "accept", nil, 409)
	e.expect(req{method: "POST", path: fmt.Sprintf("/api/v1/seller/order-lines/%s/2/reject", oid), token: s2.tokens.AccessToken,
		body: map[string]any{"reason": strings.Repeat("r", 501)}}, 400)
	eventually(t, 5*time.Second, "b's stock back to 10", func() bool { return s.stock(t, b).Stock == 10 })
	var seen httpapi.SellerLineView
	e.expect(req{method: "GET", path: at(fmt.Sprintf("/api/v1/seller/order-lines/%s/2", oid), pos), token: s2.tokens.AccessToken}, 200).decode(t, &seen)
	if *seen.Status != "REJECT" || seen.RejectReason != "damaged" {
		t.Fatalf("rejected line as read: %+v", seen)
	}

	// A second order: the user asks to cancel, the seller confirms, the stock comes back.
	o2, _ := e.order(u, addr, orderLine{a, 4})
	cancel := "/api/v1/orders/" + o2.ID.String() + "/lines/1/cancel"
	e.expect(req{method: "POST", path: cancel, token: other.tokens.AccessToken}, 404)
	e.expect(req{method: "POST", path: "/api/v1/orders/" + o2.ID.String() + "/lines/2/cancel", token: u.tokens.AccessToken}, 404)
	r := e.expect(req{method: "POST", path: cancel, token: u.tokens.AccessToken}, 200)
	var cl httpapi.OrderLineView
	r.decode(t, &cl)
	if *cl.Status != "CANCELING" {
		t.Fatalf("cancel: %s", r)
	}
	position(t, r)
	e.expect(req{method: "POST", path: cancel, token: u.tokens.AccessToken}, 409)
	if got := s.stock(t, a).Stock; got != 4 {
		t.Fatalf("stock of a while the cancel is pending = %d, want 4", got)
	}
	oid = o2.ID.String()
	line(s1, 1, "accept", nil, 409)
	// The supervisor confirms the cancel for the seller.
	if v := line(sup, 1, "confirm-cancel", nil, 200); *v.Status != "CANCEL" {
		t.Fatalf("confirm-cancel: %+v", v)
	}
	line(s1, 1, "confirm-cancel", nil, 409)
	eventually(t, 5*time.Second, "a's stock back to 8", func() bool { return s.stock(t, a).Stock == 8 })

	// The supervisor lists any seller's lines.
	e.expect(req{method: "GET", path: at("/api/v1/seller/order-lines?seller_id="+s2.id.String(), pos), token: sup.tokens.AccessToken}, 200).decode(t, &lines)
	if len(lines) != 1 || lines[0].SellerID != s2.id {
		t.Fatalf("supervisor's list of s2's lines: %+v", lines)
	}
	e.expect(req{method: "GET", path: "/api/v1/seller/order-lines?status=SHIPPED", token: s1.tokens.AccessToken}, 400)
}

// The headline: 200 orders at once through HTTP, each for 2 of A (stock 30) and 1 of B (stock
// 20). Exactly 15 end ORDER; the others are REJECT, or refused with 422 at placement once A is
// sold out. A ends at 0, SOLD_OUT; B at 5.
func testConcurrentOrders(t *testing.T, s *shop) {
	e := s.server(t)
	sup, sel := e.supervisor(), e.seller()
	c := e.catalog(sup)
	a, _ := e.product(sel, c.item, 1000, 30)
	b, _ := e.product(sel, c.item, 500, 20)
	type buyer struct {
		account
		addr uuid.UUID
	}
	buyers := make([]buyer, 10)
	for i := range buyers {
		u := e.user()
		buyers[i] = buyer{u, e.address(u)}
	}
	// Each request has its own Idempotency-Key, so that one still PENDING when its wait runs out
	// is asked again, with the same key, until it is settled.
	post := func(i int) (int, string) {
		u := buyers[i%len(buyers)]
		r := e.do(req{method: "POST", path: "/api/v1/orders?wait=10s", token: u.tokens.AccessToken,
			header: map[string]string{"Idempotency-Key": fmt.Sprintf("headline-%d", i)},
			body:   map[string]any{"address_id": u.addr, "lines": []orderLine{{a, 2}, {b, 1}}}})
		var o httpapi.OrderView
		if r.status == 201 || r.status == 202 {
			if err := decodeData(r, &o); err != nil {
				t.Errorf("order %d: %s", i, r)
			}
		}
		return r.status, o.Status
	}
	outcome := make([]string, 200)
	pending := make([]int, 200)
	for i := range pending {
		pending[i] = i
	}
	start := time.Now()
	for round := 1; len(pending) > 0; round++ {
		if round > 5 {
			t.Fatalf("%d orders still PENDING after %s", len(pending), time.Since(start))
		}
		var wg sync.WaitGroup
		for _, i := range pending {
			wg.Go(func() {
				status, st := post(i)
				outcome[i] = strings.TrimSpace(fmt.Sprint(status, " ", st))
			})
		}
		wg.Wait()
		pending = pending[:0]
		for i, o := range outcome {
			if o == "202 PENDING" {
				pending = append(pending, i)
			}
		}
	}
	statuses := map[string]int{}
	for _, o := range outcome {
		statuses[o]++
	}
	t.Logf("200 concurrent orders settled in %s: %v", time.Since(start).Round(time.Millisecond), statuses)
	if statuses["201 ORDER"] != 15 || statuses["201 ORDER"]+statuses["201 REJECT"]+statuses["422"] != 200 {
		t.Fatalf("outcomes %v, want 15 × 201 ORDER and the rest 201 REJECT or 422", statuses)
	}
	// A rejected order's reservations are released after its order.rejected: wait for them.
	eventually(t, 20*time.Second, "A at 0 SOLD_OUT and B at 5 SELL", func() bool {
		pa, pb := s.stock(t, a), s.stock(t, b)
		return pa.Stock == 0 && pa.Status == "SOLD_OUT" && pb.Stock == 5 && pb.Status == "SELL" &&
			len(pa.Reservations) == 15 && len(pb.Reservations) == 15
	})
	// The read models agree once they have caught up.
	var pa httpapi.ProductView
	eventually(t, 10*time.Second, "the catalog shows A sold out", func() bool {
		e.expect(req{method: "GET", path: "/api/v1/products/" + a.String()}, 200).decode(t, &pa)
		return pa.Stock == 0 && pa.Status == "SOLD_OUT"
	})
	eventually(t, 10*time.Second, "15 ORDER orders listed", func() bool {
		r := e.expect(req{method: "GET", path: "/api/v1/seller/order-lines?size=100&status=ORDER", token: sel.tokens.AccessToken}, 200)
		return r.env.Pagination.TotalElements == 30
	})
}

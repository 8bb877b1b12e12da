package httpapi_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// FuzzRequest sends arbitrary query strings and bodies to the routes of a whole shop (real
// database, command handlers, read models), as each role, and checks what the API contract promises
// whatever a client sends: never a 5xx (a panic is a 500 too), always the envelope, and nothing
// written for a refused request. `make test` runs it for a few seconds beyond its seeds.
func FuzzRequest(f *testing.F) {
	s := newShop(f)
	e := s.server(f)
	sup, sel, usr := e.supervisor(), e.seller(), e.user()
	c := e.catalog(sup)
	product, _ := e.product(sel, c.item, 1000, 5)
	addr := e.address(usr)
	// An order's product is unknown: an accepted order would write events after its answer (the
	// fulfilment), which the check below would blame on a later request.
	unknown := uuid.NewString()
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/users"},
		{"POST", "/api/v1/auth/login"},
		{"POST", "/api/v1/auth/refresh"},
		{"PATCH", "/api/v1/users/me"},
		{"PUT", "/api/v1/users/me/profile"},
		{"POST", "/api/v1/users/me/addresses"},
		{"PUT", "/api/v1/users/me/addresses/" + addr.String()},
		{"GET", "/api/v1/products"},
		{"GET", "/api/v1/categories"},
		{"GET", "/api/v1/admin/users"},
		{"GET", "/api/v1/sellers"},
		{"POST", "/api/v1/products"},
		{"PATCH", "/api/v1/products/" + product.String()},
		{"POST", "/api/v1/products/" + product.String() + "/status"},
		{"POST", "/api/v1/products/" + product.String() + "/stock"},
		{"POST", "/api/v1/orders"},
		{"GET", "/api/v1/orders"},
		{"GET", "/api/v1/seller/order-lines"},
		{"POST", "/api/v1/categories"},
		{"GET", "/api/v1/products/" + product.String() + "/reviews"},
	}
	tokens := []string{"", usr.tokens.AccessToken, sel.tokens.AccessToken, sup.tokens.AccessToken}
	seeds := []struct {
		route, who  uint8
		query, body string
	}{
		{0, 0, "", `{"name":"Kim","email":"fuzz@example.com","password":"abcd123!","phone":"01012345678"}`},
		{0, 0, "", "{\"name\":\"Kim\\u0000\",\"email\":\"a@b.co\",\"password\":\"abcd123!\",\"phone\":\"01012345678\"}"},
		{0, 0, "", "{\"name\":\"\xff\xfe\"}"},
		{1, 0, "", `{"email":"x@y.z","password":"p","role":"ADMIN"}`},
		{3, 1, "", `{"name":"Lee"}`},
		{3, 1, "", `{"password":"N3wP@sswr0d!"}`},
		{5, 1, "", `{"receiver":"a","address1":"b","address2":"c","zipcode":"1","phone":"01012345678","receive_type":"DOOR","receive_message":"\u0000"}`},
		{7, 0, "q=%FF%FE&page=922337203685477581", ""},
		{7, 0, "size=101&sort=-price&min_price=-1&min_position=soon", ""},
		{8, 0, "page=9223372036854775807", ""},
		{9, 3, "page=922337203685477581&size=100", ""},
		{12, 2, "", `{"price":5}`},
		{12, 2, "", `{}`},
		{14, 2, "", `{"quantity":99999999999999999999}`},
		{15, 1, "wait=999999", `{"address_id":"` + addr.String() + `","lines":[{"product_id":"` + unknown + `","quantity":1}]}`},
		{15, 1, "", `{"address_id":"` + addr.String() + `","lines":[{"product_id":"` + product.String() + `","quantity":0}]}`},
		{16, 1, "status=%00", ""},
		{18, 3, "", `[1,2,{"a":[]}]`},
	}
	for _, sd := range seeds {
		f.Add(sd.route, sd.who, sd.query, []byte(sd.body))
	}
	f.Fuzz(func(t *testing.T, route, who uint8, query string, body []byte) {
		r := routes[int(route)%len(routes)]
		path := r.path
		if query != "" {
			path += "?" + query
		}
		if _, err := url.ParseRequestURI(path); err != nil || strings.ContainsAny(query, "# \t\r\n") {
			return // not a request line a client can send
		}
		before := fingerprint(t, s)
		fe := *e
		fe.t = t
		resp := fe.do(req{method: r.method, path: path, token: tokens[int(who)%len(tokens)], body: string(body)})
		if resp.status >= 500 {
			t.Fatalf("%s %s %q: got %s, want no 5xx", r.method, path, body, resp)
		}
		if resp.env.Result.Code == 0 {
			t.Fatalf("%s %s %q: got %s, want the envelope", r.method, path, body, resp)
		}
		if resp.status >= 400 {
			if after := fingerprint(t, s); after != before {
				t.Fatalf("%s %s %q: refused with %s, yet the database changed:\nbefore %s\nafter  %s", r.method, path, body, resp, before, after)
			}
		}
	})
}

// fingerprint sums up what requests write: the event log, accounts, profiles, addresses,
// tokens, revocations and Idempotency-Keys.
func fingerprint(t *testing.T, s *shop) string {
	t.Helper()
	var out string
	err := s.pool.QueryRow(t.Context(), `SELECT concat_ws(' ',
		(SELECT count(*) || '/' || coalesce(max(position), 0) FROM events),
		(SELECT md5(coalesce(string_agg(a::text, ',' ORDER BY a.id), '')) FROM accounts a),
		(SELECT md5(coalesce(string_agg(p::text, ',' ORDER BY p.user_id), '')) FROM user_profiles p),
		(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), '')) FROM user_addresses x),
		(SELECT count(*) FROM auth_refresh_tokens),
		(SELECT count(*) FROM auth_revocations),
		(SELECT md5(coalesce(string_agg(k::text, ',' ORDER BY k.account_id, k.key), '')) FROM idempotency_keys k))`).Scan(&out)
	if err != nil {
		t.Fatalf("fingerprint the database: %v", err)
	}
	return out
}

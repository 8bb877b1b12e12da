package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// operation is one route of the OpenAPI document, with what its parameters are.
type operation struct {
	method, path string
	paged        bool
}

// operations lists every API route of the server's OpenAPI document, path ids filled with fresh
// uuids (and path names with a plain word), so that tests can send the same bad input to all.
func (e *env) operations() []operation {
	e.t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(e.do(req{method: "GET", path: "/openapi.json"}).body, &doc); err != nil {
		e.t.Fatalf("decode /openapi.json: %v", err)
	}
	var ops []operation
	for path, methods := range doc.Paths {
		for method, o := range methods {
			op := operation{method: strings.ToUpper(method), path: path}
			for _, p := range o.Parameters {
				switch {
				case p.In == "path" && (p.Name == "id" || strings.HasSuffix(p.Name, "_id")):
					op.path = strings.ReplaceAll(op.path, "{"+p.Name+"}", uuid.NewString())
				case p.In == "path":
					op.path = strings.ReplaceAll(op.path, "{"+p.Name+"}", "catalog")
				case p.In == "query" && p.Name == "page":
					op.paged = true
				}
			}
			ops = append(ops, op)
		}
	}
	return ops
}

// Invalid UTF-8 and NUL characters in any query parameter, on every route, and in body text
// fields are 400 naming the field; a page whose offset would overflow is 400 on every list.
// Nothing is 500.
func testBadInput(t *testing.T, s *shop) {
	e := s.server(t)
	sup := e.supervisor()
	tok := sup.tokens.AccessToken
	ops := e.operations()
	lists := 0
	for _, op := range ops {
		if op.path == "/docs" || strings.HasSuffix(op.path, "/events") {
			continue
		}
		for _, q := range []string{"q=%FF%FE", "q=a%00b"} {
			r := e.do(req{method: op.method, path: op.path + "?" + q, token: tok})
			if r.status != 400 || r.fields()["q"] == "" {
				t.Errorf("%s %s?%s: got %s, want 400 naming q", op.method, op.path, q, r)
			}
		}
		if op.paged {
			lists++
			r := e.do(req{method: op.method, path: op.path + "?page=922337203685477581", token: tok})
			if r.status != 400 || r.fields()["page"] == "" {
				t.Errorf("%s %s?page=922337203685477581: got %s, want 400 naming page", op.method, op.path, r)
			}
		}
	}
	if lists < 10 {
		t.Fatalf("found %d lists in /openapi.json, want every list (more than 10)", lists)
	}

	user := e.user()
	sel := e.seller()
	address := map[string]any{"receiver": "Kim", "address1": "Seoul", "address2": "101", "zipcode": "12345",
		"phone": "01012345678", "receive_type": "DOOR", "receive_message": "Hi\x00"}
	bodies := []struct {
		method, path, token string
		body                any
		field               string
	}{
		{"POST", "/api/v1/users", "", map[string]any{"name": "Kim\x00", "email": email("nul"), "password": password, "phone": "01012345678"}, "name"},
		{"POST", "/api/v1/users", "", `{"name":"Kim\u0000","email":"` + email("nul") + `","password":"` + password + `","phone":"01012345678"}`, "name"},
		{"POST", "/api/v1/users", "", "{\"name\":\"Kim\xff\xfe\",\"email\":\"" + email("utf") + "\",\"password\":\"" + password + "\",\"phone\":\"01012345678\"}", "name"},
		{"POST", "/api/v1/users/me/addresses", user.tokens.AccessToken, address, "receive_message"},
		{"PATCH", "/api/v1/users/me", user.tokens.AccessToken, map[string]any{"name": "\x00"}, "name"},
		{"POST", "/api/v1/products", sel.tokens.AccessToken, map[string]any{"item_id": uuid.New(), "name": "Shoe\x00", "price": 1, "stock": 1}, "name"},
		{"POST", "/api/v1/orders", user.tokens.AccessToken, "{\"address_id\":\"" + uuid.NewString() + "\",\"lines\":[{\"product_id\":\"\xff\",\"quantity\":1}]}", "lines[0].product_id"},
	}
	for _, b := range bodies {
		r := e.do(req{method: b.method, path: b.path, token: b.token, body: b.body})
		if r.status != 400 || r.fields()[b.field] == "" {
			t.Errorf("%s %s %q: got %s, want 400 naming %s", b.method, b.path, b.body, r, b.field)
		}
	}
	var me struct {
		Name string `json:"name"`
	}
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: user.tokens.AccessToken}, http.StatusOK).decode(t, &me)
	if me.Name != "Kim Minsu" {
		t.Fatalf("a refused PATCH changed the name to %q", me.Name)
	}
}

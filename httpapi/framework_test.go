package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/auth"
)

func testUnknownRouteAndMethod(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	r := e.expect(req{method: "GET", path: "/api/v1/no/such/route"}, 404)
	if r.env.Result.Message != "Not Found" || string(r.env.Data) != "null" || r.env.Pagination != nil {
		t.Fatalf("unknown route: %s", r)
	}
	e.expect(req{method: "POST", path: "/nowhere", body: `{}`}, 404)
	r = e.expect(req{method: "POST", path: "/api/v1/auth/login", body: "email=a", header: map[string]string{"Content-Type": "text/plain"}}, 415)
	if r.env.Result.Description != "the body must be application/json" {
		t.Fatalf("415: %s", r)
	}
	r = e.expect(req{method: "DELETE", path: "/healthz"}, 405)
	if r.header.Get("X-Request-Id") == "" {
		t.Fatalf("405 without X-Request-ID: %v", r.header)
	}
}

// The body limit is enforced while reading the request, before any handler: over a real
// connection, as clients send it.
func testBodyOverOneMiBIs413(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	t.Cleanup(func() { _ = e.app.Shutdown() })

	// Over the limit: the server answers as soon as it reads the Content-Length, without
	// reading the body (a client still writing it would see its connection reset, so this
	// client sends the head only and reads the answer).
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	head := fmt.Sprintf("POST /api/v1/users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 1<<20+1)
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer to a 1 MiB + 1 byte body: %v", err)
	}
	defer resp.Body.Close()
	var env envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 413 || env.Result.Code != 413 {
		t.Fatalf("1 MiB + 1 byte: %d %+v (%v), want 413 in the envelope", resp.StatusCode, env.Result, err)
	}

	// A client that keeps sending a 2 MiB body while the answer comes: it still reads its 413 in
	// the envelope (the server reads and discards what it sends, up to a bound, before closing).
	for range 3 {
		sendingClientGets413(t, ln.Addr().String(), 2<<20)
	}

	// Just under the limit: read whole and refused by validation.
	body := `{"name":"` + strings.Repeat("x", 1<<20-100) + `"}`
	under, err := http.Post("http://"+ln.Addr().String()+"/api/v1/users", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %d bytes: %v", len(body), err)
	}
	defer under.Body.Close()
	if err := json.NewDecoder(under.Body).Decode(&env); err != nil || under.StatusCode != 400 || env.Result.Code != 400 {
		t.Fatalf("just under 1 MiB: %d %+v (%v), want 400", under.StatusCode, env.Result, err)
	}
}

// sendingClientGets413 sends a sign-up with a size-byte body over a real TCP connection, writing
// the whole body while it reads the answer, and fails unless the answer is 413 in the envelope.
func sendingClientGets413(t *testing.T, addr string, size int) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	sent := make(chan error, 1)
	go func() {
		head := fmt.Sprintf("POST /api/v1/users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", size)
		body := append([]byte(`{"name":"`), bytes.Repeat([]byte("x"), size-len(`{"name":""}`))...)
		body = append(body, `"}`...)
		if _, err := conn.Write([]byte(head)); err != nil {
			sent <- err
			return
		}
		// As a slow client on a real network: the body arrives in pieces, long after the head.
		for len(body) > 0 {
			n := min(len(body), 32<<10)
			if _, err := conn.Write(body[:n]); err != nil {
				sent <- err
				return
			}
			body = body[n:]
			time.Sleep(time.Millisecond)
		}
		sent <- nil
	}()
	time.Sleep(50 * time.Millisecond) // the answer is there before the client reads it
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer to a %d-byte body while sending it: %v (send: %v)", size, err, <-sent)
	}
	defer resp.Body.Close()
	var env envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 413 || env.Result.Code != 413 {
		t.Fatalf("a %d-byte body while sending: %d %+v (%v), want 413 in the envelope", size, resp.StatusCode, env.Result, err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("send a %d-byte body: %v; want the server to read it (up to a bound) before closing", size, err)
	}
}

func testRequestID(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	r := e.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-ID": "abc-123"}})
	if r.header.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("X-Request-ID not echoed: %v", r.header)
	}
	r = e.do(req{method: "GET", path: "/healthz"})
	generated := r.header.Get("X-Request-Id")
	if len(generated) != 36 {
		t.Fatalf("no request id generated: %v", r.header)
	}
	for _, bad := range []string{"with space", strings.Repeat("x", 129), "caf\u00e9"} {
		r = e.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-ID": bad}})
		if got := r.header.Get("X-Request-Id"); got == bad || len(got) != 36 {
			t.Fatalf("X-Request-ID %q kept as %q, want a fresh one", bad, got)
		}
	}
	found := false
	for _, line := range e.logs.lines("http") {
		found = found || line["request_id"] == "abc-123" && line["route"] == "/healthz" && line["status"] == float64(200)
	}
	if !found {
		t.Fatal("the access log has no line with request_id abc-123")
	}
}

func testPanicIs500InEnvelopeLoggedOnce(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	e.app.Get("/boom", func(*fiber.Ctx) error { panic("kaboom") })
	r := e.do(req{method: "GET", path: "/boom", header: map[string]string{"X-Request-ID": "panic-1"}})
	if r.status != 500 || r.env.Result.Code != 500 || strings.Contains(string(r.body), "kaboom") {
		t.Fatalf("panic: got %s, want a generic 500 envelope", r)
	}
	var logged []map[string]any
	for _, l := range e.logs.lines("request failed") {
		if l["request_id"] == "panic-1" {
			logged = append(logged, l)
		}
	}
	if len(logged) != 1 || !strings.Contains(logged[0]["err"].(string), "kaboom") || !strings.Contains(logged[0]["err"].(string), "goroutine") {
		t.Fatalf("panic logged %d times (%v), want once with value and stack", len(logged), logged)
	}
	e.expect(req{method: "GET", path: "/healthz"}, 200) // the server lives on
}

func testRateLimit(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool, func(d *httpapi.Deps, _ *auth.Config) {
		d.Config.RateLimit, d.Config.RateBurst = 0.5, 3
		// The test client's peer address is 0.0.0.0: the proxy in front; 10.9.0.0/16 a second layer.
		proxies, err := httpapi.ParseTrustedProxies([]string{"0.0.0.0", "10.9.0.0/16"})
		if err != nil {
			t.Fatal(err)
		}
		d.Config.TrustedProxies = proxies
	})
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	login := req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"email": "a@b.co", "password": "x"}, header: from("10.0.0.1")}
	for range 3 {
		e.expect(login, 401)
	}
	r := e.expect(login, 429)
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 2 {
		t.Fatalf("429 Retry-After = %q, want 1-2 s at 0.5/s", r.header.Get("Retry-After"))
	}
	// The client is the right-most address that is not a trusted proxy: what the client wrote
	// left of it (a forged X-Forwarded-For) does not give it a fresh bucket, nor does a second
	// trusted proxy layer.
	for _, forged := range []string{"1.2.3.4, 10.0.0.1", "5.6.7.8,10.0.0.1, 10.9.0.5", "garbage, 10.0.0.1"} {
		login.header = from(forged)
		e.expect(login, 429)
	}
	// Another address has its own bucket; other routes are not limited.
	login.header = from("10.0.0.2")
	e.expect(login, 401)
	e.expect(req{method: "GET", path: "/healthz", header: from("10.0.0.1")}, 200)
	// IPv6 clients share a bucket per /64.
	for range 3 {
		login.header = from("2001:db8:1:2::1")
		e.expect(login, 401)
	}
	login.header = from("2001:db8:1:2:ffff:ffff:ffff:ffff")
	e.expect(login, 429)
	login.header = from("2001:db8:1:3::1")
	e.expect(login, 401)
	// Without trusted proxies the header is not believed: it cannot pick a fresh bucket.
	untrusting := newEnvOn(t, pool, func(d *httpapi.Deps, _ *auth.Config) {
		d.Config.RateLimit, d.Config.RateBurst, d.Config.ProxyHeader = 0.5, 1, "X-Forwarded-For"
	})
	untrusting.expect(req{method: "POST", path: "/api/v1/auth/login", body: `{}`, header: from("10.0.0.5")}, 400)
	untrusting.expect(req{method: "POST", path: "/api/v1/auth/login", body: `{}`, header: from("10.0.0.6")}, 429)
	// Sign-up and refresh are limited too.
	for _, rq := range []req{
		{method: "POST", path: "/api/v1/users", body: `{}`, header: from("10.0.0.3")},
		{method: "POST", path: "/api/v1/auth/refresh", body: `{"refresh_token":"x"}`, header: from("10.0.0.4")},
	} {
		for range 3 {
			if s := e.do(rq).status; s == 429 {
				t.Fatalf("%s %s: 429 within the burst", rq.method, rq.path)
			}
		}
		e.expect(rq, 429)
	}
}

func testCORS(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool, func(d *httpapi.Deps, _ *auth.Config) { d.Config.CORSOrigins = []string{"https://shop.example"} })
	pre := func(origin string) response {
		return e.do(req{method: "OPTIONS", path: "/api/v1/users/me", header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "Authorization"}})
	}
	if r := pre("https://shop.example"); r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight from an allowed origin: %d %v", r.status, r.header)
	}
	if r := pre("https://evil.example"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin allowed: %v", r.header)
	}
	r := e.do(req{method: "GET", path: "/healthz", header: map[string]string{"Origin": "https://shop.example"}})
	if r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-Id") &&
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-ID") {
		t.Fatalf("simple request from an allowed origin: %v", r.header)
	}
}

func testHealthAndReadiness(t *testing.T, pool *pgxpool.Pool) {
	busDown := errors.New("bus: connection refused")
	var busErr error
	e := newEnvOn(t, pool, func(d *httpapi.Deps, _ *auth.Config) {
		d.Ready = []httpapi.Check{
			{Name: "database", Ping: func(context.Context) error { return nil }},
			{Name: "bus", Ping: func(context.Context) error { return busErr }},
			{Name: "eventstore", Ping: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		}
	})
	h := e.expect(req{method: "GET", path: "/healthz"}, 200)
	if string(h.env.Data) != `{"status":"ok"}` {
		t.Fatalf("/healthz: %s", h)
	}
	busErr = busDown
	start := time.Now()
	r := e.expect(req{method: "GET", path: "/readyz"}, 503)
	if time.Since(start) > 4*time.Second {
		t.Fatalf("/readyz took %v: a hanging check must time out", time.Since(start))
	}
	if r.env.Result.Description != "not ready: bus, eventstore" ||
		!strings.Contains(string(r.env.Data), `"database":"ok"`) || strings.Contains(string(r.body), "refused") {
		t.Fatalf("/readyz with failing checks: %s", r)
	}
}

func testReadyWhenEveryCheckAnswers(t *testing.T, pool *pgxpool.Pool) {
	ready := newEnvOn(t, pool, func(d *httpapi.Deps, _ *auth.Config) {
		d.Ready = []httpapi.Check{{Name: "database", Ping: pool.Ping}}
	})
	r := ready.expect(req{method: "GET", path: "/readyz"}, 200)
	if string(r.env.Data) != `{"checks":{"database":"ok"}}` {
		t.Fatalf("/readyz: %s", r)
	}
}

func testMetrics(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	e.expect(req{method: "GET", path: "/api/v1/users/00000000-0000-0000-0000-000000000001"}, 404)
	e.expect(req{method: "GET", path: "/api/v1/what/ever"}, 404)
	r := e.do(req{method: "GET", path: "/metrics"})
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %v", r.status, r.header)
	}
	text := string(r.body)
	for _, want := range []string{
		`http_requests_total{method="GET",route="/api/v1/users/:id",status="404"} 1`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/api/v1/users/:id",status="404",le="+Inf"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
}

func testSwaggerUIFromTheBinary(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	r := e.do(req{method: "GET", path: "/docs"})
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "swagger-ui-bundle.js") {
		t.Fatalf("/docs: %d %v", r.status, r.header)
	}
	for file, ct := range map[string]string{"swagger-ui-bundle.js": "javascript", "swagger-ui.css": "text/css", "init.js": "javascript"} {
		r := e.do(req{method: "GET", path: "/docs/" + file})
		if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), ct) || len(r.body) == 0 {
			t.Fatalf("/docs/%s: %d %v", file, r.status, r.header)
		}
	}
	init := e.do(req{method: "GET", path: "/docs/init.js"})
	if !strings.Contains(string(init.body), `"/openapi.json"`) {
		t.Fatalf("init.js does not load /openapi.json: %s", init.body)
	}
	e.expect(req{method: "GET", path: "/docs/README.md"}, 404)
	e.expect(req{method: "GET", path: "/docs/..%2fserver.go"}, 404)
}

func testOpenAPIDocument(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	r := e.do(req{method: "GET", path: "/openapi.json"})
	if r.status != 200 {
		t.Fatalf("/openapi.json: %d", r.status)
	}
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			SecuritySchemes map[string]struct {
				Type, Scheme string
			} `json:"securitySchemes"`
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			Security  []map[string][]string `json:"security"`
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
			RequestBody *struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("decode /openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if b := doc.Components.SecuritySchemes["bearer"]; b.Type != "http" || b.Scheme != "bearer" {
		t.Fatalf("security schemes: %+v", doc.Components.SecuritySchemes)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if _, ok := doc.Paths[p]["get"]; !ok {
			t.Fatalf("/openapi.json does not describe GET %s", p)
		}
	}
	if doc.Paths["/api/v1/users/me"]["get"].Security == nil || doc.Paths["/api/v1/auth/login"]["post"].Security != nil {
		t.Fatal("security requirements: /users/me must need the bearer scheme, login must not")
	}
	for path, ops := range doc.Paths {
		for method, o := range ops {
			for status, resp := range o.Responses {
				if status[0] >= '4' && resp.Content["application/json"].Schema.Ref != "#/components/schemas/ErrorEnvelope" {
					t.Fatalf("%s %s %s: error response is not the envelope: %+v", method, path, status, resp)
				}
			}
			if o.RequestBody == nil {
				continue
			}
			ref := o.RequestBody.Content["application/json"].Schema.Ref
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			var schema struct {
				AdditionalProperties *bool `json:"additionalProperties"`
			}
			_ = json.Unmarshal(doc.Components.Schemas[name], &schema)
			if schema.AdditionalProperties == nil || *schema.AdditionalProperties {
				t.Fatalf("%s %s: request body %s allows unknown fields", method, path, name)
			}
		}
	}
}

// TestOpenAPICoversEveryRoute fails when a route answers in the fiber app but is missing from
// /openapi.json, or the document lists an operation no route serves.
func testOpenAPICoversEveryRoute(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(e.do(req{method: "GET", path: "/openapi.json"}).body, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	// The document and the UI that shows it are not API routes.
	meta := map[string]bool{"GET /openapi.json": true, "GET /docs": true, "GET /docs/{file}": true}
	served := map[string]bool{}
	for _, r := range e.app.GetRoutes(true) {
		if r.Method == http.MethodHead {
			continue // fiber adds HEAD to every GET
		}
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		key := r.Method + " " + strings.Join(parts, "/")
		// The console's pages and forms below GET /console are not API routes either.
		if meta[key] || strings.HasPrefix(r.Path, "/console/") {
			continue
		}
		served[key] = true
		if !documented[key] {
			t.Errorf("%s is served but not in /openapi.json", key)
		}
	}
	for key := range documented {
		if !served[key] {
			t.Errorf("%s is in /openapi.json but no route serves it", key)
		}
	}
	if len(served) < 20 {
		t.Fatalf("only %d routes found: %v", len(served), served)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/infra/bus/kafkatest"
	"github.com/commerce-dev/commerce/infra/telemetry/telemetrytest"
)

// TestOneTraceFollowsAnOrder serves the whole process with an in-memory span exporter, places an
// order with a client's traceparent, and wants in that one trace the request, the command, and the
// projection of both the placing and the settlement into the orders read model; between them, on
// the in-process bus, the append that places and settles the order at once, and on Kafka, the
// order's append, the relay's publish, the process manager's settlement and its append. It wants
// the command's database statements under the command, and no statement, not even of the
// workers' polls while the server is idle, as the root of a trace.
func TestOneTraceFollowsAnOrder(t *testing.T) {
	// One provider for both runs: the packages' tracers (otel.Tracer at package level) delegate to
	// the first provider a process installs, as in production, where there is one.
	exp := telemetrytest.InMemory(t)
	t.Run("in-process bus", func(t *testing.T) { testOneTraceFollowsAnOrder(t, exp, false) })
	t.Run("Kafka", func(t *testing.T) { testOneTraceFollowsAnOrder(t, exp, true) })
}

// testOneTraceFollowsAnOrder is TestOneTraceFollowsAnOrder on the in-process bus or on Kafka (the
// in-process Kafka-protocol broker), where the trace context crosses in the record headers.
func testOneTraceFollowsAnOrder(t *testing.T, exp *tracetest.InMemoryExporter, kafka bool) {

	cfg := testConfig(t)
	if kafka {
		cluster, err := kafkatest.Start(t, 0)
		if err != nil {
			t.Fatalf("start Kafka: %v", err)
		}
		cfg.KafkaBrokers = cluster.ListenAddrs()
	}
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	if err := seedCmd(ctx, cfg, log); err != nil {
		t.Fatalf("seed: %v", err)
	}
	startServe(t, cfg, log)
	base := "http://" + cfg.HTTPAddr
	waitReady(t, base+"/readyz", 30*time.Second)
	// Idle, the workers poll the database (log tail, relay, leases, projections): none of that
	// may start a trace of its own.
	time.Sleep(time.Second)
	if roots := rootQueries(exp.GetSpans()); len(roots) > 0 {
		t.Fatalf("idle server: statements traced as root spans %v, want none", roots)
	}
	api := base + "/api/v1"

	var login struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	user := demoAccounts.users[0]
	if status := call(t, http.MethodPost, api+"/auth/login", "", nil, map[string]string{"email": user.Email, "password": user.Password}, &login); status != http.StatusOK {
		t.Fatalf("POST /auth/login: status %d, want 200", status)
	}
	token := login.Data.AccessToken
	var addr struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if status := call(t, http.MethodPost, api+"/users/me/addresses", token, nil, map[string]string{
		"receiver": "Kim", "address1": "1 Main St", "address2": "101", "zipcode": "04524",
		"phone": "01011112222", "receive_type": "DOOR", "receive_message": "ring twice",
	}, &addr); status != http.StatusCreated {
		t.Fatalf("POST /users/me/addresses: status %d, want 201", status)
	}
	productID := onSaleProduct(t, api)

	traceID := trace.TraceID(uuid.New())
	parent := fmt.Sprintf("00-%s-%s-01", traceID, "00f067aa0ba902b7")
	var placed struct {
		Data struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"data"`
	}
	status := call(t, http.MethodPost, api+"/orders?wait=10s", token,
		map[string]string{"traceparent": parent, "Idempotency-Key": uuid.NewString()},
		map[string]any{"address_id": addr.Data.ID, "lines": []map[string]any{{"product_id": productID, "quantity": 1}}}, &placed)
	if status != http.StatusCreated || placed.Data.Status != string(order.StatusOrder) {
		t.Fatalf("POST /orders?wait=10s: status %d, order %s; want 201 and ORDER", status, placed.Data.Status)
	}

	// The read model shows the settled order: its row went through the projection.
	eventually(t, 20*time.Second, 50*time.Millisecond, func() string {
		var got struct {
			Data struct {
				Status string `json:"status"`
			} `json:"data"`
		}
		if call(t, http.MethodGet, api+"/orders/"+placed.Data.ID, token, nil, nil, &got) == http.StatusOK && got.Data.Status == string(order.StatusOrder) {
			return ""
		}
		return fmt.Sprintf("GET /orders/%s: status %q, want ORDER", placed.Data.ID, got.Data.Status)
	})

	want := []string{
		"/api/v1/orders",                           // the request, continuing the client's traceparent
		"command PlaceOrder",                       // the command
		"place and settle order",                   // in one process, its append settles the order
		"project orders.v3 " + order.TypePlaced,    // the read model, placed
		"project orders.v3 " + order.TypeConfirmed, // and settled
	}
	if kafka {
		want = []string{
			"/api/v1/orders",
			"command PlaceOrder",
			"create order",                             // its append
			"commerce.order publish",                   // the relay (otelsarama's span)
			"fulfil " + order.TypePlaced,               // the process manager
			"update order",                             // its append of the outcome
			"project orders.v3 " + order.TypePlaced,    // the read model, placed
			"project orders.v3 " + order.TypeConfirmed, // and settled
		}
	}
	eventually(t, 10*time.Second, 50*time.Millisecond, func() string {
		names := map[string]bool{}
		publishes := map[trace.SpanID]bool{}
		var fulfilParents []trace.SpanID
		for _, s := range exp.GetSpans() {
			if s.SpanContext.TraceID() != traceID {
				continue
			}
			names[projectorBase(s.Name)] = true
			switch s.Name {
			case "commerce.order publish":
				publishes[s.SpanContext.SpanID()] = true
			case "fulfil " + order.TypePlaced:
				fulfilParents = append(fulfilParents, s.Parent.SpanID())
			}
		}
		var missing []string
		for _, w := range want {
			if !names[projectorBase(w)] {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("trace %s has spans %v; missing %v", traceID, keys(names), missing)
		}
		// The process manager continued from the publish: the context crossed the bus.
		for _, parent := range fulfilParents {
			if !publishes[parent] {
				t.Fatalf("fulfil %s has parent span %s, not a publish span %v", order.TypePlaced, parent, publishes)
			}
		}
		return ""
	})

	// The command's statements are spans under it (otelpgx), and no statement of the whole run,
	// the workers' polls included, is the root of a trace.
	spans := map[trace.SpanID]tracetest.SpanStub{}
	var command trace.SpanID
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID() == traceID {
			spans[s.SpanContext.SpanID()] = s
			if s.Name == "command PlaceOrder" {
				command = s.SpanContext.SpanID()
			}
		}
	}
	var underCommand, queries []string
	for _, s := range spans {
		if !isQuery(s) {
			continue
		}
		queries = append(queries, s.Name)
		// Up the tree to the command, not across the bus (the process manager's statements).
		for p := s.Parent.SpanID(); p.IsValid() && spans[p].SpanKind == trace.SpanKindInternal; p = spans[p].Parent.SpanID() {
			if p == command {
				underCommand = append(underCommand, s.Name)
				break
			}
		}
	}
	if len(underCommand) == 0 {
		t.Errorf("trace %s: statement spans %v, none under the command PlaceOrder span", traceID, queries)
	}
	if roots := rootQueries(exp.GetSpans()); len(roots) > 0 {
		t.Errorf("statements traced as root spans %v, want none", roots)
	}
}

// isQuery reports whether s is a database statement's span (otelpgx).
func isQuery(s tracetest.SpanStub) bool {
	for _, kv := range s.Attributes {
		if kv.Key == "db.system.name" {
			return true
		}
	}
	return false
}

// rootQueries returns the names and statements of the statement spans of spans that start a
// trace.
func rootQueries(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		if isQuery(s) && !s.Parent.IsValid() {
			stmt := ""
			for _, kv := range s.Attributes {
				if kv.Key == "db.query.text" {
					stmt = kv.Value.String()
				}
			}
			out = append(out, s.Name+": "+stmt)
		}
	}
	return out
}

// projectorBase drops the projector's version from a projection span name ("project orders.v3 x"
// is "project orders x"), so that a projector's version bump does not break the test.
func projectorBase(name string) string {
	f := strings.Fields(name)
	if len(f) == 3 && f[0] == "project" {
		f[1], _, _ = strings.Cut(f[1], ".")
	}
	return strings.Join(f, " ")
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// onSaleProduct returns the id of a product on sale with stock, from the catalog read model.
func onSaleProduct(t *testing.T, api string) string {
	t.Helper()
	var id string
	eventually(t, 20*time.Second, 100*time.Millisecond, func() string {
		var list struct {
			Data []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
				Stock  int    `json:"stock"`
			} `json:"data"`
		}
		if call(t, http.MethodGet, api+"/products?size=50", "", nil, nil, &list) == http.StatusOK {
			for _, p := range list.Data {
				if p.Status == "SELL" && p.Stock > 0 {
					id = p.ID
					return ""
				}
			}
		}
		return "GET /products: no product on sale with stock"
	})
	return id
}

// call sends a JSON request and decodes the JSON answer into out; it returns the status.
func call(t *testing.T, method, url, token string, headers map[string]string, body, out any) int {
	t.Helper()
	var rd bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&rd).Encode(body); err != nil {
			t.Fatalf("encode %s %s: %v", method, url, err)
		}
	}
	req, err := http.NewRequest(method, url, &rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/adminapi"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/idempotency"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/relay"
	"github.com/commerce-dev/commerce/infra/snapshot"
	"github.com/commerce-dev/commerce/projections"
	"github.com/commerce-dev/commerce/readmodels"
)

// shop is the whole process on one database, wired as cmd/commerce wires it: the Postgres event
// store, the command handlers and Idempotency-Key store, the projection runner following the log,
// the relay publishing it to the in-process bus, the order-fulfilment process manager consuming
// it, and the outcome waiter behind POST /orders?wait. Every test gets its own server on it (see
// server) and fresh accounts, products and orders, so tests share a shop and run in parallel.
type shop struct {
	pool   *pgxpool.Pool
	store  *postgres.Store
	repos  *commands.Repos
	runner *projections.Runner
	deps   httpapi.Deps
}

func newShop(t testing.TB) *shop {
	t.Helper()
	return newShopOn(t, pgtest.New(t))
}

// newShopOn is newShop on pool, whose database has the migrations applied.
func newShopOn(t testing.TB, pool *pgxpool.Pool) *shop {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	store := postgres.New(pool)
	cfg := commands.Config{Snapshots: snapshot.New(pool)}
	repos := commands.NewRepos(store, cfg)
	runner, err := projections.NewRunner(pool, store,
		[]projections.Projector{projections.NewCatalog(), projections.NewOrders(), projections.NewReviews()},
		projections.Options{Logger: quiet, WaitPoll: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	b := bus.New(bus.Config{})
	outcomes := commands.NewOutcomes(store, repos)
	rl := relay.New(store, pool, b.Publisher(), relay.Options{Logger: quiet,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	fulfil := commands.NewFulfilment(repos, commands.FulfilmentConfig{})
	handlers := commands.NewHandlers(repos, cfg)
	handlers.PlaceOrder.SettleWith(fulfil) // as serve runs one process

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for name, run := range map[string]func(context.Context) error{
		"projections": runner.Run,
		"outcomes":    outcomes.Run,
		"relay":       rl.Run,
		"fulfilment":  func(ctx context.Context) error { return b.RunFulfilment(ctx, fulfil) },
	} {
		wg.Go(func() {
			if err := run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%s stopped: %v", name, err)
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		b.Close()
		runner.Close()
	})
	// The runner creates the read-model tables as it starts: queries before that would fail.
	eventually(t, 30*time.Second, "every projector running", func() bool {
		for _, in := range runner.Status() {
			if in.State != projections.StateRunning {
				return false
			}
		}
		return true
	})
	return &shop{pool: pool, store: store, repos: repos, runner: runner, deps: httpapi.Deps{
		Commands:    handlers,
		Idempotency: commands.NewIdempotency(idempotency.New(pool)),
		Reader:      readmodels.New(pool),
		Positions:   runner,
		Orders:      outcomes,
		Projections: adminapi.Projections{Runner: runner},
		Store:       store,
	}}
}

// server returns a server of the shop for test t. Its queries wait up to 20 s for min_position,
// not the 2 s of production: the tests share two cores with everything else, and a 503 would fail
// a test that reads its own write (testMinPosition checks the 2 s).
func (s *shop) server(t testing.TB, opts ...envOption) *env {
	t.Helper()
	return newEnvOn(t, s.pool, append([]envOption{func(d *httpapi.Deps, _ *auth.Config) {
		d.Commands, d.Idempotency, d.Reader = s.deps.Commands, s.deps.Idempotency, s.deps.Reader
		d.Positions, d.Orders, d.Projections, d.Store = s.deps.Positions, s.deps.Orders, s.deps.Projections, s.deps.Store
		d.Config.MinPositionWait = 20 * time.Second
	}}, opts...)...)
}

// runSuiteOn runs tests in parallel on one shop.
func runSuiteOn(t *testing.T, s *shop, tests map[string]func(*testing.T, *shop)) {
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, s)
		})
	}
}

// position returns the X-Event-Position of a command's response, failing the test unless it is
// there and positive.
func position(t testing.TB, r response) uint64 {
	t.Helper()
	p, err := strconv.ParseUint(r.header.Get("X-Event-Position"), 10, 64)
	if err != nil || p == 0 {
		t.Fatalf("X-Event-Position = %q, want a positive position: %s", r.header.Get("X-Event-Position"), r)
	}
	return p
}

// at returns path with ?min_position=p (or &min_position=p).
func at(path string, p uint64) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return fmt.Sprintf("%s%smin_position=%d", path, sep, p)
}

// catalogIDs are a category, a brand and an item of it.
type catalogIDs struct {
	category, brand, item uuid.UUID
	pos                   uint64
}

// catalog creates a category, a brand and an item through the API as sup.
func (e *env) catalog(sup account) catalogIDs {
	e.t.Helper()
	var c catalogIDs
	var v struct {
		ID uuid.UUID `json:"id"`
	}
	name := "Cat " + uuid.NewString()[:8]
	e.expect(req{method: "POST", path: "/api/v1/categories", token: sup.tokens.AccessToken, body: map[string]any{"name": name}}, 201).decode(e.t, &v)
	c.category = v.ID
	e.expect(req{method: "POST", path: "/api/v1/brands", token: sup.tokens.AccessToken, body: map[string]any{"name": "Brand " + name[4:]}}, 201).decode(e.t, &v)
	c.brand = v.ID
	r := e.expect(req{method: "POST", path: "/api/v1/items", token: sup.tokens.AccessToken, body: map[string]any{
		"category_id": c.category, "brand_id": c.brand, "name": "Runner", "description": "a shoe"}}, 201)
	r.decode(e.t, &v)
	c.item, c.pos = v.ID, position(e.t, r)
	return c
}

// product creates a product of seller from item through the API and puts it on sale; it returns
// its id and the position of the last write.
func (e *env) product(seller account, item uuid.UUID, price int64, stock int) (uuid.UUID, uint64) {
	e.t.Helper()
	var p httpapi.ProductView
	e.expect(req{method: "POST", path: "/api/v1/products", token: seller.tokens.AccessToken, body: map[string]any{
		"item_id": item, "name": "Product " + uuid.NewString()[:8], "price": price, "stock": stock}}, 201).decode(e.t, &p)
	r := e.expect(req{method: "POST", path: "/api/v1/products/" + p.ID.String() + "/status", token: seller.tokens.AccessToken,
		body: map[string]any{"status": "SELL"}}, 200)
	return p.ID, position(e.t, r)
}

// address adds an address to the user and returns its id.
func (e *env) address(u account) uuid.UUID {
	e.t.Helper()
	var a struct {
		ID uuid.UUID `json:"id"`
	}
	e.expect(req{method: "POST", path: "/api/v1/users/me/addresses", token: u.tokens.AccessToken, body: map[string]any{
		"receiver": "Kim Minsu", "address1": "123 Teheran-ro", "address2": "Apt 101", "zipcode": "06236",
		"phone": "01012345678", "receive_type": "DOOR", "receive_message": "At the door"}}, 201).decode(e.t, &a)
	return a.ID
}

// orderLine is one line of an order request.
type orderLine struct {
	ProductID uuid.UUID `json:"product_id"`
	Quantity  int       `json:"quantity"`
}

// order places an order as u, waiting for its outcome, and returns it settled (201).
func (e *env) order(u account, addr uuid.UUID, lines ...orderLine) (httpapi.OrderView, uint64) {
	e.t.Helper()
	var o httpapi.OrderView
	r := e.expect(req{method: "POST", path: "/api/v1/orders?wait=10s", token: u.tokens.AccessToken,
		body: map[string]any{"address_id": addr, "lines": lines}}, 201)
	r.decode(e.t, &o)
	return o, position(e.t, r)
}

// stock returns the product's stock and status from its stream, the authority.
func (s *shop) stock(t *testing.T, id uuid.UUID) product.Product {
	t.Helper()
	st, err := s.repos.Products.Load(context.Background(), id)
	if err != nil {
		t.Fatalf("load product %s: %v", id, err)
	}
	return st.Value
}

// decodeData decodes a response's data into v; for goroutines, which may not fail the test.
func decodeData(r response, v any) error { return json.Unmarshal(r.env.Data, v) }

// eventually retries cond until it holds or within has passed.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShop(t *testing.T) {
	t.Parallel()
	runSuiteOn(t, newShop(t), map[string]func(*testing.T, *shop){
		"catalog":                    testCatalog,
		"catalog validation":         testCatalogValidation,
		"min_position":               testMinPosition,
		"product lifecycle":          testProductLifecycle,
		"product status and sellers": testProductStatusAndSellers,
		"product validation":         testProductValidation,
		"catalog queries":            testCatalogQueries,
		"place order":                testPlaceOrder,
		"place order refusals":       testPlaceOrderRefusals,
		"Idempotency-Key":            testIdempotencyKey,
		"seller order lines":         testSellerLines,
		"reviews":                    testReviews,
		"200 concurrent orders":      testConcurrentOrders,
		"roles per route":            testShopRoles,
		"admin streams":              testAdminStreams,
		"bad input":                  testBadInput,
	})
}

// TestShopAdmin has its own shop: its rebuild swaps the catalog's tables under a lock the test
// holds, which would stall the other tests' catalog reads.
func TestShopAdmin(t *testing.T) {
	t.Parallel()
	runSuiteOn(t, newShop(t), map[string]func(*testing.T, *shop){
		"projections and rebuild": testAdminProjections,
	})
}

// Each route of the catalog, products, orders, seller lines, reviews and admin with each role:
// refused roles get 403 with 4005, no token 401 with 4000, allowed roles get past the check
// (to a 400 for the empty body, a 404 for the unknown id, or a 200), never a 5xx. The SUPERVISOR
// passes every check but POST /orders: it has no orders of its own.
func testShopRoles(t *testing.T, s *shop) {
	e := s.server(t)
	accounts := map[string]account{"USER": e.user(), "SELLER": e.seller(), "SUPERVISOR": e.supervisor()}
	id := uuid.NewString()
	const (
		public = "public"
		user   = "USER"
		seller = "SELLER"
		super  = "SUPERVISOR"
		own    = "own USER" // a USER only, not even a SUPERVISOR
	)
	routes := []struct{ method, path, who string }{
		{"POST", "/api/v1/categories", super},
		{"GET", "/api/v1/categories", public},
		{"GET", "/api/v1/categories/" + id, public},
		{"PATCH", "/api/v1/categories/" + id, super},
		{"POST", "/api/v1/brands", super},
		{"GET", "/api/v1/brands", public},
		{"GET", "/api/v1/brands/" + id, public},
		{"PATCH", "/api/v1/brands/" + id, super},
		{"POST", "/api/v1/items", super},
		{"GET", "/api/v1/items", seller},
		{"GET", "/api/v1/items/" + id, seller},
		{"PUT", "/api/v1/items/" + id, super},
		{"POST", "/api/v1/products", seller},
		{"PATCH", "/api/v1/products/" + id, seller},
		{"POST", "/api/v1/products/" + id + "/status", seller},
		{"POST", "/api/v1/products/" + id + "/stock", seller},
		{"GET", "/api/v1/seller/products", seller},
		{"GET", "/api/v1/seller/products/" + id, seller},
		{"GET", "/api/v1/products", public},
		{"GET", "/api/v1/products/" + id, public},
		{"POST", "/api/v1/orders", own},
		{"GET", "/api/v1/orders", user},
		{"GET", "/api/v1/orders/" + id, user},
		{"POST", "/api/v1/orders/" + id + "/lines/1/cancel", user},
		{"GET", "/api/v1/seller/order-lines", seller},
		{"GET", "/api/v1/seller/order-lines/" + id + "/1", seller},
		{"POST", "/api/v1/seller/order-lines/" + id + "/1/accept", seller},
		{"POST", "/api/v1/seller/order-lines/" + id + "/1/reject", seller},
		{"POST", "/api/v1/seller/order-lines/" + id + "/1/ship", seller},
		{"POST", "/api/v1/seller/order-lines/" + id + "/1/deliver", seller},
		{"POST", "/api/v1/seller/order-lines/" + id + "/1/confirm-cancel", seller},
		{"GET", "/api/v1/admin/orders", super},
		{"GET", "/api/v1/admin/orders/" + id, super},
		{"POST", "/api/v1/orders/" + id + "/lines/1/review", user},
		{"PATCH", "/api/v1/reviews/" + id, user},
		{"DELETE", "/api/v1/reviews/" + id, user},
		{"GET", "/api/v1/reviews/" + id, public},
		{"GET", "/api/v1/products/" + id + "/reviews", public},
		{"GET", "/api/v1/users/me/reviews", user},
		{"GET", "/api/v1/admin/projections", super},
		{"POST", "/api/v1/admin/projections/no-such-projection/rebuild", super},
		{"GET", "/api/v1/admin/streams/order-" + id, super},
	}
	for _, rt := range routes {
		body := ""
		if rt.method == "POST" || rt.method == "PATCH" || rt.method == "PUT" {
			body = `{}` // invalid for most: allowed callers get 400, never a change
		}
		noToken := e.do(req{method: rt.method, path: rt.path, body: body})
		if rt.who == public {
			if noToken.status >= 401 && noToken.status != 404 {
				t.Errorf("%s %s is public: without a token %s", rt.method, rt.path, noToken)
			}
			continue
		}
		if noToken.status != 401 || noToken.env.Result.Code != 4000 {
			t.Errorf("%s %s without token: %s, want 401 4000", rt.method, rt.path, noToken)
		}
		for role, a := range accounts {
			resp := e.do(req{method: rt.method, path: rt.path, body: body, token: a.tokens.AccessToken})
			allowed := role == rt.who || (role == super && rt.who != own) || (role == user && rt.who == own)
			switch {
			case allowed && (resp.status == 401 || resp.status == 403 || resp.status >= 500):
				t.Errorf("%s %s as %s: %s", rt.method, rt.path, role, resp)
			case !allowed && (resp.status != 403 || resp.env.Result.Code != 4005):
				t.Errorf("%s %s as %s: %s, want 403 4005", rt.method, rt.path, role, resp)
			}
		}
	}
}

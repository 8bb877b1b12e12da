package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
	espg "github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/projections"
)

// commandsPerRun is how many random commands the equivalence test decides and appends.
const commandsPerRun = 3000

// TestRebuildEqualsLive runs thousands of random commands through the domain decisions into the
// Postgres event store while a Runner projects them live, checks the read models against the
// state the decisions folded, then rebuilds every projector from scratch and requires exactly the
// rows the live projection built, table by table.
func TestRebuildEqualsLive(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pool := pgtest.New(t)
	store := espg.New(pool, espg.WithPollInterval(50*time.Millisecond))
	procs := []projections.Projector{projections.NewCatalog(), projections.NewOrders(), projections.NewReviews()}
	runner, err := projections.NewRunner(pool, store, procs, projections.Options{
		CatchUpBatch: 97, RebuildBatch: 1000, RetryMin: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		WaitPoll: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	defer runner.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Runner.Run: %v", err)
		}
	}()

	s := newSim(t, ctx, store, seed)
	for range commandsPerRun {
		s.step()
	}
	for _, typ := range allEventTypes() {
		if s.appended[typ] == 0 {
			t.Errorf("the random run appended no %s event: it should exercise every event type", typ)
		}
	}
	t.Logf("%d commands: %d refused by the domain, %d events appended", commandsPerRun, s.refused, s.events)

	// Wait for the position of the last append, as a client that read its own write does.
	for _, p := range procs {
		if err := runner.WaitFor(ctx, p.Name(), s.last); err != nil {
			t.Fatalf("WaitFor(%s, %d): %v", p.Name(), s.last, err)
		}
	}
	if head, err := store.Head(ctx); err != nil || head < s.last {
		t.Logf("Head = %d, %v; the last append was at %d", head, err, s.last)
	}
	s.checkReadModels(t, pool)
	checkInvariants(t, ctx, pool)

	for _, p := range procs {
		live := dump(t, ctx, pool, p)
		if err := runner.Rebuild(ctx, p.Name(), nil); err != nil {
			t.Fatalf("Rebuild(%s): %v", p.Name(), err)
		}
		rebuilt := dump(t, ctx, pool, p)
		for _, table := range p.Tables() {
			if len(live[table]) == 0 {
				t.Errorf("%s: live table %s is empty; the run should fill every table", p.Name(), table)
			}
			if diff := diffRows("live", live[table], "rebuilt", rebuilt[table]); diff != "" {
				t.Errorf("%s: table %s after a rebuild differs from the live one (%d live rows, %d rebuilt):\n%s",
					p.Name(), table, len(live[table]), len(rebuilt[table]), diff)
			}
		}
	}
}

func allEventTypes() []string {
	var types []string
	for _, list := range [][]string{catalog.EventTypes(), product.EventTypes(), order.EventTypes(), review.EventTypes()} {
		types = append(types, list...)
	}
	return types
}

// dump returns every row of the projector's live tables as JSON text, sorted.
func dump(t *testing.T, ctx context.Context, pool *pgxpool.Pool, p projections.Projector) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	for _, table := range p.Tables() {
		out[table] = dumpTable(t, ctx, pool, projections.LiveSchema, table)
	}
	return out
}

// eventData encodes a domain event for an append, as the command handlers do.
func eventData(t testing.TB, e event) eventstore.EventData {
	t.Helper()
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("marshal %T: %v", e, err)
	}
	return eventstore.EventData{ID: uuid.New(), Type: e.EventType(), Data: raw}
}

// diffRows lists up to 5 rows that only one side has: a is named aName, b bName.
func diffRows(aName string, a []string, bName string, b []string) string {
	var out strings.Builder
	n := 0
	only := func(label string, a, other []string) {
		for _, r := range a {
			if _, found := slices.BinarySearch(other, r); !found && n < 5 {
				fmt.Fprintf(&out, "  only %s: %s\n", label, r)
				n++
			}
		}
	}
	only(aName, a, b)
	only(bName, b, a)
	if n == 0 && !slices.Equal(a, b) {
		return "  the same rows, in different numbers"
	}
	return out.String()
}

// checkInvariants checks what must hold between the tables whatever the events were.
func checkInvariants(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	t.Helper()
	checks := map[string]string{
		"catalog counts equal the visible products per category and brand": `
SELECT count(*) FROM (
	SELECT category_id, brand_id, count(*) AS n FROM readmodel.products WHERE status IN ('SELL', 'SOLD_OUT') GROUP BY 1, 2
) p FULL JOIN (SELECT * FROM readmodel.catalog_counts WHERE visible <> 0) c USING (category_id, brand_id)
WHERE p.n IS DISTINCT FROM c.visible`,
		"product ratings equal their live reviews": `
SELECT count(*) FROM readmodel.products p
LEFT JOIN (SELECT product_id, count(*) AS n, sum(rating) AS s FROM readmodel.product_ratings GROUP BY 1) r ON r.product_id = p.id
WHERE p.review_count <> coalesce(r.n, 0) OR p.rating_sum <> coalesce(r.s, 0)
	OR p.avg_rating <> CASE WHEN r.n > 0 THEN round(r.s::numeric / r.n, 2) ELSE 0 END`,
		"the catalog's ratings are the reviews read model's": `
SELECT count(*) FROM readmodel.product_ratings pr FULL JOIN readmodel.reviews r ON r.id = pr.review_id
WHERE r.id IS NULL OR pr.review_id IS NULL OR r.rating <> pr.rating OR r.product_id <> pr.product_id`,
		"order totals are the sums of their lines": `
SELECT count(*) FROM readmodel.orders o
JOIN (SELECT order_id, sum(unit_price * quantity) AS s FROM readmodel.order_lines GROUP BY 1) l ON l.order_id = o.id
WHERE o.total <> l.s`,
		"a line's review id is its live review": `
SELECT count(*) FROM readmodel.order_lines l FULL JOIN readmodel.reviews r ON r.id = l.review_id
WHERE (l.review_id IS NOT NULL OR r.id IS NOT NULL) AND (r.id IS NULL OR l.order_id IS NULL OR r.order_id <> l.order_id OR r.line <> l.line)`,
	}
	for name, sql := range checks {
		var bad int
		if err := pool.QueryRow(ctx, sql).Scan(&bad); err != nil {
			t.Fatalf("check %q: %v", name, err)
		}
		if bad != 0 {
			t.Errorf("%s: %d rows break it", name, bad)
		}
	}
}

// stream is an aggregate's state as the decisions folded it, and its stream version.
type stream[S any] struct {
	id      string
	state   S
	version int64
}

// sim decides random commands with the domain's decisions, as the command handlers do, and
// appends their events with the expected version.
type sim struct {
	t     testing.TB
	ctx   context.Context
	log   appender
	rng   *rand.Rand
	clock time.Time

	super   domain.Actor
	sellers []uuid.UUID
	users   []uuid.UUID

	categories, brands, items []*stream[catalogState]
	products                  []*stream[product.Product]
	orders                    []*stream[order.Order]
	reviews                   map[uuid.UUID]*stream[review.Review] // by review id
	reviewIDs                 []uuid.UUID                          // in creation order

	appended        map[string]int
	refused, events int
	last            eventstore.Position // of the last append, as a command response reports it
}

// catalogState holds one of the three catalog states: the sim keeps categories, brands and items
// apart, so only one field is used per stream.
type catalogState struct {
	category catalog.Category
	brand    catalog.Brand
	item     catalog.Item
}

// appender is where the sim appends: the event store, or memLog for benchmarks.
type appender interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error)
}

// memLog keeps appended events in memory as the records a reader of the log would get, for
// benchmarks that need many events fast and no event store.
type memLog struct {
	recs     []eventstore.Record
	versions map[string]int64
}

// Append appends events to stream if expected allows its version.
func (m *memLog) Append(_ context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if m.versions == nil {
		m.versions = make(map[string]int64)
	}
	v := m.versions[stream]
	if !expected.Allows(v) {
		return eventstore.AppendResult{}, &eventstore.WrongVersionError{Stream: stream, Expected: expected, Actual: v}
	}
	for _, e := range events {
		v++
		m.recs = append(m.recs, eventstore.Record{ID: e.ID, Type: e.Type, Data: e.Data, Metadata: e.Metadata,
			Stream: stream, Version: v, Position: eventstore.Position(len(m.recs) + 1), RecordedAt: time.Now()})
	}
	m.versions[stream] = v
	return eventstore.AppendResult{Version: v, Position: eventstore.Position(len(m.recs))}, nil
}

func newSim(t testing.TB, ctx context.Context, log appender, seed uint64) *sim {
	s := &sim{t: t, ctx: ctx, log: log, rng: rand.New(rand.NewPCG(seed, seed>>1|1)),
		clock:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		super:    domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor},
		reviews:  make(map[uuid.UUID]*stream[review.Review]),
		appended: make(map[string]int)}
	for range 4 {
		s.sellers = append(s.sellers, uuid.New())
	}
	for range 8 {
		s.users = append(s.users, uuid.New())
	}
	return s
}

func (s *sim) now() time.Time {
	s.clock = s.clock.Add(time.Duration(1+s.rng.IntN(5000)) * time.Millisecond)
	return s.clock
}

func pick[T any](s *sim, list []T) T { return list[s.rng.IntN(len(list))] }

// record appends events to a stream at its version and returns whether there were any. A decision
// error that is a domain refusal counts as refused; anything else fails the test.
func record[E interface{ EventType() string }](s *sim, id string, version *int64, events []E, err error) bool {
	s.t.Helper()
	if err != nil {
		var de *domain.Error
		if !errors.As(err, &de) {
			s.t.Fatalf("decide on %s: %v", id, err)
		}
		s.refused++
		return false
	}
	if len(events) == 0 {
		return false
	}
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		data[i] = eventData(s.t, e)
		s.appended[e.EventType()]++
	}
	res, err := s.log.Append(s.ctx, id, eventstore.Exact(*version), data...)
	if err != nil {
		s.t.Fatalf("append %d events to %s at version %d: %v", len(data), id, *version, err)
	}
	*version = res.Version
	s.last = max(s.last, res.Position)
	s.events += len(events)
	return true
}

func (s *sim) step() {
	switch n := s.rng.IntN(100); {
	case n < 3 || len(s.categories) == 0 || len(s.brands) == 0:
		s.createCategoryOrBrand()
	case n < 5:
		s.renameCategoryOrBrand()
	case n < 8 || len(s.items) == 0:
		s.createOrEditItem()
	case n < 14 || len(s.products) < 3:
		s.createProduct()
	case n < 30:
		s.changeProduct()
	case n < 50:
		s.placeOrder()
	case n < 80:
		s.handleLine()
	default:
		s.handleReview()
	}
}

func (s *sim) createCategoryOrBrand() {
	id, name, at := uuid.New(), fmt.Sprintf("name %d", s.rng.IntN(1000)), s.now()
	if len(s.categories) == 0 || (len(s.brands) > 0 && s.rng.IntN(2) == 0) {
		st := &stream[catalogState]{id: catalog.CategoryStreamID(id)}
		events, err := catalog.CreateCategory(s.super, id, name, at)
		if record(s, st.id, &st.version, events, err) {
			for _, e := range events {
				st.state.category = catalog.EvolveCategory(st.state.category, e)
			}
			s.categories = append(s.categories, st)
		}
		return
	}
	st := &stream[catalogState]{id: catalog.BrandStreamID(id)}
	events, err := catalog.CreateBrand(s.super, id, name, at)
	if record(s, st.id, &st.version, events, err) {
		for _, e := range events {
			st.state.brand = catalog.EvolveBrand(st.state.brand, e)
		}
		s.brands = append(s.brands, st)
	}
}

func (s *sim) renameCategoryOrBrand() {
	name := fmt.Sprintf("renamed %d", s.rng.IntN(1000))
	if s.rng.IntN(2) == 0 {
		st := pick(s, s.categories)
		events, err := st.state.category.Rename(s.super, name, s.now())
		if record(s, st.id, &st.version, events, err) {
			for _, e := range events {
				st.state.category = catalog.EvolveCategory(st.state.category, e)
			}
		}
		return
	}
	st := pick(s, s.brands)
	events, err := st.state.brand.Rename(s.super, name, s.now())
	if record(s, st.id, &st.version, events, err) {
		for _, e := range events {
			st.state.brand = catalog.EvolveBrand(st.state.brand, e)
		}
	}
}

func (s *sim) createOrEditItem() {
	cat, brand := pick(s, s.categories).state.category.ID, pick(s, s.brands).state.brand.ID
	name, desc := fmt.Sprintf("item %d", s.rng.IntN(1000)), "described"
	if len(s.items) == 0 || s.rng.IntN(3) > 0 {
		id := uuid.New()
		st := &stream[catalogState]{id: catalog.ItemStreamID(id)}
		events, err := catalog.CreateItem(s.super, id, cat, brand, name, desc, s.now())
		if record(s, st.id, &st.version, events, err) {
			for _, e := range events {
				st.state.item = catalog.EvolveItem(st.state.item, e)
			}
			s.items = append(s.items, st)
		}
		return
	}
	st := pick(s, s.items)
	events, err := st.state.item.Edit(s.super, cat, brand, name, desc+" again", s.now())
	if record(s, st.id, &st.version, events, err) {
		for _, e := range events {
			st.state.item = catalog.EvolveItem(st.state.item, e)
		}
	}
}

// onProduct returns what records a decision on st and folds its events into st.
func (s *sim) onProduct(st *stream[product.Product]) func([]product.Event, error) bool {
	return func(events []product.Event, err error) bool {
		if !record(s, st.id, &st.version, events, err) {
			return false
		}
		for _, e := range events {
			st.state = product.Evolve(st.state, e)
		}
		return true
	}
}

func (s *sim) createProduct() {
	item := pick(s, s.items).state.item
	seller := pick(s, s.sellers)
	id := uuid.New()
	st := &stream[product.Product]{id: product.StreamID(id)}
	events, err := st.state.Create(domain.Actor{ID: seller, Role: domain.RoleSeller}, product.Create{
		ProductID: id, SellerID: seller, ItemID: item.ID, CategoryID: item.CategoryID, BrandID: item.BrandID,
		Name: fmt.Sprintf("product %d", s.rng.IntN(10000)), Price: int64(1 + s.rng.IntN(100_000)),
		Stock: s.rng.IntN(20), At: s.now()})
	if s.onProduct(st)(events, err) {
		s.products = append(s.products, st)
		// Most new products go on sale at once.
		if s.rng.IntN(4) > 0 {
			s.onProduct(st)(st.state.ChangeStatus(domain.Actor{ID: seller, Role: domain.RoleSeller}, product.StatusSell, s.now()))
		}
	}
}

func (s *sim) changeProduct() {
	st := pick(s, s.products)
	seller := domain.Actor{ID: st.state.SellerID, Role: domain.RoleSeller}
	switch n := s.rng.IntN(10); {
	case n < 3:
		s.onProduct(st)(st.state.Edit(seller, fmt.Sprintf("product %d", s.rng.IntN(10000)), int64(1+s.rng.IntN(100_000)), s.now()))
	case n < 6:
		status := product.StatusSell
		switch s.rng.IntN(10) {
		case 0, 1, 2:
			status = product.StatusSoldOut
		case 3:
			status = product.StatusUnregistered
		}
		s.onProduct(st)(st.state.ChangeStatus(seller, status, s.now()))
	default:
		s.onProduct(st)(st.state.Restock(seller, 1+s.rng.IntN(30), s.now()))
	}
}

// onOrder returns what records a decision on st and folds its events into st.
func (s *sim) onOrder(st *stream[order.Order]) func([]order.Event, error) bool {
	return func(events []order.Event, err error) bool {
		if !record(s, st.id, &st.version, events, err) {
			return false
		}
		for _, e := range events {
			st.state = order.Evolve(st.state, e)
		}
		return true
	}
}

// placeOrder places an order of one to three products on sale, then (usually) fulfils it as the
// process manager does: reserve every line in product id order, or release and reject.
func (s *sim) placeOrder() {
	var onSale []*stream[product.Product]
	for _, p := range s.products {
		if p.state.Status == product.StatusSell {
			onSale = append(onSale, p)
		}
	}
	if len(onSale) == 0 {
		s.createProduct()
		return
	}
	s.rng.Shuffle(len(onSale), func(i, j int) { onSale[i], onSale[j] = onSale[j], onSale[i] })
	lines := make([]order.PlaceLine, 0, 3)
	for _, p := range onSale[:min(len(onSale), 1+s.rng.IntN(3))] {
		lines = append(lines, order.PlaceLine{ProductID: p.state.ID, Quantity: 1 + s.rng.IntN(6), Product: order.Offer{
			Exists: true, OnSale: true, SellerID: p.state.SellerID, Name: p.state.Name, Price: p.state.Price}})
	}
	id := uuid.New()
	st := &stream[order.Order]{id: order.StreamID(id)}
	address := order.Address{Receiver: "Kim", Address1: "1 Main St", Zipcode: "04524", Phone: "01012345678", ReceiveType: "DOOR"}
	if !s.onOrder(st)(st.state.Place(order.Place{OrderID: id, Actor: domain.Actor{ID: pick(s, s.users), Role: domain.RoleUser}, Address: address, Lines: lines, At: s.now()})) {
		return
	}
	s.orders = append(s.orders, st)
	if s.rng.IntN(10) > 0 {
		s.fulfil(st)
	}
}

func (s *sim) productStream(id uuid.UUID) *stream[product.Product] {
	for _, p := range s.products {
		if p.state.ID == id {
			return p
		}
	}
	s.t.Fatalf("unknown product %s", id)
	return nil
}

func (s *sim) fulfil(st *stream[order.Order]) {
	lines := slices.Clone(st.state.Lines)
	slices.SortFunc(lines, func(a, b order.Line) int { return strings.Compare(a.ProductID.String(), b.ProductID.String()) })
	var reserved []*stream[product.Product]
	for _, l := range lines {
		p := s.productStream(l.ProductID)
		events, err := p.state.Reserve(st.state.ID, l.Quantity, s.now())
		if err != nil {
			for _, r := range reserved {
				s.onProduct(r)(r.state.Release(st.state.ID, s.now()))
			}
			s.onOrder(st)(st.state.Reject(product.CodeOutOfStock, s.now()))
			return
		}
		s.onProduct(p)(events, nil)
		reserved = append(reserved, p)
	}
	s.onOrder(st)(st.state.Confirm(s.now()))
}

// handleLine takes the next step of a random line, as its seller or user would.
func (s *sim) handleLine() {
	if len(s.orders) == 0 {
		s.placeOrder()
		return
	}
	st := pick(s, s.orders)
	if st.state.Status == order.StatusPending {
		s.fulfil(st)
		return
	}
	if st.state.Status != order.StatusOrder {
		return
	}
	l := pick(s, st.state.Lines)
	seller := domain.Actor{ID: l.SellerID, Role: domain.RoleSeller}
	user := domain.Actor{ID: st.state.UserID, Role: domain.RoleUser}
	p := s.productStream(l.ProductID)
	at := s.now()
	switch {
	case l.Status == order.LineOrder && s.rng.IntN(5) == 0:
		if s.onOrder(st)(st.state.RejectLine(seller, l.Number, "no courier", at)) {
			s.onProduct(p)(p.state.Release(st.state.ID, at))
		}
	case (l.Status == order.LineOrder || l.Status == order.LineAccept) && l.Delivery == order.DeliveryReady && s.rng.IntN(6) == 0:
		s.onOrder(st)(st.state.RequestCancel(user, l.Number, at))
	case l.Status == order.LineOrder:
		s.onOrder(st)(st.state.AcceptLine(seller, l.Number, at))
	case l.Status == order.LineCanceling:
		if s.onOrder(st)(st.state.ConfirmCancel(seller, l.Number, at)) {
			s.onProduct(p)(p.state.Release(st.state.ID, at))
		}
	case l.Status == order.LineAccept && l.Delivery == order.DeliveryReady:
		s.onOrder(st)(st.state.ShipLine(seller, l.Number, at))
	case l.Status == order.LineAccept && l.Delivery == order.DeliveryShipping:
		if s.onOrder(st)(st.state.DeliverLine(seller, l.Number, at)) {
			s.onProduct(p)(p.state.Commit(st.state.ID, at))
		}
	default:
		// A refused transition, as a confused client would ask for: the domain says no.
		s.onOrder(st)(st.state.AcceptLine(seller, l.Number, at))
	}
}

// reviewID is the review id of an order line, derived as the command layer derives it.
func reviewID(orderID uuid.UUID, line int) uuid.UUID {
	return uuid.NewSHA1(orderID, []byte(fmt.Sprint(line)))
}

// onReview returns what records a decision on st and folds its events into st.
func (s *sim) onReview(st *stream[review.Review]) func([]review.Event, error) bool {
	return func(events []review.Event, err error) bool {
		if !record(s, st.id, &st.version, events, err) {
			return false
		}
		for _, e := range events {
			st.state = review.Evolve(st.state, e)
		}
		return true
	}
}

// handleReview writes a review of a delivered line, or edits or deletes a live one.
func (s *sim) handleReview() {
	if len(s.reviewIDs) > 0 && s.rng.IntN(3) == 0 {
		st := s.reviews[pick(s, s.reviewIDs)]
		author := domain.Actor{ID: st.state.UserID, Role: domain.RoleUser}
		if s.rng.IntN(3) == 0 {
			s.onReview(st)(st.state.Delete(author, s.now()))
		} else {
			s.onReview(st)(st.state.Edit(author, 1+s.rng.IntN(5), fmt.Sprintf("edited %d", s.rng.IntN(100)), s.now()))
		}
		return
	}
	var done []struct {
		o *stream[order.Order]
		l order.Line
	}
	for _, o := range s.orders {
		for _, l := range o.state.Lines {
			if l.Status == order.LineAccept && l.Delivery == order.DeliveryComplete {
				done = append(done, struct {
					o *stream[order.Order]
					l order.Line
				}{o, l})
			}
		}
	}
	if len(done) == 0 {
		s.handleLine()
		return
	}
	d := pick(s, done)
	id := reviewID(d.o.state.ID, d.l.Number)
	st, ok := s.reviews[id]
	if !ok {
		st = &stream[review.Review]{id: review.StreamID(id)}
	}
	user := domain.Actor{ID: d.o.state.UserID, Role: domain.RoleUser}
	if s.onReview(st)(st.state.Write(user, review.Write{ReviewID: id, OrderID: d.o.state.ID, Line: d.l.Number,
		ProductID: d.l.ProductID, OrderUserID: d.o.state.UserID, LineStatus: d.l.Status, Delivery: d.l.Delivery,
		Rating: 1 + s.rng.IntN(5), Content: fmt.Sprintf("review %d", s.rng.IntN(100)), At: s.now()})) && !ok {
		s.reviews[id] = st
		s.reviewIDs = append(s.reviewIDs, id)
	}
}

// checkReadModels compares the live read models with the states the decisions folded.
func (s *sim) checkReadModels(t *testing.T, pool *pgxpool.Pool) {
	ctx := s.ctx
	t.Helper()
	type productRow struct {
		Name   string
		Price  int64
		Stock  int
		Status string
		Seller uuid.UUID
	}
	for _, p := range s.products {
		var got productRow
		err := pool.QueryRow(ctx, "SELECT name, price, stock, status, seller_id FROM readmodel.products WHERE id = $1", p.state.ID).
			Scan(&got.Name, &got.Price, &got.Stock, &got.Status, &got.Seller)
		want := productRow{p.state.Name, p.state.Price, p.state.Stock, string(p.state.Status), p.state.SellerID}
		if err != nil || got != want {
			if store, ok := s.log.(eventstore.Store); ok {
				recs, _ := store.ReadStream(ctx, p.id, 1, 1000)
				for _, r := range recs {
					t.Logf("%s at %d (version %d): %s", r.Type, r.Position, r.Version, r.Data)
				}
			}
			t.Fatalf("product %s: read model %+v (%v), decisions folded %+v", p.state.ID, got, err, want)
		}
	}
	type lineRow struct {
		Status, Delivery string
		Review           *uuid.UUID
	}
	for _, o := range s.orders {
		var status, reason string
		var total int64
		if err := pool.QueryRow(ctx, "SELECT status, reject_reason, total FROM readmodel.orders WHERE id = $1", o.state.ID).Scan(&status, &reason, &total); err != nil ||
			status != string(o.state.Status) || reason != o.state.RejectReason || total != o.state.Total {
			t.Fatalf("order %s: read model %s %q %d (%v), decisions folded %s %q %d", o.state.ID, status, reason, total, err,
				o.state.Status, o.state.RejectReason, o.state.Total)
		}
		for _, l := range o.state.Lines {
			var got lineRow
			err := pool.QueryRow(ctx, "SELECT status, delivery_status, review_id FROM readmodel.order_lines WHERE order_id = $1 AND line = $2",
				o.state.ID, l.Number).Scan(&got.Status, &got.Delivery, &got.Review)
			want := lineRow{Status: string(l.Status), Delivery: string(l.Delivery)}
			if r, ok := s.reviews[reviewID(o.state.ID, l.Number)]; ok && !r.state.Deleted {
				want.Review = &r.state.ID
			}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("line %d of order %s: read model %+v (%v), decisions folded %+v", l.Number, o.state.ID, got, err, want)
			}
		}
	}
	for _, id := range s.reviewIDs {
		r := s.reviews[id].state
		var rating int
		var content string
		err := pool.QueryRow(ctx, "SELECT rating, content FROM readmodel.reviews WHERE id = $1", id).Scan(&rating, &content)
		switch {
		case r.Deleted && !errors.Is(err, pgx.ErrNoRows):
			t.Fatalf("review %s was deleted, the read model has it (%v)", id, err)
		case !r.Deleted && (err != nil || rating != r.Rating || content != r.Content):
			t.Fatalf("review %s: read model %d %q (%v), decisions folded %d %q", id, rating, content, err, r.Rating, r.Content)
		}
	}
}

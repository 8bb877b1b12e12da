package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	pg "github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
	"github.com/commerce-dev/commerce/infra/snapshot"
)

var address = order.Address{Receiver: "Kim", Address1: "1 Main St", Zipcode: "12345", Phone: "01012345678", ReceiveType: "DOOR"}

func TestPlaceOrder(t *testing.T) {
	e := newEnv(t, commands.Config{})
	item := e.item()
	s1, s2 := seller(), seller()
	a := e.onSale(s1, item, "A", 1200, 30)
	b := e.onSale(s2, item, "B", 500, 20)
	u := user()
	res, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{
		{ProductID: a.ID, Quantity: 2}, {ProductID: b.ID, Quantity: 1},
	}})
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	o := res.State
	wantLines := []order.Line{
		{Number: 1, ProductID: a.ID, SellerID: s1.ID, ProductName: "A", UnitPrice: 1200, Quantity: 2},
		{Number: 2, ProductID: b.ID, SellerID: s2.ID, ProductName: "B", UnitPrice: 500, Quantity: 1},
	}
	if o.ID != res.ID || o.UserID != u.ID || o.Status != order.StatusPending || o.Total != 2900 || len(o.Lines) != 2 ||
		o.Lines[0] != wantLines[0] || o.Lines[1] != wantLines[1] {
		t.Fatalf("PlaceOrder state = %+v, want user %s, PENDING, total 2900, lines %+v", o, u.ID, wantLines)
	}
	recs := e.stream(order.StreamID(res.ID))
	if len(recs) != 1 || recs[0].Type != order.TypePlaced || recs[0].Position != res.Position {
		t.Fatalf("order stream = %+v, want one order.placed at position %d", recs, res.Position)
	}

	registered, err := e.h.CreateProduct.Handle(as(s1), commands.CreateProduct{ItemID: item.ID, Name: "C", Price: 10, Stock: 5})
	if err != nil {
		t.Fatalf("CreateProduct: %v", err)
	}
	e.refused("PlaceOrder with a product not on sale", &domain.Error{Kind: domain.Invalid, Code: commands.CodeProductNotOnSale}, func() error {
		_, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{
			{ProductID: a.ID, Quantity: 1}, {ProductID: registered.ID, Quantity: 1},
		}})
		return err
	})
	e.refused("PlaceOrder with an unknown product", &domain.Error{Kind: domain.Invalid, Code: commands.CodeUnknownProduct}, func() error {
		_, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: uuid.New(), Quantity: 1}}})
		return err
	})
	e.refused("PlaceOrder with quantity 101", &domain.Error{Kind: domain.Invalid, Code: domain.CodeValidation}, func() error {
		_, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: a.ID, Quantity: 101}}})
		return err
	})
	e.refused("PlaceOrder with one product twice", domain.ErrInvalid, func() error {
		_, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{
			{ProductID: a.ID, Quantity: 1}, {ProductID: a.ID, Quantity: 1},
		}})
		return err
	})
	e.refused("PlaceOrder without lines", domain.ErrInvalid, func() error {
		_, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address})
		return err
	})
	e.refused("PlaceOrder by a seller", domain.ErrForbidden, func() error {
		_, err := e.h.PlaceOrder.Handle(as(s1), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: a.ID, Quantity: 1}}})
		return err
	})
	// A sold-out product refuses the order too.
	if _, err := e.h.ChangeProductStatus.Handle(as(s2), commands.ChangeProductStatus{ProductID: b.ID, Status: product.StatusSoldOut}); err != nil {
		t.Fatalf("ChangeProductStatus SOLD_OUT: %v", err)
	}
	e.refused("PlaceOrder with a sold-out product", &domain.Error{Kind: domain.Invalid, Code: commands.CodeProductNotOnSale}, func() error {
		_, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: b.ID, Quantity: 1}}})
		return err
	})
}

// placed places and confirms a one-line order of a new product of seller s for user u.
func (e *env) placed(s, u domain.Actor) uuid.UUID {
	e.t.Helper()
	p := e.onSale(s, e.item(), "P", 100, 10)
	res, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 1}}})
	if err != nil {
		e.t.Fatalf("PlaceOrder: %v", err)
	}
	e.confirm(res.ID)
	return res.ID
}

func TestOrderLineTransitions(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s, u := seller(), user()
	id := e.placed(s, u)
	line := func(res commands.Result[order.Order], err error) order.Line {
		t.Helper()
		if err != nil {
			t.Fatalf("line command: %v", err)
		}
		l, _ := res.State.Line(1)
		return l
	}
	if l := line(e.h.AcceptLine.Handle(as(s), commands.AcceptLine{OrderID: id, Line: 1})); l.Status != order.LineAccept {
		t.Fatalf("after AcceptLine line is %s, want ACCEPT", l.Status)
	}
	e.refused("AcceptLine twice", &domain.Error{Kind: domain.Conflict, Code: order.CodeTransition}, func() error {
		_, err := e.h.AcceptLine.Handle(as(s), commands.AcceptLine{OrderID: id, Line: 1})
		return err
	})
	e.refused("ShipLine by another seller", domain.ErrNotFound, func() error {
		_, err := e.h.ShipLine.Handle(as(seller()), commands.ShipLine{OrderID: id, Line: 1})
		return err
	})
	e.refused("ShipLine of line 2 of a one-line order", domain.ErrNotFound, func() error {
		_, err := e.h.ShipLine.Handle(as(s), commands.ShipLine{OrderID: id, Line: 2})
		return err
	})
	e.refused("DeliverLine before shipping", domain.ErrConflict, func() error {
		_, err := e.h.DeliverLine.Handle(as(s), commands.DeliverLine{OrderID: id, Line: 1})
		return err
	})
	if l := line(e.h.ShipLine.Handle(as(s), commands.ShipLine{OrderID: id, Line: 1})); l.Delivery != order.DeliveryShipping {
		t.Fatalf("after ShipLine delivery is %s, want DELIVERY", l.Delivery)
	}
	e.refused("RequestCancel of a shipped line", domain.ErrConflict, func() error {
		_, err := e.h.RequestCancel.Handle(as(u), commands.RequestCancel{OrderID: id, Line: 1})
		return err
	})
	if l := line(e.h.DeliverLine.Handle(as(e.super), commands.DeliverLine{OrderID: id, Line: 1})); l.Delivery != order.DeliveryComplete {
		t.Fatalf("after DeliverLine delivery is %s, want COMPLETE", l.Delivery)
	}

	// Reject, and cancel then confirm, on other orders.
	rejected := e.placed(s, u)
	if l := line(e.h.RejectLine.Handle(as(s), commands.RejectLine{OrderID: rejected, Line: 1, Reason: "no"})); l.Status != order.LineReject {
		t.Fatalf("after RejectLine line is %s, want REJECT", l.Status)
	}
	cancelled := e.placed(s, u)
	e.refused("RequestCancel by another user", domain.ErrNotFound, func() error {
		_, err := e.h.RequestCancel.Handle(as(user()), commands.RequestCancel{OrderID: cancelled, Line: 1})
		return err
	})
	e.refused("ConfirmCancel of a line nobody asked to cancel", domain.ErrConflict, func() error {
		_, err := e.h.ConfirmCancel.Handle(as(s), commands.ConfirmCancel{OrderID: cancelled, Line: 1})
		return err
	})
	if l := line(e.h.RequestCancel.Handle(as(u), commands.RequestCancel{OrderID: cancelled, Line: 1})); l.Status != order.LineCanceling {
		t.Fatalf("after RequestCancel line is %s, want CANCELING", l.Status)
	}
	if l := line(e.h.ConfirmCancel.Handle(as(s), commands.ConfirmCancel{OrderID: cancelled, Line: 1})); l.Status != order.LineCancel {
		t.Fatalf("after ConfirmCancel line is %s, want CANCEL", l.Status)
	}
	e.refused("AcceptLine of an unknown order", domain.ErrNotFound, func() error {
		_, err := e.h.AcceptLine.Handle(as(s), commands.AcceptLine{OrderID: uuid.New(), Line: 1})
		return err
	})
	open := e.placed(s, u)
	e.refused("RejectLine with a 501-character reason", domain.ErrInvalid, func() error {
		_, err := e.h.RejectLine.Handle(as(s), commands.RejectLine{OrderID: open, Line: 1, Reason: strings.Repeat("x", 501)})
		return err
	})
	p := e.onSale(s, e.item(), "Q", 100, 10)
	pending, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 1}}})
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	e.refused("AcceptLine of a PENDING order", domain.ErrConflict, func() error {
		_, err := e.h.AcceptLine.Handle(as(s), commands.AcceptLine{OrderID: pending.ID, Line: 1})
		return err
	})
}

// TestPlaceOrderTakesTheSellersAnsweredPrice runs two command sides on one database, as two API
// processes do: two Handlers on two pools, the second following the log (Outcomes.Run) as an API
// process does. A long transaction holds the log's horizon, so that the follower sees nothing
// new. A price change answered through the first must be the price of the next order placed
// through the second, and a product the first took off sale must be refused by the second, with
// nothing written.
func TestPlaceOrderTakesTheSellersAnsweredPrice(t *testing.T) {
	url := pgtest.NewURL(t)
	ctx := t.Context()
	poolA, _, _, a := commandSide(t, url)
	_, storeB, reposB, b := commandSide(t, url)
	e := &env{t: t, pool: poolA, h: a, super: domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}}
	runOutcomes(t, storeB, reposB)

	s, u := seller(), user()
	p := e.onSale(s, e.item(), "A", 1200, 30)
	place := func() (commands.Result[order.Order], error) {
		return b.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 1}}})
	}
	if res, err := place(); err != nil || res.State.Lines[0].UnitPrice != 1200 {
		t.Fatalf("PlaceOrder through B = %+v, %v; want price 1200", res.State.Lines, err)
	}

	hold, err := poolA.Begin(ctx)
	if err != nil {
		t.Fatalf("begin the long transaction: %v", err)
	}
	defer hold.Rollback(context.Background())
	if _, err := hold.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatalf("take a transaction id: %v", err)
	}

	if _, err := a.EditProduct.Handle(as(s), commands.EditProduct{ProductID: p.ID, Name: new("A"), Price: new(int64(1500))}); err != nil {
		t.Fatalf("EditProduct through A: %v", err)
	}
	if res, err := place(); err != nil || res.State.Lines[0].UnitPrice != 1500 {
		t.Fatalf("PlaceOrder through B after A answered price 1500 = %+v, %v; want price 1500", res.State.Lines, err)
	}

	if _, err := a.ChangeProductStatus.Handle(as(s), commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusSoldOut}); err != nil {
		t.Fatalf("ChangeProductStatus SOLD_OUT through A: %v", err)
	}
	before := e.count()
	if _, err := place(); !errors.Is(err, &domain.Error{Kind: domain.Invalid, Code: commands.CodeProductNotOnSale}) {
		t.Fatalf("PlaceOrder through B of a product A took off sale = %v, want PRODUCT_NOT_ON_SALE", err)
	}
	if after := e.count(); after != before {
		t.Fatalf("events %d -> %d after a refused order, want none written", before, after)
	}
}

// TestPlaceOrderChecksCachedProductsInItsAppend places orders through a process whose cache holds
// the product: the order is appended under a condition on the product's stream, with no stream
// read. Once another process has appended to the product (its stock, then its price), the cached
// product is behind: the condition fails, the order reads the product and takes its price as it
// is, and the next order is back to no read.
func TestPlaceOrderChecksCachedProductsInItsAppend(t *testing.T) {
	url := pgtest.NewURL(t)
	poolA, _, _, a := commandSide(t, url)
	poolB, err := pg.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(poolB.Close)
	storeB := &streamReadCounter{Store: postgres.New(poolB)}
	b := commands.NewHandlers(commands.NewRepos(storeB, commands.Config{Snapshots: snapshot.New(poolB)}), commands.Config{Snapshots: snapshot.New(poolB)})
	e := &env{t: t, pool: poolA, h: a, super: domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}}

	s, u := seller(), user()
	p := e.onSale(s, e.item(), "A", 1200, 30)
	place := func(step string, wantPrice int64, wantReads bool) {
		t.Helper()
		before := storeB.reads.Load()
		res, err := b.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 1}}})
		if err != nil || res.State.Lines[0].UnitPrice != wantPrice {
			t.Fatalf("%s: PlaceOrder through B = %+v, %v; want price %d", step, res.State.Lines, err, wantPrice)
		}
		if reads := storeB.reads.Load() - before; (reads > 0) != wantReads {
			t.Fatalf("%s: PlaceOrder through B read streams %d times; want reads: %t", step, reads, wantReads)
		}
	}
	place("B has never seen the product", 1200, true)
	place("B caches the product", 1200, false)
	if _, err := a.RestockProduct.Handle(as(s), commands.RestockProduct{ProductID: p.ID, Quantity: 5}); err != nil {
		t.Fatalf("RestockProduct through A: %v", err)
	}
	place("A changed only the stock", 1200, true)
	place("B read the new stock", 1200, false)
	if _, err := a.EditProduct.Handle(as(s), commands.EditProduct{ProductID: p.ID, Name: new("A"), Price: new(int64(1500))}); err != nil {
		t.Fatalf("EditProduct through A: %v", err)
	}
	place("A changed the price", 1500, true)
	place("B read the new price", 1500, false)
}

// commandSide is one API process's command side on the database at url: a pool of its own, the
// Postgres store, and Repos and Handlers with their own caches.
func commandSide(t *testing.T, url string) (*pgxpool.Pool, *postgres.Store, *commands.Repos, *commands.Handlers) {
	t.Helper()
	pool, err := pg.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pool.Close)
	store := postgres.New(pool)
	repos := commands.NewRepos(store, commands.Config{Snapshots: snapshot.New(pool)})
	return pool, store, repos, commands.NewHandlers(repos, commands.Config{Snapshots: snapshot.New(pool)})
}

// TestPlaceOrderRerunAnswersTheStoredOrder re-runs an order with the same CommandID (the same
// Idempotency-Key, after its answer was lost) once the seller has changed the price: through
// another process, whose cache has never seen the order, the store takes the re-run's append as a
// re-append of the events it holds. The answer is the order as stored, with the first run's price
// and placed_at, not one built from the re-run's decision; nothing is written, and the other
// process's cache holds the stored order too. Through the first process (the order cached) the
// answer is the same.
func TestPlaceOrderRerunAnswersTheStoredOrder(t *testing.T) {
	url := pgtest.NewURL(t)
	poolA, _, _, a := commandSide(t, url)
	_, _, reposB, b := commandSide(t, url)
	e := &env{t: t, pool: poolA, h: a, super: domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}}

	s, u := seller(), user()
	p := e.onSale(s, e.item(), "A", 1200, 30)
	key := commands.Meta{CorrelationID: uuid.New(), Actor: u, CommandID: commands.IdempotentCommandID(u.ID, "lost-answer")}
	cmd := commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 2}}}
	first, err := a.PlaceOrder.Handle(commands.WithMeta(context.Background(), key), cmd)
	if err != nil || first.State.Lines[0].UnitPrice != 1200 {
		t.Fatalf("PlaceOrder through A = %+v, %v; want price 1200", first, err)
	}
	if _, err := a.EditProduct.Handle(as(s), commands.EditProduct{ProductID: p.ID, Price: new(int64(1500))}); err != nil {
		t.Fatalf("EditProduct price 1500: %v", err)
	}
	before := e.count()
	for _, side := range []struct {
		name string
		h    *commands.Handlers
	}{{"B (order never seen)", b}, {"A (order cached)", a}} {
		again, err := side.h.PlaceOrder.Handle(commands.WithMeta(context.Background(), key), cmd)
		if err != nil {
			t.Fatalf("re-run of PlaceOrder through %s: %v", side.name, err)
		}
		got, want := again.State, first.State
		if again.ID != first.ID || again.Version != first.Version || again.Position != first.Position ||
			got.Lines[0].UnitPrice != 1200 || got.Total != want.Total || !got.PlacedAt.Equal(want.PlacedAt) {
			t.Fatalf("re-run through %s = order %s at version %d, price %d, total %d, placed_at %s;\nwant order %s at version %d, price 1200, total %d, placed_at %s (the first run's)",
				side.name, again.ID, again.Version, got.Lines[0].UnitPrice, got.Total, got.PlacedAt, first.ID, first.Version, want.Total, want.PlacedAt)
		}
	}
	if after := e.count(); after != before {
		t.Fatalf("events %d -> %d after the re-runs, want none written", before, after)
	}
	cached, err := reposB.Orders.Load(context.Background(), first.ID)
	if err != nil || cached.Value.Lines[0].UnitPrice != 1200 || !cached.Value.PlacedAt.Equal(first.State.PlacedAt) {
		t.Fatalf("B's Load of order %s after the re-run = %+v, %v; want the stored order (price 1200)", first.ID, cached.Value, err)
	}
}

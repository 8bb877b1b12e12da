package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// oneTransaction reports whether the Postgres store wrote recs in one transaction: their
// positions share the transaction id above the low 20 bits (see package postgres).
func oneTransaction(recs ...eventstore.Record) bool {
	for _, r := range recs[1:] {
		if r.Position>>20 != recs[0].Position>>20 {
			return false
		}
	}
	return true
}

// TestPlaceOrderSettlesInItsAppend places orders with the process manager given to SettleWith:
//   - a product this process has cached and idle: order.placed, the reservation and
//     order.confirmed are one transaction, in that order in the log, nothing is read, the answer
//     is the order as placed,
//     and the process manager, handed order.placed, reads and reserves nothing;
//   - a product another process changed since: the append is refused, the order is placed
//     PENDING with the product as it is now (its new price), and the process manager settles it;
//   - more than the stock: placed PENDING, and the process manager rejects it.
func TestPlaceOrderSettlesInItsAppend(t *testing.T) {
	pool := pgtest.New(t)
	store := &streamReadCounter{Store: postgres.New(pool)}
	obs := newCountingObserver()
	cfg := commands.Config{Observer: obs}
	e := &env{t: t, pool: pool, store: store.Store, obs: obs, repos: commands.NewRepos(store, cfg)}
	e.h = commands.NewHandlers(e.repos, cfg)
	e.super = domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}
	ctx := context.Background()
	f := commands.NewFulfilment(e.repos, commands.FulfilmentConfig{})
	e.h.PlaceOrder.SettleWith(f)
	s, u := seller(), user()
	p := e.onSale(s, e.item(), "P", 1000, 5).ID
	place := func(qty int) commands.Result[order.Order] {
		t.Helper()
		res, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p, Quantity: qty}}})
		if err != nil {
			t.Fatalf("PlaceOrder of %d: %v", qty, err)
		}
		if res.State.Status != order.StatusPending || res.Version != 1 {
			t.Fatalf("PlaceOrder answered %s at version %d, want the order as placed: PENDING at 1", res.State.Status, res.Version)
		}
		return res
	}

	// The writer that answered the status change ends a moment after its answer; until then the
	// product is busy and the order would go the usual way.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, _, idle := e.repos.Products.Cached(p); idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("product %s still busy or not cached 5 s after it was put on sale", p)
		}
	}
	before := store.reads.Load()
	res := place(2)
	if reads := store.reads.Load() - before; reads != 0 {
		t.Fatalf("placing an order of a cached product read streams %d times, want none", reads)
	}
	recs := e.stream(order.StreamID(res.ID))
	prod := e.stream(product.StreamID(p))
	reserved := prod[len(prod)-1]
	if len(recs) != 2 || recs[0].Type != order.TypePlaced || recs[1].Type != order.TypeConfirmed || reserved.Type != product.TypeStockReserved ||
		!oneTransaction(recs[0], recs[1], reserved) || !(recs[0].Position < reserved.Position && reserved.Position < recs[1].Position) ||
		res.Position != recs[0].Position {
		t.Fatalf("order stream %v, product's last event %s: want order.placed, the reservation and order.confirmed in one transaction, in that order, the answer's position order.placed's", typesOf(recs), reserved.Type)
	}
	before = store.reads.Load()
	if err := f.Handle(ctx, recs[0]); err != nil {
		t.Fatalf("fulfil order.placed of an order settled at placement: %v", err)
	}
	if got, reads := e.product(p), store.reads.Load()-before; got.Stock != 3 || got.Reservations[res.ID] != 2 || len(e.stream(product.StreamID(p))) != len(prod) || reads != 0 {
		t.Fatalf("after the process manager had order.placed: stock %d, reservation %d, %d reads; want 3, 2, no event and no read", got.Stock, got.Reservations[res.ID], reads)
	}

	// Another process changes the price: this process's cache no longer has the product as it is.
	other := commands.NewHandlers(commands.NewRepos(store.Store, commands.Config{}), commands.Config{})
	if _, err := other.EditProduct.Handle(as(s), commands.EditProduct{ProductID: p, Price: new(int64(1200))}); err != nil {
		t.Fatalf("EditProduct in another process: %v", err)
	}
	res = place(1)
	recs = e.stream(order.StreamID(res.ID))
	if len(recs) != 1 || res.State.Total != 1200 || obs.conditionsFailed("product") != 1 {
		t.Fatalf("order after another process changed the price: %v, total %d, %d failed conditions; want order.placed alone at 1200, 1 failed", typesOf(recs), res.State.Total, obs.conditionsFailed("product"))
	}
	if err := f.Handle(ctx, recs[0]); err != nil {
		t.Fatalf("fulfil order.placed: %v", err)
	}
	if st := e.order(ctx, res.ID); st.Status != order.StatusOrder {
		t.Fatalf("the process manager left the order %s, want ORDER", st.Status)
	}

	res = place(5)
	recs = e.stream(order.StreamID(res.ID))
	if len(recs) != 1 {
		t.Fatalf("order of more than the stock: %v, want order.placed alone", typesOf(recs))
	}
	if err := f.Handle(ctx, recs[0]); err != nil {
		t.Fatalf("fulfil order.placed: %v", err)
	}
	if st, got := e.order(ctx, res.ID), e.product(p); st.Status != order.StatusReject || got.Stock != 2 {
		t.Fatalf("order of more than the stock: %s with stock %d left, want REJECT and 2", st.Status, got.Stock)
	}
}

// TestFulfilmentHeadlineSettledAtPlacement is the headline with PlaceOrder settling what it can in
// the append that places it, as one process runs: still exactly 15 ORDER and the stock exact,
// whichever way each order was settled.
func TestFulfilmentHeadlineSettledAtPlacement(t *testing.T) {
	r := newRig(t, nil)
	f := commands.NewFulfilment(r.repos, commands.FulfilmentConfig{Outcomes: r.outcomes})
	r.h.PlaceOrder.SettleWith(f)
	r.runFulfilment(f)
	confirmed, a, b := headline(t, r, 60*time.Second)
	atPlacement := 0
	for _, id := range confirmed {
		recs, err := r.store.ReadStream(context.Background(), order.StreamID(id), 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if oneTransaction(recs[0], recs[1]) {
			atPlacement++
		}
	}
	// How many is up to the race: an order that finds a product's writer busy goes the usual way.
	t.Logf("%d of %d ORDER orders settled at placement", atPlacement, len(confirmed))
	lineChanges(t, r, confirmed, a, b)
}

// order returns the order as its stream has it.
func (e *env) order(ctx context.Context, id uuid.UUID) order.Order {
	e.t.Helper()
	res, err := e.h.Order(ctx, id)
	if err != nil {
		e.t.Fatalf("read order %s: %v", id, err)
	}
	return res.State
}

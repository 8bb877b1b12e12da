package commands_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// commitLog is the Postgres store, noting each append's event types and whether it was delayed.
type commitLog struct {
	*postgres.Store
	mu      sync.Mutex
	appends []loggedAppend
}

type loggedAppend struct {
	delayed bool
	types   []string
}

func (c *commitLog) note(delayed bool, events []eventstore.EventData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := loggedAppend{delayed: delayed}
	for _, e := range events {
		a.types = append(a.types, e.Type)
	}
	c.appends = append(c.appends, a)
}

func (c *commitLog) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	c.note(false, events)
	return c.Store.Append(ctx, stream, expected, events...)
}

func (c *commitLog) AppendDelayed(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	c.note(true, events)
	return c.Store.AppendDelayed(ctx, stream, expected, events...)
}

func (c *commitLog) AppendIf(ctx context.Context, stream string, expected eventstore.ExpectedVersion, conds []eventstore.StreamAt, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	c.note(false, events)
	return c.Store.AppendIf(ctx, stream, expected, conds, events...)
}

func (c *commitLog) AppendDelayedIf(ctx context.Context, stream string, expected eventstore.ExpectedVersion, conds []eventstore.StreamAt, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	c.note(true, events)
	return c.Store.AppendDelayedIf(ctx, stream, expected, conds, events...)
}

// since returns the appends noted after the first n.
func (c *commitLog) since(n int) []loggedAppend {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.appends[n:])
}

// TestFulfilmentDelaysOnlyReservations settles an order that is confirmed and one that is
// rejected and checks what reaches the store how: reservations delayed, and the order's outcome
// and the releases durable, the outcome after the reservations.
func TestFulfilmentDelaysOnlyReservations(t *testing.T) {
	pool := pgtest.New(t)
	store := &commitLog{Store: postgres.New(pool)}
	e := &env{t: t, pool: pool, obs: newCountingObserver()}
	cfg := commands.Config{Observer: e.obs}
	e.repos = commands.NewRepos(store, cfg)
	e.h = commands.NewHandlers(e.repos, cfg)
	e.super = domain.Actor{ID: uuid.New(), Role: domain.RoleSupervisor}
	s := seller()
	item := e.item()
	plenty := e.onSale(s, item, "Plenty", 1000, 10)
	one := e.onSale(s, item, "One", 1000, 1)
	f := commands.NewFulfilment(e.repos, commands.FulfilmentConfig{})

	// Both orders are placed before either is settled: the second then finds "One" sold out.
	var placed []eventstore.Record
	for range 2 {
		res, err := e.h.PlaceOrder.Handle(as(user()), commands.PlaceOrder{
			Address: order.Address{Receiver: "Kim", Address1: "1 Main St"},
			Lines:   []commands.PlaceOrderLine{{ProductID: plenty.ID, Quantity: 1}, {ProductID: one.ID, Quantity: 1}},
		})
		if err != nil {
			t.Fatalf("PlaceOrder: %v", err)
		}
		recs, err := store.ReadStream(context.Background(), order.StreamID(res.ID), 1, 1)
		if err != nil {
			t.Fatalf("read order.placed: %v", err)
		}
		placed = append(placed, recs[0])
	}
	settle := func(rec eventstore.Record) []loggedAppend {
		t.Helper()
		n := len(store.since(0))
		if err := f.Handle(context.Background(), rec); err != nil {
			t.Fatalf("Handle order.placed: %v", err)
		}
		return store.since(n)
	}
	check := func(name string, got []loggedAppend, want []loggedAppend) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: appends %+v, want %+v", name, got, want)
		}
		for i := range got {
			if got[i].delayed != want[i].delayed || got[i].types[0] != want[i].types[0] {
				t.Fatalf("%s: append %d is %+v, want %+v (all: %+v)", name, i, got[i], want[i], got)
			}
		}
	}
	reserve := loggedAppend{delayed: true, types: []string{product.TypeStockReserved}}
	check("confirmed order", settle(placed[0]), []loggedAppend{reserve, reserve, {types: []string{order.TypeConfirmed}}})

	// The second order may have reserved "Plenty" before it finds "One" sold out, depending on
	// the products' order by id; what it reserved is released durably after the durable reject.
	got := settle(placed[1])
	want := []loggedAppend{{types: []string{order.TypeRejected}}}
	if plenty.ID.String() < one.ID.String() {
		want = []loggedAppend{reserve, {types: []string{order.TypeRejected}}, {types: []string{product.TypeStockReleased}}}
	}
	check("rejected order", got, want)
}

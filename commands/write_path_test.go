package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// TestRestockUnderMixedTraffic restocks a product through one process's handlers while another
// process (its own Repos on the same store) reserves and releases on it without pause: every
// restock lands, none is refused because of the traffic, and the stock adds up.
func TestRestockUnderMixedTraffic(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s := seller()
	p := e.onSale(s, e.item(), "Hot", 1000, 100)
	other := commands.NewRepos(e.store, commands.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var held atomic.Int64
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				id, at := uuid.New(), time.Now().UTC()
				// Not ctx: a reservation that lands is always counted.
				st, err := other.Products.UpdateState(context.Background(), p.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
					return p.Reserve(id, 1, at)
				})
				if errors.Is(err, domain.ErrConflict) {
					continue // out of stock
				}
				if err != nil || st.Value.Reservations[id] == 0 {
					t.Errorf("reserve = reservation %d, %v; want it held", st.Value.Reservations[id], err)
					return
				}
				if id[0]%2 == 0 {
					held.Add(1)
					continue
				}
				if _, err := other.Products.Update(context.Background(), p.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
					return p.Release(id, at)
				}); err != nil {
					t.Errorf("release: %v", err)
				}
			}
		})
	}
	restocks := 0
	for ctx.Err() == nil {
		if _, err := e.h.RestockProduct.Handle(as(s), commands.RestockProduct{ProductID: p.ID, Quantity: 3}); err != nil {
			t.Fatalf("restock %d under mixed traffic: %v", restocks+1, err)
		}
		restocks++
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	got, err := e.repos.Products.Load(context.Background(), p.ID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := 100 + 3*restocks - int(held.Load()); got.Value.Stock != want || len(got.Value.Reservations) != int(held.Load()) {
		t.Fatalf("after %d restocks and %d held reservations: stock %d with %d reservations, want %d with %d",
			restocks, held.Load(), got.Value.Stock, len(got.Value.Reservations), want, held.Load())
	}
	conflicts, _ := e.obs.counts()
	t.Logf("%d restocks, %d reservations held, %d conflicts", restocks, held.Load(), conflicts)
}

// TestReleaseDecidedOnACachedStateIsChecked caches a product in one process, reserves for an
// order through another, then releases that order through the first: the release, which
// decides nothing on the cached state (no reservation there), must read the stream before it
// answers, and give the stock back.
func TestReleaseDecidedOnACachedStateIsChecked(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s := seller()
	p := e.onSale(s, e.item(), "P", 1000, 9)
	if _, err := e.repos.Products.Load(context.Background(), p.ID); err != nil {
		t.Fatalf("Load: %v", err)
	}
	other := commands.NewRepos(e.store, commands.Config{})
	orderID, at := uuid.New(), time.Now().UTC()
	if _, err := other.Products.Update(context.Background(), p.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
		return p.Reserve(orderID, 2, at)
	}); err != nil {
		t.Fatalf("reserve through the other process: %v", err)
	}
	st, err := e.repos.Products.UpdateState(context.Background(), p.ID, commands.Meta{Actor: s}, func(p product.Product) ([]product.Event, error) {
		return p.Release(orderID, at)
	})
	if err != nil {
		t.Fatalf("release: %v", err)
	}
	fresh, err := commands.NewRepos(e.store, commands.Config{}).Products.Load(context.Background(), p.ID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if st.Value.Stock != 9 || fresh.Value.Stock != 9 || len(fresh.Value.Reservations) != 0 {
		t.Fatalf("release answered stock %d; the stream has stock %d with %d reservations; want 9 with none",
			st.Value.Stock, fresh.Value.Stock, len(fresh.Value.Reservations))
	}
}

// TestForgedLineMessageReleasesNothing hands the process manager order.line_cancelled and
// order.line_delivered messages for a line that the order's stream shows still ORDER: nothing is
// released or committed. The line's real cancel, once on the order's stream, releases it.
func TestForgedLineMessageReleasesNothing(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s, u := seller(), user()
	f := commands.NewFulfilment(e.repos, commands.FulfilmentConfig{})
	p := e.onSale(s, e.item(), "P", 100, 10)
	res, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 4}}})
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	placed := e.stream(order.StreamID(res.ID))[0]
	if err := f.Handle(context.Background(), placed); err != nil {
		t.Fatalf("Handle order.placed: %v", err)
	}
	stock := func() product.Product {
		t.Helper()
		st, err := commands.NewRepos(e.store, commands.Config{}).Products.Load(context.Background(), p.ID)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		return st.Value
	}
	if got := stock(); got.Stock != 6 || got.Reservations[res.ID] != 4 {
		t.Fatalf("after the order settled: stock %d, reservation %d; want 6 and 4", got.Stock, got.Reservations[res.ID])
	}
	line := order.LineEvent{OrderID: res.ID, UserID: u.ID, Line: 1, ProductID: p.ID, SellerID: s.ID, Quantity: 4, At: time.Now().UTC()}
	forge := func(typ string, e any) eventstore.Record {
		data, _ := json.Marshal(e)
		return eventstore.Record{ID: uuid.New(), Type: typ, Data: data, Stream: order.StreamID(res.ID)}
	}
	for _, rec := range []eventstore.Record{
		forge(order.TypeLineCancelled, order.LineCancelled{LineEvent: line}),
		forge(order.TypeLineRejected, order.LineRejected{LineEvent: line}),
		forge(order.TypeLineDelivered, order.LineDelivered{LineEvent: line}),
	} {
		if err := f.Handle(context.Background(), rec); err != nil {
			t.Fatalf("Handle forged %s: %v", rec.Type, err)
		}
		if got := stock(); got.Stock != 6 || got.Reservations[res.ID] != 4 {
			t.Fatalf("after a forged %s: stock %d, reservation %d; want 6 and 4 untouched", rec.Type, got.Stock, got.Reservations[res.ID])
		}
	}

	if _, err := e.h.RequestCancel.Handle(as(u), commands.RequestCancel{OrderID: res.ID, Line: 1}); err != nil {
		t.Fatalf("RequestCancel: %v", err)
	}
	if _, err := e.h.ConfirmCancel.Handle(as(s), commands.ConfirmCancel{OrderID: res.ID, Line: 1}); err != nil {
		t.Fatalf("ConfirmCancel: %v", err)
	}
	recs := e.stream(order.StreamID(res.ID))
	if err := f.Handle(context.Background(), recs[len(recs)-1]); err != nil {
		t.Fatalf("Handle the real order.line_cancelled: %v", err)
	}
	if got := stock(); got.Stock != 10 || len(got.Reservations) != 0 {
		t.Fatalf("after the real cancel: stock %d with %d reservations, want 10 with none", got.Stock, len(got.Reservations))
	}
}

// TestRejectReasonIsTheProductsDecision settles orders through the process manager: an order
// for a product that sold out by itself is REJECT OUT_OF_STOCK (not NOT_ON_SALE), and NOT_ON_SALE
// is only for a product the seller took off sale after the order was placed.
func TestRejectReasonIsTheProductsDecision(t *testing.T) {
	e := newEnv(t, commands.Config{})
	s, u := seller(), user()
	f := commands.NewFulfilment(e.repos, commands.FulfilmentConfig{})
	p := e.onSale(s, e.item(), "P", 100, 2)
	settle := func(id uuid.UUID) order.Order {
		t.Helper()
		if err := f.Handle(context.Background(), e.stream(order.StreamID(id))[0]); err != nil {
			t.Fatalf("Handle order.placed of %s: %v", id, err)
		}
		st, err := e.repos.Orders.Load(context.Background(), id)
		if err != nil {
			t.Fatalf("Load order %s: %v", id, err)
		}
		return st.Value
	}
	place := func() uuid.UUID {
		t.Helper()
		res, err := e.h.PlaceOrder.Handle(as(u), commands.PlaceOrder{Address: address, Lines: []commands.PlaceOrderLine{{ProductID: p.ID, Quantity: 2}}})
		if err != nil {
			t.Fatalf("PlaceOrder: %v", err)
		}
		return res.ID
	}
	first, second := place(), place()
	if o := settle(first); o.Status != order.StatusOrder {
		t.Fatalf("first order = %s %q, want ORDER", o.Status, o.RejectReason)
	}
	if o := settle(second); o.Status != order.StatusReject || o.RejectReason != product.CodeOutOfStock {
		t.Fatalf("order after the product sold out by itself = %s %q, want REJECT OUT_OF_STOCK", o.Status, o.RejectReason)
	}

	if _, err := e.h.RestockProduct.Handle(as(s), commands.RestockProduct{ProductID: p.ID, Quantity: 5}); err != nil {
		t.Fatalf("RestockProduct: %v", err)
	}
	third := place()
	if _, err := e.h.ChangeProductStatus.Handle(as(s), commands.ChangeProductStatus{ProductID: p.ID, Status: product.StatusSoldOut}); err != nil {
		t.Fatalf("ChangeProductStatus SOLD_OUT: %v", err)
	}
	if o := settle(third); o.Status != order.StatusReject || o.RejectReason != product.CodeNotOnSale {
		t.Fatalf("order after the seller took the product off sale = %s %q, want REJECT NOT_ON_SALE", o.Status, o.RejectReason)
	}
}

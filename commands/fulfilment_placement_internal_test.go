package commands

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// TestPlaceOrderThroughABusyWriter places three one-line orders of a product with 2 in stock while
// the product's writer is busy (held by a claim): they queue to the writer, which, let go, decides
// them in one batch. The two it can reserve are placed and settled with their reservations in one
// transaction, in the log as order.placed, the reservations, order.confirmed; the third finds the
// product sold out by them, and is refused (NOT_ON_SALE) as PlaceOrder refuses any such order.
func TestPlaceOrderThroughABusyWriter(t *testing.T) {
	store := postgres.New(pgtest.New(t))
	repos := NewRepos(store, Config{})
	h := NewHandlers(repos, Config{})
	h.PlaceOrder.SettleWith(NewFulfilment(repos, FulfilmentConfig{}))
	as := func(role domain.Role) context.Context {
		return WithMeta(context.Background(), Meta{Actor: domain.Actor{ID: uuid.New(), Role: role}})
	}
	super, seller := as(domain.RoleSupervisor), as(domain.RoleSeller)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	c, err := h.CreateCategory.Handle(super, CreateCategory{Name: "Shoes"})
	must("CreateCategory", err)
	b, err := h.CreateBrand.Handle(super, CreateBrand{Name: "Acme"})
	must("CreateBrand", err)
	i, err := h.CreateItem.Handle(super, CreateItem{CategoryID: c.ID, BrandID: b.ID, Name: "Runner", Description: "a shoe"})
	must("CreateItem", err)
	p, err := h.CreateProduct.Handle(seller, CreateProduct{ItemID: i.ID, Name: "P", Price: 1000, Stock: 2})
	must("CreateProduct", err)
	_, err = h.ChangeProductStatus.Handle(seller, ChangeProductStatus{ProductID: p.ID, Status: product.StatusSell})
	must("ChangeProductStatus", err)

	stream := product.StreamID(p.ID)
	var claim *claimed[product.Product, product.Event]
	for deadline := time.Now().Add(5 * time.Second); claim == nil; time.Sleep(time.Millisecond) {
		claim, _ = repos.Products.claim(p.ID, false)
		if claim == nil && time.Now().After(deadline) {
			t.Fatalf("product %s not idle and cached 5 s after it was put on sale", p.ID)
		}
	}
	ids := make([]uuid.UUID, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for n := range ids {
		wg.Go(func() {
			res, err := h.PlaceOrder.Handle(as(domain.RoleUser), PlaceOrder{Address: order.Address{Receiver: "Kim", Address1: "1 Main St"},
				Lines: []PlaceOrderLine{{ProductID: p.ID, Quantity: 1}}})
			if err == nil && res.State.Status != order.StatusPending {
				t.Errorf("PlaceOrder answered %s, want the order as placed", res.State.Status)
			}
			ids[n], errs[n] = res.ID, err
		})
	}
	queued := func() int {
		repos.Products.wmu.Lock()
		defer repos.Products.wmu.Unlock()
		return len(repos.Products.queues[stream])
	}
	for deadline := time.Now().Add(10 * time.Second); queued() < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 orders queued to the busy product's writer in 10 s", queued())
		}
	}
	claim.release(context.Background(), nil, eventstore.StreamAppend{})
	wg.Wait()

	ctx := context.Background()
	prod, err := store.ReadStream(ctx, stream, 1, 0)
	must("read the product", err)
	var reserved []eventstore.Record
	for _, r := range prod {
		if r.Type == product.TypeStockReserved {
			reserved = append(reserved, r)
		}
	}
	if len(reserved) != 2 {
		t.Fatalf("the product holds %d reservations, want 2", len(reserved))
	}
	settled, refused := 0, 0
	for n, id := range ids {
		if errs[n] != nil {
			if !errors.Is(errs[n], &domain.Error{Kind: domain.Invalid, Code: CodeProductNotOnSale}) {
				t.Fatalf("PlaceOrder = %v, want success or %s", errs[n], CodeProductNotOnSale)
			}
			refused++
			continue
		}
		recs, err := store.ReadStream(ctx, order.StreamID(id), 1, 0)
		must("read an order", err)
		switch {
		case len(recs) == 2 && recs[1].Type == order.TypeConfirmed:
			settled++
			for _, r := range append(recs, reserved...) {
				if r.Position>>20 != recs[0].Position>>20 {
					t.Fatalf("order %s: %s at %d is not in the transaction of its order.placed at %d", id, r.Type, r.Position, recs[0].Position)
				}
			}
			if !(recs[0].Position < reserved[0].Position && reserved[1].Position < recs[1].Position) {
				t.Fatalf("order %s: order.placed at %d, order.confirmed at %d, the reservations at %d and %d: want them in between",
					id, recs[0].Position, recs[1].Position, reserved[0].Position, reserved[1].Position)
			}
		default:
			t.Fatalf("order %s holds %d events, want order.placed and order.confirmed", id, len(recs))
		}
	}
	if settled != 2 || refused != 1 {
		t.Fatalf("%d orders settled, %d refused; want 2 and 1", settled, refused)
	}
}

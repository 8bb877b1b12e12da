package commands

import (
	"errors"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// TestDecideBatchEqualsOneByOne checks the writer's batch: deciding each command on the state
// the previous ones left, in one copy of the product (Own, Apply), gives the same events, results
// and final state as deciding and evolving them one by one, and leaves the state it was given
// (shared with the cache) unchanged.
func TestDecideBatchEqualsOneByOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	repo := NewRepos(nil, Config{}).Products
	for round := range 500 {
		orders := make([]uuid.UUID, 12)
		for i := range orders {
			orders[i] = uuid.New()
		}
		p := product.Product{ID: uuid.New(), SellerID: uuid.New(), Name: "p", Price: 1, Stock: rng.IntN(8),
			Status:       []product.Status{product.StatusSell, product.StatusSoldOut, product.StatusRegistered}[rng.IntN(3)],
			Reservations: map[uuid.UUID]int{}}
		p.AutoSoldOut = p.Status == product.StatusSoldOut && rng.IntN(2) == 0
		for _, o := range orders[:rng.IntN(6)] {
			p.Reservations[o] = 1 + rng.IntN(3)
		}
		before := maps.Clone(p.Reservations)
		var batch []*writeRequest[product.Product, product.Event]
		for range 1 + rng.IntN(24) {
			o, qty := orders[rng.IntN(len(orders))], 1+rng.IntN(4)
			var decide func(product.Product) ([]product.Event, error)
			switch rng.IntN(3) {
			case 0:
				decide = func(p product.Product) ([]product.Event, error) { return p.Reserve(o, qty, at) }
			case 1:
				decide = func(p product.Product) ([]product.Event, error) { return p.Release(o, at) }
			default:
				decide = func(p product.Product) ([]product.Event, error) { return p.Commit(o, at) }
			}
			batch = append(batch, &writeRequest[product.Product, product.Event]{decide: decide})
		}

		next, events, owners, results := repo.decideBatch(p, batch)

		s := p
		var want []product.Event
		var wantOwners []int
		for i, r := range batch {
			evs, err := r.decide(s)
			if !errors.Is(results[i], err) && !(err == nil && results[i] == nil) {
				t.Fatalf("round %d, request %d: result %v, one by one %v", round, i, results[i], err)
			}
			for _, e := range evs {
				s = product.Evolve(s, e)
				want = append(want, e)
				wantOwners = append(wantOwners, i)
			}
		}
		if !reflect.DeepEqual(events, want) || !reflect.DeepEqual(owners, wantOwners) {
			t.Fatalf("round %d: batch events\n %#v (owners %v)\none by one\n %#v (owners %v)", round, events, owners, want, wantOwners)
		}
		if !reflect.DeepEqual(next, s) && !(len(next.Reservations) == 0 && len(s.Reservations) == 0) {
			t.Fatalf("round %d: state after the batch\n %+v\none by one\n %+v", round, next, s)
		}
		if !maps.Equal(p.Reservations, before) {
			t.Fatalf("round %d: decideBatch changed the state it was given", round)
		}
	}
}

// TestOutcomesRememberAndForget checks what Outcomes may tell without reading: a remembered
// outcome, or that an outcome is still to come for an order placed after Run's start and after
// every forgotten outcome.
func TestOutcomesRememberAndForget(t *testing.T) {
	w := &Outcomes{waiters: make(map[uuid.UUID]map[chan outcome]struct{}), recent: make(map[uuid.UUID]outcome), keep: 2, start: 100}
	a, b, c, d := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	w.settled(a, outcome{status: order.StatusOrder}, 110)
	w.settled(b, outcome{status: order.StatusReject, reason: product.CodeOutOfStock}, 120)
	w.settled(b, outcome{status: order.StatusReject, reason: product.CodeOutOfStock}, 120) // heard again by the log
	w.settled(d, outcome{status: order.StatusOrder}, 0)                                    // position unknown: not remembered
	if out, heard, _ := w.lookup(b, 115); !heard || out.reason != product.CodeOutOfStock {
		t.Fatalf("lookup(b) = %+v, heard %v; want the remembered REJECT", out, heard)
	}
	if _, heard, _ := w.lookup(d, 130); heard {
		t.Fatal("an outcome of unknown position was remembered")
	}
	w.settled(c, outcome{status: order.StatusOrder}, 130) // a is forgotten: evicted = 110
	if _, heard, pending := w.lookup(a, 105); heard || pending {
		t.Fatalf("lookup(a) after it was forgotten: heard %v, pending %v; want neither (read the stream)", heard, pending)
	}
	for _, tt := range []struct {
		placed  eventstore.Position
		pending bool
	}{{0, false}, {90, false}, {105, false}, {110, true}, {200, true}} {
		if _, heard, pending := w.lookup(uuid.New(), tt.placed); heard || pending != tt.pending {
			t.Errorf("lookup(unknown order placed at %d): heard %v, pending %v; want pending %v", tt.placed, heard, pending, tt.pending)
		}
	}
	if len(w.recent) != 2 || len(w.heard) != 2 {
		t.Fatalf("remembered %d outcomes (%d in order), want 2", len(w.recent), len(w.heard))
	}
}

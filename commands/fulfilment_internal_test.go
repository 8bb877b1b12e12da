package commands

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/product"
)

// TestDecideBatchEqualsOneByOne checks the group commit's shortcut: deciding a batch on the
// state it found, without copying the reservations map, gives the same events, results and final
// state as deciding each request on the state the previous one left.
func TestDecideBatchEqualsOneByOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
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
		before := len(p.Reservations)
		var batch []*stockRequest
		for _, i := range rng.Perm(len(orders))[:1+rng.IntN(len(orders))] {
			batch = append(batch, &stockRequest{ctx: context.Background(), kind: stockKind(rng.IntN(3)), order: orders[i], qty: 1 + rng.IntN(4)})
		}

		events, owners, results := decideBatch(p, batch, at)

		s := p
		var want []product.Event
		var wantOwners []int
		for i, r := range batch {
			evs, err := r.decide(s, at)
			if !errors.Is(results[i], err) && !(err == nil && results[i] == nil) {
				t.Fatalf("round %d, request %d (%v): result %v, one by one %v", round, i, r.kind, results[i], err)
			}
			s = product.FoldFrom(s, evs...)
			want = append(want, evs...)
			for range evs {
				wantOwners = append(wantOwners, i)
			}
		}
		if !reflect.DeepEqual(events, want) || !reflect.DeepEqual(owners, wantOwners) {
			t.Fatalf("round %d: batch events\n %#v (owners %v)\none by one\n %#v (owners %v)", round, events, owners, want, wantOwners)
		}
		if got := product.FoldFrom(p, events...); !reflect.DeepEqual(got, s) {
			t.Fatalf("round %d: state after the batch\n %+v\none by one\n %+v", round, got, s)
		}
		if len(p.Reservations) != before {
			t.Fatalf("round %d: decideBatch changed the state it was given", round)
		}
	}
}

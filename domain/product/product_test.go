package product_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/product"
)

var (
	at       = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	pid      = uuid.MustParse("00000000-0000-0000-0000-0000000000a1")
	sellerID = uuid.MustParse("00000000-0000-0000-0000-0000000000b1")
	itemID   = uuid.MustParse("00000000-0000-0000-0000-0000000000c1")
	catID    = uuid.MustParse("00000000-0000-0000-0000-0000000000c2")
	brandID  = uuid.MustParse("00000000-0000-0000-0000-0000000000c3")
	order1   = uuid.MustParse("00000000-0000-0000-0000-0000000000d1")
	order2   = uuid.MustParse("00000000-0000-0000-0000-0000000000d2")

	seller      = domain.Actor{ID: sellerID, Role: domain.RoleSeller}
	otherSeller = domain.Actor{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000b2"), Role: domain.RoleSeller}
	supervisor  = domain.Actor{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000e1"), Role: domain.RoleSupervisor}
	user        = domain.Actor{ID: sellerID, Role: domain.RoleUser} // same id, wrong role
)

// Histories used as "given".

func created(stock int) product.Event {
	return product.Created{ProductID: pid, SellerID: sellerID, ItemID: itemID, CategoryID: catID, BrandID: brandID,
		Name: "Mug", Price: 12000, Stock: stock, Status: product.StatusRegistered, At: at}
}

func status(s product.Status, auto bool) product.Event {
	return product.StatusChanged{ProductID: pid, Status: s, Auto: auto, At: at}
}

func reserved(order uuid.UUID, qty, after int) product.Event {
	return product.StockReserved{ProductID: pid, OrderID: order, Quantity: qty, Stock: after, At: at}
}

func released(order uuid.UUID, qty, after int) product.Event {
	return product.StockReleased{ProductID: pid, OrderID: order, Quantity: qty, Stock: after, At: at}
}

func restocked(qty, after int) product.Event {
	return product.Restocked{ProductID: pid, Quantity: qty, Stock: after, At: at}
}

func committed(order uuid.UUID, qty int) product.Event {
	return product.ReservationCommitted{ProductID: pid, OrderID: order, Quantity: qty, At: at}
}

func onSale(stock int) []product.Event {
	return []product.Event{created(stock), status(product.StatusSell, false)}
}

func with(base []product.Event, more ...product.Event) []product.Event {
	return append(append([]product.Event(nil), base...), more...)
}

func createCmd() product.Create {
	return product.Create{ProductID: pid, SellerID: sellerID, ItemID: itemID, CategoryID: catID, BrandID: brandID,
		Name: "Mug", Price: 12000, Stock: 5, At: at}
}

type decisionTest struct {
	name    string
	given   []product.Event
	when    func(product.Product) ([]product.Event, error)
	want    []product.Event
	wantErr error
}

func run(t *testing.T, tests []decisionTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := product.Fold(tt.given...)
			before, _ := json.Marshal(state)
			got, err := tt.when(state)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("error = %v, want none", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("events:\n got %#v\nwant %#v", got, tt.want)
			}
			if after, _ := json.Marshal(state); string(after) != string(before) {
				t.Fatalf("decision changed its state:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func code(kind domain.Kind, c string) error { return &domain.Error{Kind: kind, Code: c} }

var (
	errNotFound     = code(domain.NotFound, product.CodeNotFound)
	errNotOwner     = code(domain.Forbidden, product.CodeNotOwner)
	errExists       = code(domain.Conflict, product.CodeExists)
	errUnregistered = code(domain.Conflict, product.CodeUnregistered)
	errNotOnSale    = code(domain.Conflict, product.CodeNotOnSale)
	errOutOfStock   = code(domain.Conflict, product.CodeOutOfStock)
	errStockLimit   = code(domain.Conflict, product.CodeStockLimit)
	errValidation   = code(domain.Invalid, domain.CodeValidation)
)

func TestCreate(t *testing.T) {
	mod := func(f func(*product.Create)) product.Create { c := createCmd(); f(&c); return c }
	run(t, []decisionTest{
		{
			name:  "a seller creates a product, REGISTERED, name trimmed",
			given: nil,
			when: func(p product.Product) ([]product.Event, error) {
				return p.Create(seller, mod(func(c *product.Create) { c.Name = "  Mug " }))
			},
			want: []product.Event{created(5)},
		},
		{
			name:  "a supervisor creates a product for a seller",
			given: nil,
			when:  func(p product.Product) ([]product.Event, error) { return p.Create(supervisor, createCmd()) },
			want:  []product.Event{created(5)},
		},
		{
			name:  "limits are inclusive: price 100,000,000, stock 1,000,000, 100-character name",
			given: nil,
			when: func(p product.Product) ([]product.Event, error) {
				return p.Create(seller, mod(func(c *product.Create) {
					c.Price, c.Stock, c.Name = product.MaxPrice, product.MaxStock, strings.Repeat("머", 100)
				}))
			},
			want: []product.Event{product.Created{ProductID: pid, SellerID: sellerID, ItemID: itemID, CategoryID: catID,
				BrandID: brandID, Name: strings.Repeat("머", 100), Price: product.MaxPrice, Stock: product.MaxStock,
				Status: product.StatusRegistered, At: at}},
		},
		{
			name:    "a seller cannot create for another seller",
			given:   nil,
			when:    func(p product.Product) ([]product.Event, error) { return p.Create(otherSeller, createCmd()) },
			wantErr: errNotOwner,
		},
		{
			name:    "a user cannot create",
			given:   nil,
			when:    func(p product.Product) ([]product.Event, error) { return p.Create(user, createCmd()) },
			wantErr: errNotOwner,
		},
		{
			name:    "an existing product cannot be created again",
			given:   []product.Event{created(5)},
			when:    func(p product.Product) ([]product.Event, error) { return p.Create(seller, createCmd()) },
			wantErr: errExists,
		},
		{
			name:  "price 0 is invalid",
			given: nil,
			when: func(p product.Product) ([]product.Event, error) {
				return p.Create(seller, mod(func(c *product.Create) { c.Price = 0 }))
			},
			wantErr: errValidation,
		},
		{
			name:  "price above 100,000,000 is invalid",
			given: nil,
			when: func(p product.Product) ([]product.Event, error) {
				return p.Create(seller, mod(func(c *product.Create) { c.Price = product.MaxPrice + 1 }))
			},
			wantErr: errValidation,
		},
		{
			name:  "stock above 1,000,000 is invalid",
			given: nil,
			when: func(p product.Product) ([]product.Event, error) {
				return p.Create(seller, mod(func(c *product.Create) { c.Stock = product.MaxStock + 1 }))
			},
			wantErr: errValidation,
		},
		{
			name:  "a 101-character name is invalid",
			given: nil,
			when: func(p product.Product) ([]product.Event, error) {
				return p.Create(seller, mod(func(c *product.Create) { c.Name = strings.Repeat("머", 101) }))
			},
			wantErr: errValidation,
		},
	})
}

func TestCreateNamesEveryFailingField(t *testing.T) {
	_, err := product.Product{}.Create(seller, product.Create{SellerID: sellerID, Name: "   ", Price: 0, Stock: -1})
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.Invalid {
		t.Fatalf("Create(blank) error = %v, want an Invalid *domain.Error", err)
	}
	want := []string{"brand_id", "category_id", "item_id", "name", "price", "product_id", "stock"}
	for _, f := range want {
		if de.Fields[f] == "" {
			t.Errorf("Create(blank) Fields = %v, missing %q", de.Fields, f)
		}
	}
	if len(de.Fields) != len(want) {
		t.Errorf("Create(blank) Fields = %v, want exactly %v", de.Fields, want)
	}
}

func TestEdit(t *testing.T) {
	edited := product.Edited{ProductID: pid, Name: "Big mug", Price: 15000, At: at}
	run(t, []decisionTest{
		{
			name:  "the owner changes name and price",
			given: onSale(5),
			when:  func(p product.Product) ([]product.Event, error) { return p.Edit(seller, " Big mug ", 15000, at) },
			want:  []product.Event{edited},
		},
		{
			name:  "a supervisor edits any seller's product",
			given: onSale(5),
			when:  func(p product.Product) ([]product.Event, error) { return p.Edit(supervisor, "Big mug", 15000, at) },
			want:  []product.Event{edited},
		},
		{
			name:  "the same name and price change nothing",
			given: onSale(5),
			when:  func(p product.Product) ([]product.Event, error) { return p.Edit(seller, "Mug", 12000, at) },
			want:  nil,
		},
		{
			name:    "another seller is refused",
			given:   onSale(5),
			when:    func(p product.Product) ([]product.Event, error) { return p.Edit(otherSeller, "Big mug", 15000, at) },
			wantErr: errNotOwner,
		},
		{
			name:    "an unknown product is not found",
			given:   nil,
			when:    func(p product.Product) ([]product.Event, error) { return p.Edit(seller, "Big mug", 15000, at) },
			wantErr: errNotFound,
		},
		{
			name:    "a blank name is invalid",
			given:   onSale(5),
			when:    func(p product.Product) ([]product.Event, error) { return p.Edit(seller, " ", 15000, at) },
			wantErr: errValidation,
		},
		{
			name:    "an unregistered product cannot be edited",
			given:   with(onSale(5), status(product.StatusUnregistered, false)),
			when:    func(p product.Product) ([]product.Event, error) { return p.Edit(seller, "Big mug", 15000, at) },
			wantErr: errUnregistered,
		},
	})
}

func TestChangeStatus(t *testing.T) {
	change := func(s product.Status) func(product.Product) ([]product.Event, error) {
		return func(p product.Product) ([]product.Event, error) { return p.ChangeStatus(seller, s, at) }
	}
	autoSoldOut := with(onSale(2), reserved(order1, 2, 0), status(product.StatusSoldOut, true))
	run(t, []decisionTest{
		{name: "REGISTERED to SELL", given: []product.Event{created(5)}, when: change(product.StatusSell),
			want: []product.Event{status(product.StatusSell, false)}},
		{name: "REGISTERED to SOLD_OUT", given: []product.Event{created(5)}, when: change(product.StatusSoldOut),
			want: []product.Event{status(product.StatusSoldOut, false)}},
		{name: "REGISTERED to UNREGISTERED", given: []product.Event{created(5)}, when: change(product.StatusUnregistered),
			want: []product.Event{status(product.StatusUnregistered, false)}},
		{name: "SELL to SOLD_OUT", given: onSale(5), when: change(product.StatusSoldOut),
			want: []product.Event{status(product.StatusSoldOut, false)}},
		{name: "SOLD_OUT to SELL", given: with(onSale(5), status(product.StatusSoldOut, false)), when: change(product.StatusSell),
			want: []product.Event{status(product.StatusSell, false)}},
		{name: "SELL to UNREGISTERED", given: onSale(5), when: change(product.StatusUnregistered),
			want: []product.Event{status(product.StatusUnregistered, false)}},
		{name: "SELL again changes nothing", given: onSale(5), when: change(product.StatusSell), want: nil},
		{name: "SELL with no stock is sold out by itself", given: []product.Event{created(0)}, when: change(product.StatusSell),
			want: []product.Event{status(product.StatusSoldOut, true)}},
		{name: "SELL on a product sold out by itself with no stock changes nothing", given: autoSoldOut,
			when: change(product.StatusSell), want: nil},
		{name: "SOLD_OUT on a product sold out by itself makes it seller-set", given: autoSoldOut,
			when: change(product.StatusSoldOut), want: []product.Event{status(product.StatusSoldOut, false)}},
		{name: "UNREGISTERED is final", given: with(onSale(5), status(product.StatusUnregistered, false)),
			when: change(product.StatusSell), wantErr: errUnregistered},
		{name: "UNREGISTERED again changes nothing", given: with(onSale(5), status(product.StatusUnregistered, false)),
			when: change(product.StatusUnregistered), want: nil},
		{name: "back to REGISTERED is invalid", given: onSale(5), when: change(product.StatusRegistered), wantErr: errValidation},
		{name: "an unknown status is invalid", given: onSale(5), when: change("GONE"), wantErr: errValidation},
		{name: "a supervisor may change it", given: onSale(5),
			when: func(p product.Product) ([]product.Event, error) {
				return p.ChangeStatus(supervisor, product.StatusSoldOut, at)
			},
			want: []product.Event{status(product.StatusSoldOut, false)}},
		{name: "another seller may not", given: onSale(5),
			when: func(p product.Product) ([]product.Event, error) {
				return p.ChangeStatus(otherSeller, product.StatusSoldOut, at)
			},
			wantErr: errNotOwner},
		{name: "an unknown product is not found", given: nil, when: change(product.StatusSell), wantErr: errNotFound},
	})
}

func TestRestock(t *testing.T) {
	restock := func(qty int) func(product.Product) ([]product.Event, error) {
		return func(p product.Product) ([]product.Event, error) { return p.Restock(seller, qty, at) }
	}
	run(t, []decisionTest{
		{name: "adds to the stock", given: onSale(5), when: restock(3), want: []product.Event{restocked(3, 8)}},
		{name: "puts a product sold out by itself back on sale",
			given: with(onSale(2), reserved(order1, 2, 0), status(product.StatusSoldOut, true)), when: restock(3),
			want: []product.Event{restocked(3, 3), status(product.StatusSell, true)}},
		{name: "a product the seller set SOLD_OUT stays so",
			given: with(onSale(0), status(product.StatusSoldOut, false)), when: restock(3),
			want: []product.Event{restocked(3, 3)}},
		{name: "up to 1,000,000 exactly", given: onSale(5), when: restock(product.MaxStock - 5),
			want: []product.Event{restocked(product.MaxStock-5, product.MaxStock)}},
		{name: "past 1,000,000 is refused", given: onSale(5), when: restock(product.MaxStock - 4), wantErr: errStockLimit},
		{name: "open reservations count toward the limit", given: with(onSale(5), reserved(order1, 2, 3)),
			when: restock(product.MaxStock - 4), wantErr: errStockLimit},
		{name: "0 is invalid", given: onSale(5), when: restock(0), wantErr: errValidation},
		{name: "a negative quantity is invalid", given: onSale(5), when: restock(-1), wantErr: errValidation},
		{name: "an unregistered product cannot be restocked", given: with(onSale(5), status(product.StatusUnregistered, false)),
			when: restock(1), wantErr: errUnregistered},
		{name: "another seller may not", given: onSale(5),
			when:    func(p product.Product) ([]product.Event, error) { return p.Restock(otherSeller, 1, at) },
			wantErr: errNotOwner},
		{name: "an unknown product is not found", given: nil, when: restock(1), wantErr: errNotFound},
	})
}

func TestReserve(t *testing.T) {
	reserve := func(order uuid.UUID, qty int) func(product.Product) ([]product.Event, error) {
		return func(p product.Product) ([]product.Event, error) { return p.Reserve(order, qty, at) }
	}
	run(t, []decisionTest{
		{name: "sets stock aside for an order", given: onSale(5), when: reserve(order1, 2),
			want: []product.Event{reserved(order1, 2, 3)}},
		{name: "the last units sell the product out by itself", given: onSale(5), when: reserve(order1, 5),
			want: []product.Event{reserved(order1, 5, 0), status(product.StatusSoldOut, true)}},
		{name: "a second reserve for the same order changes nothing", given: with(onSale(5), reserved(order1, 2, 3)),
			when: reserve(order1, 2), want: nil},
		{name: "a second reserve for the same order changes nothing even once sold out",
			given: with(onSale(2), reserved(order1, 2, 0), status(product.StatusSoldOut, true)),
			when:  reserve(order1, 2), want: nil},
		{name: "more than the stock is refused", given: with(onSale(5), reserved(order1, 2, 3)),
			when: reserve(order2, 4), wantErr: errOutOfStock},
		{name: "a REGISTERED product is not on sale", given: []product.Event{created(5)},
			when: reserve(order1, 1), wantErr: errNotOnSale},
		{name: "a product the seller set SOLD_OUT is not on sale", given: with(onSale(5), status(product.StatusSoldOut, false)),
			when: reserve(order1, 1), wantErr: errNotOnSale},
		{name: "a product sold out by itself is out of stock, not off sale",
			given: with(onSale(2), reserved(order1, 2, 0), status(product.StatusSoldOut, true)),
			when:  reserve(order2, 1), wantErr: errOutOfStock},
		{name: "an UNREGISTERED product is not on sale", given: with(onSale(5), status(product.StatusUnregistered, false)),
			when: reserve(order1, 1), wantErr: errNotOnSale},
		{name: "quantity 0 is invalid", given: onSale(5), when: reserve(order1, 0), wantErr: errValidation},
		{name: "a nil order id is invalid", given: onSale(5), when: reserve(uuid.Nil, 1), wantErr: errValidation},
		{name: "an unknown product is not found", given: nil, when: reserve(order1, 1), wantErr: errNotFound},
	})
}

func TestRelease(t *testing.T) {
	release := func(order uuid.UUID) func(product.Product) ([]product.Event, error) {
		return func(p product.Product) ([]product.Event, error) { return p.Release(order, at) }
	}
	run(t, []decisionTest{
		{name: "gives back exactly what the order reserved", given: with(onSale(5), reserved(order1, 2, 3), reserved(order2, 1, 2)),
			when: release(order1), want: []product.Event{released(order1, 2, 4)}},
		{name: "a product sold out by itself goes back on sale",
			given: with(onSale(2), reserved(order1, 2, 0), status(product.StatusSoldOut, true)),
			when:  release(order1), want: []product.Event{released(order1, 2, 2), status(product.StatusSell, true)}},
		{name: "a product the seller set SOLD_OUT stays so",
			given: with(onSale(2), reserved(order1, 2, 0), status(product.StatusSoldOut, true), status(product.StatusSoldOut, false)),
			when:  release(order1), want: []product.Event{released(order1, 2, 2)}},
		{name: "an unregistered product still takes its stock back",
			given: with(onSale(5), reserved(order1, 2, 3), status(product.StatusUnregistered, false)),
			when:  release(order1), want: []product.Event{released(order1, 2, 5)}},
		{name: "a second release changes nothing", given: with(onSale(5), reserved(order1, 2, 3), released(order1, 2, 5)),
			when: release(order1), want: nil},
		{name: "a committed reservation cannot be released", given: with(onSale(5), reserved(order1, 2, 3), committed(order1, 2)),
			when: release(order1), want: nil},
		{name: "an order that reserved nothing changes nothing", given: onSale(5), when: release(order1), want: nil},
		{name: "an unknown product is not found", given: nil, when: release(order1), wantErr: errNotFound},
	})
}

func TestCommit(t *testing.T) {
	commit := func(order uuid.UUID) func(product.Product) ([]product.Event, error) {
		return func(p product.Product) ([]product.Event, error) { return p.Commit(order, at) }
	}
	run(t, []decisionTest{
		{name: "spends the reservation of a delivered line", given: with(onSale(5), reserved(order1, 2, 3)),
			when: commit(order1), want: []product.Event{committed(order1, 2)}},
		{name: "a second commit changes nothing", given: with(onSale(5), reserved(order1, 2, 3), committed(order1, 2)),
			when: commit(order1), want: nil},
		{name: "a released reservation cannot be committed", given: with(onSale(5), reserved(order1, 2, 3), released(order1, 2, 5)),
			when: commit(order1), want: nil},
		{name: "an unknown product is not found", given: nil, when: commit(order1), wantErr: errNotFound},
	})
}

func TestEvolveKeepsOnlyReleasableReservations(t *testing.T) {
	p := product.Fold(with(onSale(10), reserved(order1, 2, 8), reserved(order2, 3, 5))...)
	if want := map[uuid.UUID]int{order1: 2, order2: 3}; !reflect.DeepEqual(p.Reservations, want) || p.Reserved() != 5 {
		t.Fatalf("after two reserves Reservations = %v (Reserved %d), want %v", p.Reservations, p.Reserved(), want)
	}
	p = product.Fold(with(onSale(10), reserved(order1, 2, 8), reserved(order2, 3, 5), released(order1, 2, 7), committed(order2, 3))...)
	if len(p.Reservations) != 0 || p.Stock != 7 {
		t.Fatalf("after release and commit Reservations = %v, Stock = %d; want none and 7", p.Reservations, p.Stock)
	}
}

func TestEvolveDoesNotModifyItsInput(t *testing.T) {
	base := product.Fold(with(onSale(10), reserved(order1, 2, 8))...)
	next := product.Evolve(base, reserved(order2, 1, 7))
	next = product.Evolve(next, released(order1, 2, 9))
	if want := map[uuid.UUID]int{order1: 2}; !reflect.DeepEqual(base.Reservations, want) {
		t.Fatalf("Evolve changed its input's Reservations to %v, want %v", base.Reservations, want)
	}
	if want := map[uuid.UUID]int{order2: 1}; !reflect.DeepEqual(next.Reservations, want) {
		t.Fatalf("Evolve result Reservations = %v, want %v", next.Reservations, want)
	}
}

type unknownEvent struct{}

func (unknownEvent) EventType() string { return "product.unknown.v1" }

func TestEvolveIgnoresUnknownEvents(t *testing.T) {
	p := product.Fold(onSale(5)...)
	if got := product.Evolve(p, unknownEvent{}); !reflect.DeepEqual(got, p) {
		t.Fatalf("Evolve(unknown) = %+v, want unchanged %+v", got, p)
	}
}

func TestFoldFromEqualsFold(t *testing.T) {
	history := with(onSale(10), reserved(order1, 2, 8), restocked(5, 13), reserved(order2, 3, 10), released(order1, 2, 12),
		product.Edited{ProductID: pid, Name: "Cup", Price: 9000, At: at}, committed(order2, 3))
	for cut := 0; cut <= len(history); cut++ {
		snap := product.Fold(history[:cut]...)
		keep, _ := json.Marshal(snap)
		got := product.FoldFrom(snap, history[cut:]...)
		if want := product.Fold(history...); !reflect.DeepEqual(got, want) {
			t.Fatalf("FoldFrom(Fold(first %d), rest) = %+v, want %+v", cut, got, want)
		}
		if again, _ := json.Marshal(snap); string(again) != string(keep) {
			t.Fatalf("FoldFrom changed its snapshot:\nbefore %s\nafter  %s", keep, again)
		}
	}
}

func TestStateRoundTripsThroughJSON(t *testing.T) {
	for _, history := range [][]product.Event{nil, onSale(5), with(onSale(5), reserved(order1, 2, 3)),
		with(onSale(5), reserved(order1, 2, 3), released(order1, 2, 5))} {
		p := product.Fold(history...)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("json.Marshal(%+v): %v", p, err)
		}
		var got product.Product
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("json.Unmarshal(%s): %v", b, err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("state through JSON %s = %+v, want %+v", b, got, p)
		}
	}
}

func TestStreamID(t *testing.T) {
	if got, want := product.StreamID(pid), "product-"+pid.String(); got != want {
		t.Fatalf("StreamID(%s) = %q, want %q", pid, got, want)
	}
	if got := domain.AggregateType(product.StreamID(pid)); got != "product" {
		t.Fatalf("AggregateType(StreamID) = %q, want product", got)
	}
}

// TestRejectReason checks that an order's reject reason is the code of Reserve's refusal (a
// missing product is not on sale), and that anything else is no reason (the reservation is to be
// retried).
func TestRejectReason(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{domain.Conflictf(product.CodeOutOfStock, "short"), "OUT_OF_STOCK"},
		{fmt.Errorf("reserve: %w", domain.Conflictf(product.CodeNotOnSale, "off sale")), "NOT_ON_SALE"},
		{domain.NotFoundf(product.CodeNotFound, "no product"), "NOT_ON_SALE"},
		{domain.NotFoundf("ORDER_NOT_FOUND", "no order"), ""},
		{errors.New("connection reset"), ""},
	} {
		if got := product.RejectReason(tt.err); got != tt.want {
			t.Errorf("RejectReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

package order_test

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
	"github.com/commerce-dev/commerce/domain/order"
)

var (
	at       = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	oid      = uuid.MustParse("00000000-0000-0000-0000-0000000000d1")
	userID   = uuid.MustParse("00000000-0000-0000-0000-0000000000f1")
	seller1  = uuid.MustParse("00000000-0000-0000-0000-0000000000b1")
	seller2  = uuid.MustParse("00000000-0000-0000-0000-0000000000b2")
	product1 = uuid.MustParse("00000000-0000-0000-0000-0000000000a1")
	product2 = uuid.MustParse("00000000-0000-0000-0000-0000000000a2")

	user       = domain.Actor{ID: userID, Role: domain.RoleUser}
	otherUser  = domain.Actor{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000f2"), Role: domain.RoleUser}
	s1         = domain.Actor{ID: seller1, Role: domain.RoleSeller}
	s2         = domain.Actor{ID: seller2, Role: domain.RoleSeller}
	supervisor = domain.Actor{ID: uuid.MustParse("00000000-0000-0000-0000-0000000000e1"), Role: domain.RoleSupervisor}

	address = order.Address{Receiver: "Kim", Address1: "1 Main St", Address2: "Apt 2", Zipcode: "12345",
		Phone: "01012345678", ReceiveType: "DOOR", ReceiveMessage: "ring twice"}
)

func placeCmd() order.Place {
	return order.Place{OrderID: oid, Actor: user, Address: address, At: at, Lines: []order.PlaceLine{
		{ProductID: product1, Quantity: 2, Product: onSale(seller1, "Mug", 12000)},
		{ProductID: product2, Quantity: 3, Product: onSale(seller2, "Tea", 5000)},
	}}
}

// onSale is the offer of a product on sale.
func onSale(seller uuid.UUID, name string, price int64) order.Offer {
	return order.Offer{Exists: true, OnSale: true, Status: "SELL", SellerID: seller, Name: name, Price: price}
}

// Histories used as "given".

var placed = order.Placed{OrderID: oid, UserID: userID, Address: address, Total: 2*12000 + 3*5000, At: at, Lines: []order.Line{
	{Number: 1, ProductID: product1, SellerID: seller1, ProductName: "Mug", UnitPrice: 12000, Quantity: 2},
	{Number: 2, ProductID: product2, SellerID: seller2, ProductName: "Tea", UnitPrice: 5000, Quantity: 3},
}}

var (
	confirmed = order.Confirmed{OrderID: oid, UserID: userID, At: at}
	rejected  = order.Rejected{OrderID: oid, UserID: userID, Reason: "OUT_OF_STOCK", At: at}
	line1     = order.LineEvent{OrderID: oid, UserID: userID, Line: 1, ProductID: product1, SellerID: seller1, Quantity: 2, At: at}
	accepted1 = order.LineAccepted{LineEvent: line1}
	shipped1  = order.LineShipped{LineEvent: line1}
	delivered = order.LineDelivered{LineEvent: line1}
	canceling = order.LineCancelRequested{LineEvent: line1}
	cancelled = order.LineCancelled{LineEvent: line1}
	refused1  = order.LineRejected{LineEvent: line1, Reason: "broken"}
)

func history(events ...order.Event) []order.Event { return events }

type decisionTest struct {
	name    string
	given   []order.Event
	when    func(order.Order) ([]order.Event, error)
	want    []order.Event
	wantErr error
}

func run(t *testing.T, tests []decisionTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := order.Fold(tt.given...)
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
	errNotFound     = code(domain.NotFound, order.CodeNotFound)
	errLineNotFound = code(domain.NotFound, order.CodeLineNotFound)
	errExists       = code(domain.Conflict, order.CodeExists)
	errTransition   = code(domain.Conflict, order.CodeTransition)
	errValidation   = code(domain.Invalid, domain.CodeValidation)
)

func TestPlace(t *testing.T) {
	place := func(f func(*order.Place)) func(order.Order) ([]order.Event, error) {
		return func(o order.Order) ([]order.Event, error) { c := placeCmd(); f(&c); return o.Place(c) }
	}
	lines := func(n int) []order.PlaceLine {
		ls := make([]order.PlaceLine, n)
		for i := range ls {
			ls[i] = order.PlaceLine{ProductID: uuid.NewSHA1(uuid.Nil, []byte{byte(i)}), Quantity: 1, Product: onSale(seller1, "P", 1)}
		}
		return ls
	}
	run(t, []decisionTest{
		{name: "places a PENDING order, lines numbered from 1, total = Σ unit price × quantity",
			given: nil, when: place(func(*order.Place) {}), want: []order.Event{placed}},
		{name: "an order that exists cannot be placed again",
			given: history(placed), when: place(func(*order.Place) {}), wantErr: errExists},
		{name: "no lines is invalid",
			given: nil, when: place(func(c *order.Place) { c.Lines = nil }), wantErr: errValidation},
		{name: "51 lines is invalid",
			given: nil, when: place(func(c *order.Place) { c.Lines = lines(51) }), wantErr: errValidation},
		{name: "quantity 0 is invalid",
			given: nil, when: place(func(c *order.Place) { c.Lines[1].Quantity = 0 }), wantErr: errValidation},
		{name: "quantity 101 is invalid",
			given: nil, when: place(func(c *order.Place) { c.Lines[0].Quantity = 101 }), wantErr: errValidation},
		{name: "two lines for one product are invalid",
			given: nil, when: place(func(c *order.Place) { c.Lines[1].ProductID = product1 }), wantErr: errValidation},
		{name: "a blank receiver is invalid",
			given: nil, when: place(func(c *order.Place) { c.Address.Receiver = " " }), wantErr: errValidation},
		{name: "only a USER places an order",
			given: nil, when: place(func(c *order.Place) { c.Actor = supervisor }), wantErr: code(domain.Forbidden, order.CodeUserOnly)},
		{name: "a seller does not place an order",
			given: nil, when: place(func(c *order.Place) { c.Actor = s1 }), wantErr: code(domain.Forbidden, order.CodeUserOnly)},
		{name: "a product not on sale refuses the order",
			given: nil, when: place(func(c *order.Place) { c.Lines[1].Product.OnSale, c.Lines[1].Product.Status = false, "SOLD_OUT" }),
			wantErr: code(domain.Invalid, order.CodeProductNotOnSale)},
		{name: "an unknown product refuses the order",
			given: nil, when: place(func(c *order.Place) { c.Lines[0].Product = order.Offer{} }), wantErr: code(domain.Invalid, order.CodeUnknownProduct)},
		{name: "a malformed order is a validation error before the products' facts",
			given: nil, when: place(func(c *order.Place) { c.Lines[0].Product, c.Lines[1].Quantity = order.Offer{}, 0 }), wantErr: errValidation},
	})
}

func TestPlaceLimitsAreInclusive(t *testing.T) {
	cmd := order.Place{OrderID: oid, Actor: user, Address: address, At: at}
	for i := range order.MaxLines {
		cmd.Lines = append(cmd.Lines, order.PlaceLine{ProductID: uuid.NewSHA1(uuid.Nil, []byte{byte(i)}), Quantity: order.MaxQuantity,
			Product: onSale(seller1, "P", 100_000_000)})
	}
	events, err := order.Order{}.Place(cmd)
	if err != nil {
		t.Fatalf("Place(50 lines of 100 at 100,000,000): %v", err)
	}
	if got, want := events[0].(order.Placed).Total, int64(50*100*100_000_000); got != want {
		t.Fatalf("Place total = %d, want %d", got, want)
	}
}

func TestPlaceNamesEveryFailingField(t *testing.T) {
	cmd := placeCmd()
	cmd.Actor.ID = uuid.Nil
	cmd.Lines[0].Quantity = 0
	cmd.Lines[1].ProductID = product1
	_, err := order.Order{}.Place(cmd)
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("Place error = %v, want *domain.Error", err)
	}
	want := map[string]bool{"user_id": true, "lines[0].quantity": true, "lines[1].product_id": true}
	got := map[string]bool{}
	for f := range de.Fields {
		got[f] = true
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Place Fields = %v, want %v", de.Fields, want)
	}
}

func TestConfirmAndReject(t *testing.T) {
	confirm := func(o order.Order) ([]order.Event, error) { return o.Confirm(at) }
	reject := func(reason string) func(order.Order) ([]order.Event, error) {
		return func(o order.Order) ([]order.Event, error) { return o.Reject(reason, at) }
	}
	run(t, []decisionTest{
		{name: "confirm a pending order", given: history(placed), when: confirm, want: []order.Event{confirmed}},
		{name: "confirm again changes nothing", given: history(placed, confirmed), when: confirm, want: nil},
		{name: "a rejected order cannot be confirmed", given: history(placed, rejected), when: confirm, wantErr: errTransition},
		{name: "confirm an unknown order", given: nil, when: confirm, wantErr: errNotFound},
		{name: "reject a pending order", given: history(placed), when: reject("OUT_OF_STOCK"), want: []order.Event{rejected}},
		{name: "reject again changes nothing", given: history(placed, rejected), when: reject("OUT_OF_STOCK"), want: nil},
		{name: "a confirmed order cannot be rejected", given: history(placed, confirmed), when: reject("OUT_OF_STOCK"), wantErr: errTransition},
		{name: "reject without a reason is invalid", given: history(placed), when: reject(" "), wantErr: errValidation},
		{name: "reject an unknown order", given: nil, when: reject("OUT_OF_STOCK"), wantErr: errNotFound},
	})
}

func TestLineTransitions(t *testing.T) {
	accept := func(a domain.Actor, n int) func(order.Order) ([]order.Event, error) {
		return func(o order.Order) ([]order.Event, error) { return o.AcceptLine(a, n, at) }
	}
	reject := func(a domain.Actor, n int, reason string) func(order.Order) ([]order.Event, error) {
		return func(o order.Order) ([]order.Event, error) { return o.RejectLine(a, n, reason, at) }
	}
	ship := func(a domain.Actor, n int) func(order.Order) ([]order.Event, error) {
		return func(o order.Order) ([]order.Event, error) { return o.ShipLine(a, n, at) }
	}
	deliver := func(a domain.Actor, n int) func(order.Order) ([]order.Event, error) {
		return func(o order.Order) ([]order.Event, error) { return o.DeliverLine(a, n, at) }
	}
	cancel := func(a domain.Actor, n int) func(order.Order) ([]order.Event, error) {
		return func(o order.Order) ([]order.Event, error) { return o.RequestCancel(a, n, at) }
	}
	confirmCancel := func(a domain.Actor, n int) func(order.Order) ([]order.Event, error) {
		return func(o order.Order) ([]order.Event, error) { return o.ConfirmCancel(a, n, at) }
	}
	run(t, []decisionTest{
		// accept
		{name: "the seller accepts an ORDER line", given: history(placed, confirmed), when: accept(s1, 1),
			want: []order.Event{accepted1}},
		{name: "a supervisor accepts for any seller", given: history(placed, confirmed), when: accept(supervisor, 1),
			want: []order.Event{accepted1}},
		{name: "another seller's line is not found", given: history(placed, confirmed), when: accept(s2, 1),
			wantErr: errLineNotFound},
		{name: "the buyer cannot accept", given: history(placed, confirmed), when: accept(user, 1), wantErr: errLineNotFound},
		{name: "a line that does not exist is not found", given: history(placed, confirmed), when: accept(s1, 3),
			wantErr: errLineNotFound},
		{name: "line 0 is not found", given: history(placed, confirmed), when: accept(s1, 0), wantErr: errLineNotFound},
		{name: "an unknown order is not found", given: nil, when: accept(s1, 1), wantErr: errNotFound},
		{name: "a pending order's line cannot be accepted", given: history(placed), when: accept(s1, 1), wantErr: errTransition},
		{name: "a rejected order's line cannot be accepted", given: history(placed, rejected), when: accept(s1, 1),
			wantErr: errTransition},
		{name: "accepting twice is a conflict", given: history(placed, confirmed, accepted1), when: accept(s1, 1),
			wantErr: errTransition},
		// reject
		{name: "the seller rejects an ORDER line with a reason", given: history(placed, confirmed), when: reject(s1, 1, " broken "),
			want: []order.Event{refused1}},
		{name: "the reason is optional", given: history(placed, confirmed), when: reject(s1, 1, ""),
			want: []order.Event{order.LineRejected{LineEvent: line1}}},
		{name: "a 501-character reason is invalid", given: history(placed, confirmed), when: reject(s1, 1, strings.Repeat("가", 501)),
			wantErr: errValidation},
		{name: "an accepted line cannot be rejected", given: history(placed, confirmed, accepted1), when: reject(s1, 1, ""),
			wantErr: errTransition},
		{name: "another seller cannot reject", given: history(placed, confirmed), when: reject(s2, 1, ""), wantErr: errLineNotFound},
		// ship
		{name: "the seller ships an accepted line", given: history(placed, confirmed, accepted1), when: ship(s1, 1),
			want: []order.Event{shipped1}},
		{name: "an ORDER line cannot be shipped", given: history(placed, confirmed), when: ship(s1, 1), wantErr: errTransition},
		{name: "a shipped line cannot be shipped again", given: history(placed, confirmed, accepted1, shipped1), when: ship(s1, 1),
			wantErr: errTransition},
		{name: "a canceling line cannot be shipped", given: history(placed, confirmed, accepted1, canceling), when: ship(s1, 1),
			wantErr: errTransition},
		{name: "another seller cannot ship", given: history(placed, confirmed, accepted1), when: ship(s2, 1), wantErr: errLineNotFound},
		// deliver
		{name: "the seller marks a shipped line delivered", given: history(placed, confirmed, accepted1, shipped1),
			when: deliver(s1, 1), want: []order.Event{delivered}},
		{name: "a line not shipped cannot be delivered", given: history(placed, confirmed, accepted1), when: deliver(s1, 1),
			wantErr: errTransition},
		{name: "a delivered line cannot be delivered again", given: history(placed, confirmed, accepted1, shipped1, delivered),
			when: deliver(s1, 1), wantErr: errTransition},
		{name: "another seller cannot deliver", given: history(placed, confirmed, accepted1, shipped1), when: deliver(s2, 1),
			wantErr: errLineNotFound},
		// request cancel
		{name: "the buyer asks to cancel an ORDER line", given: history(placed, confirmed), when: cancel(user, 1),
			want: []order.Event{canceling}},
		{name: "the buyer asks to cancel an accepted line not shipped", given: history(placed, confirmed, accepted1),
			when: cancel(user, 1), want: []order.Event{canceling}},
		{name: "a shipped line cannot be cancelled", given: history(placed, confirmed, accepted1, shipped1), when: cancel(user, 1),
			wantErr: errTransition},
		{name: "a rejected line cannot be cancelled", given: history(placed, confirmed, refused1), when: cancel(user, 1),
			wantErr: errTransition},
		{name: "a canceling line cannot be cancelled again", given: history(placed, confirmed, canceling), when: cancel(user, 1),
			wantErr: errTransition},
		{name: "another user's order is not found", given: history(placed, confirmed), when: cancel(otherUser, 1),
			wantErr: errNotFound},
		{name: "the seller cannot ask to cancel", given: history(placed, confirmed), when: cancel(s1, 1), wantErr: errNotFound},
		{name: "the buyer's missing line is not found", given: history(placed, confirmed), when: cancel(user, 9),
			wantErr: errLineNotFound},
		// confirm cancel
		{name: "the seller confirms a cancel request", given: history(placed, confirmed, canceling), when: confirmCancel(s1, 1),
			want: []order.Event{cancelled}},
		{name: "a line without a cancel request cannot be cancelled", given: history(placed, confirmed), when: confirmCancel(s1, 1),
			wantErr: errTransition},
		{name: "a cancelled line cannot be cancelled again", given: history(placed, confirmed, canceling, cancelled),
			when: confirmCancel(s1, 1), wantErr: errTransition},
		{name: "another seller cannot confirm the cancel", given: history(placed, confirmed, canceling), when: confirmCancel(s2, 1),
			wantErr: errLineNotFound},
	})
}

// TestTransitionMatrix tries every line action from every reachable line state: only the allowed
// ones produce an event, all others are a conflict.
func TestTransitionMatrix(t *testing.T) {
	states := map[string][]order.Event{
		"ORDER/READY":         {placed, confirmed},
		"ACCEPT/READY":        {placed, confirmed, accepted1},
		"ACCEPT/DELIVERY":     {placed, confirmed, accepted1, shipped1},
		"ACCEPT/COMPLETE":     {placed, confirmed, accepted1, shipped1, delivered},
		"REJECT/READY":        {placed, confirmed, refused1},
		"CANCELING/READY":     {placed, confirmed, canceling},
		"CANCEL/READY":        {placed, confirmed, canceling, cancelled},
		"PENDING order":       {placed},
		"REJECT order":        {placed, rejected},
		"CANCEL after ACCEPT": {placed, confirmed, accepted1, canceling, cancelled},
	}
	actions := map[string]func(order.Order) ([]order.Event, error){
		"accept":         func(o order.Order) ([]order.Event, error) { return o.AcceptLine(s1, 1, at) },
		"reject":         func(o order.Order) ([]order.Event, error) { return o.RejectLine(s1, 1, "", at) },
		"ship":           func(o order.Order) ([]order.Event, error) { return o.ShipLine(s1, 1, at) },
		"deliver":        func(o order.Order) ([]order.Event, error) { return o.DeliverLine(s1, 1, at) },
		"request cancel": func(o order.Order) ([]order.Event, error) { return o.RequestCancel(user, 1, at) },
		"confirm cancel": func(o order.Order) ([]order.Event, error) { return o.ConfirmCancel(s1, 1, at) },
	}
	allowed := map[string]bool{
		"ORDER/READY accept": true, "ORDER/READY reject": true, "ORDER/READY request cancel": true,
		"ACCEPT/READY ship": true, "ACCEPT/READY request cancel": true,
		"ACCEPT/DELIVERY deliver":        true,
		"CANCELING/READY confirm cancel": true,
	}
	for state, given := range states {
		for action, when := range actions {
			name := state + " " + action
			events, err := when(order.Fold(given...))
			switch {
			case allowed[name] && (err != nil || len(events) != 1):
				t.Errorf("%s = %v, %v; want one event", name, events, err)
			case !allowed[name] && (!errors.Is(err, errTransition) || events != nil):
				t.Errorf("%s = %v, %v; want %v", name, events, err, errTransition)
			}
		}
	}
}

func TestEvolve(t *testing.T) {
	o := order.Fold(placed)
	if o.Status != order.StatusPending || o.Total != 39000 || o.PlacedAt != at || o.Address != address || len(o.Lines) != 2 {
		t.Fatalf("Fold(placed) = %+v", o)
	}
	if l, _ := o.Line(1); l.Status != "" || l.Delivery != "" {
		t.Fatalf("pending line = %+v, want no status yet", l)
	}
	o = order.Evolve(o, confirmed)
	for n := 1; n <= 2; n++ {
		if l, _ := o.Line(n); l.Status != order.LineOrder || l.Delivery != order.DeliveryReady {
			t.Fatalf("confirmed line %d = %+v, want ORDER/READY", n, l)
		}
	}
	steps := []struct {
		e        order.Event
		status   order.LineStatus
		delivery order.DeliveryStatus
	}{
		{accepted1, order.LineAccept, order.DeliveryReady},
		{shipped1, order.LineAccept, order.DeliveryShipping},
		{delivered, order.LineAccept, order.DeliveryComplete},
		{refused1, order.LineReject, order.DeliveryComplete},
		{canceling, order.LineCanceling, order.DeliveryComplete},
		{cancelled, order.LineCancel, order.DeliveryComplete},
	}
	for _, s := range steps {
		before := o
		o = order.Evolve(o, s.e)
		if l, _ := o.Line(1); l.Status != s.status || l.Delivery != s.delivery {
			t.Fatalf("Evolve(%T) line 1 = %s/%s, want %s/%s", s.e, l.Status, l.Delivery, s.status, s.delivery)
		}
		if l, _ := before.Line(1); reflect.DeepEqual(l, o.Lines[0]) {
			t.Fatalf("Evolve(%T) changed its input's line too (or nothing): %+v", s.e, l)
		}
		if l2, _ := o.Line(2); l2.Status != order.LineOrder {
			t.Fatalf("Evolve(%T) touched line 2: %+v", s.e, l2)
		}
	}
	r := order.Fold(placed, rejected)
	if r.Status != order.StatusReject || r.RejectReason != "OUT_OF_STOCK" {
		t.Fatalf("Fold(placed, rejected) = %+v", r)
	}
	// Events for lines that do not exist and unknown events are ignored.
	ghost := order.LineAccepted{LineEvent: order.LineEvent{OrderID: oid, Line: 7}}
	if got := order.Evolve(r, ghost); !reflect.DeepEqual(got, r) {
		t.Fatalf("Evolve(line 7) = %+v, want unchanged", got)
	}
	if got := order.Evolve(r, unknownEvent{}); !reflect.DeepEqual(got, r) {
		t.Fatalf("Evolve(unknown) = %+v, want unchanged", got)
	}
}

type unknownEvent struct{}

func (unknownEvent) EventType() string { return "order.unknown.v1" }

func TestPlacedEventIsNotSharedWithState(t *testing.T) {
	e := order.Placed{OrderID: oid, UserID: userID, Lines: []order.Line{{Number: 1, ProductID: product1, Quantity: 1}}}
	o := order.Evolve(order.Evolve(order.Order{}, e), confirmed)
	if e.Lines[0].Status != "" || o.Lines[0].Status != order.LineOrder {
		t.Fatalf("confirming changed the Placed event's line: event %+v, state %+v", e.Lines[0], o.Lines[0])
	}
}

func TestStateRoundTripsThroughJSON(t *testing.T) {
	for i, h := range [][]order.Event{nil, history(placed), history(placed, confirmed, accepted1, shipped1), history(placed, rejected)} {
		o := order.Fold(h...)
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		var got order.Order
		if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, o) {
			t.Fatalf("history %d through JSON %s = %+v, %v; want %+v", i, b, got, err, o)
		}
	}
}

func TestStreamID(t *testing.T) {
	if got, want := order.StreamID(oid), fmt.Sprintf("order-%s", oid); got != want {
		t.Fatalf("StreamID = %q, want %q", got, want)
	}
}

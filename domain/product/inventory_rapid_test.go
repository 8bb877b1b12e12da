package product_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
)

// inventory drives products and orders the way the fulfilment process does (place, reserve every
// line or release and reject, line transitions that release or commit, restock, status changes)
// and keeps a model of what each product should hold.
type inventory struct {
	next     uint64
	userID   uuid.UUID
	products []uuid.UUID
	sellerOf map[uuid.UUID]uuid.UUID
	prod     map[uuid.UUID]product.Product
	prodHist map[uuid.UUID][]product.Event
	initial  map[uuid.UUID]int
	added    map[uuid.UUID]int               // restocked quantity
	held     map[uuid.UUID]map[uuid.UUID]int // product -> order -> reserved and not released
	set      map[uuid.UUID]product.Status    // the status the seller last asked for
	orders   []uuid.UUID
	ord      map[uuid.UUID]order.Order
	ordHist  map[uuid.UUID][]order.Event
}

func (s *inventory) id() uuid.UUID {
	s.next++
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], s.next)
	return u
}

func (s *inventory) product(t *rapid.T, id uuid.UUID, decide func(product.Product) ([]product.Event, error)) ([]product.Event, error) {
	events, err := decide(s.prod[id])
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		s.prod[id] = product.Evolve(s.prod[id], e)
	}
	s.prodHist[id] = append(s.prodHist[id], events...)
	return events, nil
}

func (s *inventory) order(t *rapid.T, id uuid.UUID, decide func(order.Order) ([]order.Event, error)) ([]order.Event, error) {
	events, err := decide(s.ord[id])
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		s.ord[id] = order.Evolve(s.ord[id], e)
	}
	s.ordHist[id] = append(s.ordHist[id], events...)
	return events, nil
}

func (s *inventory) init(t *rapid.T) {
	s.userID = s.id()
	s.sellerOf, s.prod, s.prodHist = map[uuid.UUID]uuid.UUID{}, map[uuid.UUID]product.Product{}, map[uuid.UUID][]product.Event{}
	s.initial, s.added, s.held = map[uuid.UUID]int{}, map[uuid.UUID]int{}, map[uuid.UUID]map[uuid.UUID]int{}
	s.ord, s.ordHist = map[uuid.UUID]order.Order{}, map[uuid.UUID][]order.Event{}
	s.set = map[uuid.UUID]product.Status{}
	n := rapid.IntRange(1, 4).Draw(t, "products")
	for range n {
		id, sellerID := s.id(), s.id()
		stock := rapid.IntRange(0, 12).Draw(t, "initial stock")
		seller := domain.Actor{ID: sellerID, Role: domain.RoleSeller}
		s.products = append(s.products, id)
		s.sellerOf[id], s.initial[id], s.held[id], s.set[id] = sellerID, stock, map[uuid.UUID]int{}, product.StatusSell
		if _, err := s.product(t, id, func(p product.Product) ([]product.Event, error) {
			return p.Create(seller, product.Create{ProductID: id, SellerID: sellerID, ItemID: s.id(), CategoryID: s.id(),
				BrandID: s.id(), Name: "P", Price: 1000, Stock: stock, At: at})
		}); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if _, err := s.product(t, id, func(p product.Product) ([]product.Event, error) {
			return p.ChangeStatus(seller, product.StatusSell, at)
		}); err != nil {
			t.Fatalf("ChangeStatus(SELL): %v", err)
		}
	}
}

func (s *inventory) sellerActor(t *rapid.T, productID uuid.UUID) domain.Actor {
	if rapid.IntRange(0, 4).Draw(t, "supervisor") == 0 {
		return supervisor
	}
	return domain.Actor{ID: s.sellerOf[productID], Role: domain.RoleSeller}
}

func (s *inventory) ordersIn(st order.Status) []uuid.UUID {
	var ids []uuid.UUID
	for _, id := range s.orders {
		if s.ord[id].Status == st {
			ids = append(ids, id)
		}
	}
	return ids
}

// Place places an order for a few distinct products.
func (s *inventory) Place(t *rapid.T) {
	picked := rapid.Permutation(s.products).Draw(t, "products")
	picked = picked[:rapid.IntRange(1, len(picked)).Draw(t, "lines")]
	cmd := order.Place{OrderID: s.id(), Actor: domain.Actor{ID: s.userID, Role: domain.RoleUser}, Address: order.Address{Receiver: "R", Address1: "A"}, At: at}
	for _, p := range picked {
		cmd.Lines = append(cmd.Lines, order.PlaceLine{ProductID: p, Quantity: rapid.IntRange(1, 5).Draw(t, "quantity"),
			Product: order.Offer{Exists: true, OnSale: true, Status: "SELL", SellerID: s.sellerOf[p], Name: "P", Price: 1000}})
	}
	if _, err := s.order(t, cmd.OrderID, func(o order.Order) ([]order.Event, error) { return o.Place(cmd) }); err != nil {
		t.Fatalf("Place: %v", err)
	}
	s.orders = append(s.orders, cmd.OrderID)
}

// release gives back what orderID holds on productID and checks it is exactly what it reserved.
func (s *inventory) release(t *rapid.T, productID, orderID uuid.UUID) {
	events, err := s.product(t, productID, func(p product.Product) ([]product.Event, error) { return p.Release(orderID, at) })
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	want, held := s.held[productID][orderID]
	if !held {
		if events != nil {
			t.Fatalf("Release of an order holding nothing = %#v, want nothing", events)
		}
		return
	}
	if len(events) == 0 || events[0].(product.StockReleased).Quantity != want {
		t.Fatalf("Release = %#v, want StockReleased of %d", events, want)
	}
	delete(s.held[productID], orderID)
}

// Fulfil reserves every line of a pending order in product id order; a short line releases what
// was reserved and rejects the order. Sometimes it stops halfway, as if the process crashed, and a
// later Fulfil (the redelivery) continues.
func (s *inventory) Fulfil(t *rapid.T) {
	pending := s.ordersIn(order.StatusPending)
	if len(pending) == 0 {
		return
	}
	o := s.ord[rapid.SampledFrom(pending).Draw(t, "order")]
	lines := slices.Clone(o.Lines)
	slices.SortFunc(lines, func(a, b order.Line) int { return slices.Compare(a.ProductID[:], b.ProductID[:]) })
	crashAt := rapid.IntRange(0, 3*len(lines)).Draw(t, "crash at")
	for i, l := range lines {
		if i == crashAt {
			return
		}
		events, err := s.product(t, l.ProductID, func(p product.Product) ([]product.Event, error) {
			return p.Reserve(o.ID, l.Quantity, at)
		})
		if err != nil {
			if !errors.Is(err, &domain.Error{Kind: domain.Conflict, Code: product.CodeOutOfStock}) &&
				!errors.Is(err, &domain.Error{Kind: domain.Conflict, Code: product.CodeNotOnSale}) {
				t.Fatalf("Reserve: %v", err)
			}
			for _, r := range lines[:i] {
				s.release(t, r.ProductID, o.ID)
			}
			if _, err := s.order(t, o.ID, func(o order.Order) ([]order.Event, error) { return o.Reject("OUT_OF_STOCK", at) }); err != nil {
				t.Fatalf("Reject: %v", err)
			}
			return
		}
		if _, again := s.held[l.ProductID][o.ID]; again {
			if events != nil {
				t.Fatalf("second Reserve for order %s = %#v, want nothing", o.ID, events)
			}
			continue
		}
		if events[0].(product.StockReserved).Quantity != l.Quantity {
			t.Fatalf("Reserve(%d) = %#v", l.Quantity, events)
		}
		s.held[l.ProductID][o.ID] = l.Quantity
	}
	if _, err := s.order(t, o.ID, func(o order.Order) ([]order.Event, error) { return o.Confirm(at) }); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
}

// Line takes a random line transition on a confirmed order; a refused one must be a conflict the
// model expects, and changes nothing.
func (s *inventory) Line(t *rapid.T) {
	confirmed := s.ordersIn(order.StatusOrder)
	if len(confirmed) == 0 {
		return
	}
	o := s.ord[rapid.SampledFrom(confirmed).Draw(t, "order")]
	l := o.Lines[rapid.IntRange(0, len(o.Lines)-1).Draw(t, "line")]
	seller := s.sellerActor(t, l.ProductID)
	user := domain.Actor{ID: o.UserID, Role: domain.RoleUser}
	ready := l.Delivery == order.DeliveryReady
	type step struct {
		allowed bool
		decide  func(order.Order) ([]order.Event, error)
	}
	steps := map[string]step{
		"accept": {l.Status == order.LineOrder, func(o order.Order) ([]order.Event, error) { return o.AcceptLine(seller, l.Number, at) }},
		"reject": {l.Status == order.LineOrder, func(o order.Order) ([]order.Event, error) { return o.RejectLine(seller, l.Number, "no", at) }},
		"ship": {l.Status == order.LineAccept && ready,
			func(o order.Order) ([]order.Event, error) { return o.ShipLine(seller, l.Number, at) }},
		"deliver": {l.Status == order.LineAccept && l.Delivery == order.DeliveryShipping,
			func(o order.Order) ([]order.Event, error) { return o.DeliverLine(seller, l.Number, at) }},
		"cancel": {(l.Status == order.LineOrder || l.Status == order.LineAccept) && ready,
			func(o order.Order) ([]order.Event, error) { return o.RequestCancel(user, l.Number, at) }},
		"confirm cancel": {l.Status == order.LineCanceling,
			func(o order.Order) ([]order.Event, error) { return o.ConfirmCancel(seller, l.Number, at) }},
	}
	name := rapid.SampledFrom([]string{"accept", "reject", "ship", "deliver", "cancel", "confirm cancel"}).Draw(t, "transition")
	st := steps[name]
	before := len(s.ordHist[o.ID])
	_, err := s.order(t, o.ID, st.decide)
	switch {
	case st.allowed && err != nil:
		t.Fatalf("%s of a %s/%s line: %v", name, l.Status, l.Delivery, err)
	case !st.allowed && !errors.Is(err, domain.ErrConflict):
		t.Fatalf("%s of a %s/%s line = %v, want a conflict", name, l.Status, l.Delivery, err)
	case !st.allowed:
		if len(s.ordHist[o.ID]) != before {
			t.Fatalf("refused %s wrote events", name)
		}
		return
	}
	switch name {
	case "reject", "confirm cancel":
		s.release(t, l.ProductID, o.ID)
	case "deliver":
		events, err := s.product(t, l.ProductID, func(p product.Product) ([]product.Event, error) { return p.Commit(o.ID, at) })
		if err != nil || len(events) != 1 || events[0].(product.ReservationCommitted).Quantity != l.Quantity {
			t.Fatalf("Commit = %#v, %v; want one ReservationCommitted of %d", events, err, l.Quantity)
		}
	}
}

// Redeliver repeats a release or commit that already happened (a redelivered message): it must
// change nothing.
func (s *inventory) Redeliver(t *rapid.T) {
	if len(s.orders) == 0 {
		return
	}
	o := s.ord[rapid.SampledFrom(s.orders).Draw(t, "order")]
	l := o.Lines[rapid.IntRange(0, len(o.Lines)-1).Draw(t, "line")]
	done := o.Status == order.StatusReject || l.Status == order.LineReject || l.Status == order.LineCancel ||
		l.Delivery == order.DeliveryComplete
	if !done {
		return
	}
	for _, decide := range []func(product.Product) ([]product.Event, error){
		func(p product.Product) ([]product.Event, error) { return p.Release(o.ID, at) },
		func(p product.Product) ([]product.Event, error) { return p.Commit(o.ID, at) },
	} {
		if events, err := s.product(t, l.ProductID, decide); events != nil || err != nil {
			t.Fatalf("redelivered release/commit for a finished line = %#v, %v; want nothing", events, err)
		}
	}
}

// Restock adds a few units.
func (s *inventory) Restock(t *rapid.T) {
	id := rapid.SampledFrom(s.products).Draw(t, "product")
	qty := rapid.IntRange(1, 6).Draw(t, "restock")
	_, err := s.product(t, id, func(p product.Product) ([]product.Event, error) { return p.Restock(s.sellerActor(t, id), qty, at) })
	switch {
	case err == nil:
		s.added[id] += qty
	case s.prod[id].Status != product.StatusUnregistered:
		t.Fatalf("Restock(%d): %v", qty, err)
	}
}

// Status changes a product's status, rarely to UNREGISTERED.
func (s *inventory) Status(t *rapid.T) {
	id := rapid.SampledFrom(s.products).Draw(t, "product")
	to := rapid.SampledFrom([]product.Status{product.StatusSell, product.StatusSell, product.StatusSoldOut,
		product.StatusSell, product.StatusSoldOut, product.StatusSell, product.StatusUnregistered}).Draw(t, "status")
	if to == product.StatusUnregistered && rapid.IntRange(0, 3).Draw(t, "really") != 0 {
		to = product.StatusSell
	}
	_, err := s.product(t, id, func(p product.Product) ([]product.Event, error) {
		return p.ChangeStatus(s.sellerActor(t, id), to, at)
	})
	switch {
	case err == nil:
		s.set[id] = to
	case s.prod[id].Status != product.StatusUnregistered:
		t.Fatalf("ChangeStatus(%s): %v", to, err)
	}
}

// Check holds after every step. A step that does not apply (no such order yet) does nothing.
func (s *inventory) Check(t *rapid.T) {
	releasable := map[uuid.UUID]map[uuid.UUID]int{}
	for _, id := range s.products {
		releasable[id] = map[uuid.UUID]int{}
	}
	for _, oid := range s.orders {
		o := s.ord[oid]
		for _, l := range o.Lines {
			open := false
			switch o.Status {
			case order.StatusPending:
				_, open = s.held[l.ProductID][oid]
			case order.StatusOrder:
				open = l.Status != order.LineReject && l.Status != order.LineCancel && l.Delivery != order.DeliveryComplete
			}
			if open {
				releasable[l.ProductID][oid] = l.Quantity
			}
		}
	}
	for _, id := range s.products {
		p := s.prod[id]
		held := 0
		for _, q := range s.held[id] {
			held += q
		}
		if p.Stock < 0 {
			t.Fatalf("product %s stock %d < 0", id, p.Stock)
		}
		if want := s.initial[id] + s.added[id] - held; p.Stock != want {
			t.Fatalf("product %s stock %d, want initial %d + restocked %d - held %d = %d", id, p.Stock, s.initial[id], s.added[id], held, want)
		}
		got := map[uuid.UUID]int{}
		for o, q := range p.Reservations {
			got[o] = q
		}
		if !reflect.DeepEqual(got, releasable[id]) {
			t.Fatalf("product %s keeps reservations %v, want exactly the releasable %v", id, got, releasable[id])
		}
		// A product the seller put on sale is SELL while it has stock and sold out by itself
		// without; any other status the seller set stays.
		wantStatus, wantAuto := s.set[id], false
		if wantStatus == product.StatusSell && p.Stock == 0 {
			wantStatus, wantAuto = product.StatusSoldOut, true
		}
		if p.Status != wantStatus || p.AutoSoldOut != wantAuto {
			t.Fatalf("product %s is %s (auto %t) with stock %d after the seller set %s, want %s (auto %t)",
				id, p.Status, p.AutoSoldOut, p.Stock, s.set[id], wantStatus, wantAuto)
		}
	}
}

// Replay checks, at the end of a run, that folding every stream's events rebuilds the state the
// run evolved step by step, that the state survives JSON (snapshots), and that no order released
// stock twice.
func (s *inventory) Replay(t *rapid.T) {
	for _, oid := range s.orders {
		if got := order.Fold(s.ordHist[oid]...); !reflect.DeepEqual(got, s.ord[oid]) {
			t.Fatalf("order %s: Fold(history) = %+v, evolved state %+v", oid, got, s.ord[oid])
		}
	}
	for _, id := range s.products {
		p := s.prod[id]
		if got := product.Fold(s.prodHist[id]...); !reflect.DeepEqual(got, p) {
			t.Fatalf("product %s: Fold(history) = %+v, evolved state %+v", id, got, p)
		}
		b, _ := json.Marshal(p)
		var snap product.Product
		if err := json.Unmarshal(b, &snap); err != nil || !reflect.DeepEqual(snap, p) {
			t.Fatalf("product %s through JSON = %+v, %v; want %+v", id, snap, err, p)
		}
		releases := map[uuid.UUID]int{}
		for _, e := range s.prodHist[id] {
			if r, ok := e.(product.StockReleased); ok {
				if releases[r.OrderID]++; releases[r.OrderID] > 1 {
					t.Fatalf("product %s released order %s twice", id, r.OrderID)
				}
			}
		}
	}
}

func TestInventoryKeepsStockConsistent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &inventory{}
		s.init(t)
		actions := map[string]func(*rapid.T){
			"place":     s.Place,
			"fulfil":    s.Fulfil,
			"line":      s.Line,
			"redeliver": s.Redeliver,
			"restock":   s.Restock,
			"status":    s.Status,
		}
		names := slices.Sorted(maps.Keys(actions))
		s.Check(t)
		for range rapid.IntRange(1, 200).Draw(t, "steps") {
			actions[rapid.SampledFrom(names).Draw(t, "action")](t)
			s.Check(t)
		}
		s.Replay(t)
	})
}

package readmodels_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/readmodels"
)

// orderBook has three orders: o1 of u1 (confirmed, two lines: p1 of s1, p2 of s2), o2 of u1
// (rejected), o3 of u2 (pending, one line of s1).
type orderBook struct {
	u1, u2, s1, s2, p1, p2 uuid.UUID
	o1, o2, o3             uuid.UUID
	addr                   order.Address
}

func newOrderBook(w *world) orderBook {
	b := orderBook{}
	for _, id := range []*uuid.UUID{&b.u1, &b.u2, &b.s1, &b.s2, &b.p1, &b.p2, &b.o1, &b.o2, &b.o3} {
		*id = uuid.New()
	}
	b.addr = order.Address{Receiver: "Kim", Address1: "1 Main St", Address2: "Apt 2", Zipcode: "04524",
		Phone: "01012345678", ReceiveType: "DOOR", ReceiveMessage: "ring twice"}
	l1 := order.Line{Number: 1, ProductID: b.p1, SellerID: b.s1, ProductName: "Red Shoe", UnitPrice: 30_000, Quantity: 2}
	l2 := order.Line{Number: 2, ProductID: b.p2, SellerID: b.s2, ProductName: "Tote", UnitPrice: 20_000, Quantity: 1}
	w.given(
		order.Placed{OrderID: b.o1, UserID: b.u1, Address: b.addr, Lines: []order.Line{l1, l2}, Total: 80_000, At: at(1)},
		order.Confirmed{OrderID: b.o1, UserID: b.u1, At: at(2)},
		order.Placed{OrderID: b.o2, UserID: b.u1, Address: b.addr, Lines: []order.Line{l2}, Total: 20_000, At: at(3)},
		order.Rejected{OrderID: b.o2, UserID: b.u1, Reason: "OUT_OF_STOCK", At: at(4)},
		order.Placed{OrderID: b.o3, UserID: b.u2, Address: b.addr, Lines: []order.Line{l1}, Total: 60_000, At: at(5)},
	)
	return b
}

func (b orderBook) lineEvent(n int, minute int) order.LineEvent {
	seller, productID := b.s1, b.p1
	if n == 2 {
		seller, productID = b.s2, b.p2
	}
	return order.LineEvent{OrderID: b.o1, UserID: b.u1, Line: n, ProductID: productID, SellerID: seller, Quantity: 1, At: at(minute)}
}

func orderIDs(l readmodels.List[readmodels.Order]) []uuid.UUID {
	return ids(l.Items, func(o readmodels.Order) uuid.UUID { return o.ID })
}

func TestFindOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newOrderBook(w)
	ctx := context.Background()
	reviewID := uuid.New()
	w.given(
		order.LineAccepted{LineEvent: b.lineEvent(1, 10)},
		order.LineShipped{LineEvent: b.lineEvent(1, 11)},
		order.LineDelivered{LineEvent: b.lineEvent(1, 12)},
		review.Written{ReviewID: reviewID, OrderID: b.o1, Line: 1, ProductID: b.p1, UserID: b.u1, Rating: 5, Content: "ok", At: at(13)},
		order.LineCancelRequested{LineEvent: b.lineEvent(2, 14)},
	)

	got, err := w.rm.FindUserOrder(ctx, b.u1, b.o1)
	if err != nil {
		t.Fatalf("FindUserOrder(u1, o1): %v", err)
	}
	want := readmodels.Order{ID: b.o1, UserID: b.u1, Status: order.StatusOrder, Total: 80_000,
		Address: readmodels.Address(b.addr), PlacedAt: at(1), UpdatedAt: at(2),
		Lines: []readmodels.OrderLine{
			{OrderID: b.o1, Line: 1, UserID: b.u1, ProductID: b.p1, ProductName: "Red Shoe", SellerID: b.s1,
				UnitPrice: 30_000, Quantity: 2, Status: order.LineAccept, DeliveryStatus: order.DeliveryComplete,
				ReviewID: &reviewID, PlacedAt: at(1), UpdatedAt: at(12)},
			{OrderID: b.o1, Line: 2, UserID: b.u1, ProductID: b.p2, ProductName: "Tote", SellerID: b.s2,
				UnitPrice: 20_000, Quantity: 1, Status: order.LineCanceling, DeliveryStatus: order.DeliveryReady,
				PlacedAt: at(1), UpdatedAt: at(14)},
		}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FindUserOrder(u1, o1):\n got %+v\nwant %+v", got, want)
	}

	rejected, err := w.rm.FindOrder(ctx, b.o2)
	if err != nil || rejected.Status != order.StatusReject || rejected.RejectReason != "OUT_OF_STOCK" ||
		len(rejected.Lines) != 1 || rejected.Lines[0].Status != "" {
		t.Fatalf("FindOrder(o2) = %+v, %v; want REJECT OUT_OF_STOCK with one line without status", rejected, err)
	}
	pending, err := w.rm.FindOrder(ctx, b.o3)
	if err != nil || pending.Status != order.StatusPending || pending.UserID != b.u2 {
		t.Fatalf("FindOrder(o3) = %+v, %v; want PENDING of u2", pending, err)
	}
	for _, tt := range []struct {
		user, id uuid.UUID
	}{{b.u2, b.o1}, {b.u1, b.o3}, {b.u1, uuid.New()}} {
		if _, err := w.rm.FindUserOrder(ctx, tt.user, tt.id); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("FindUserOrder(%s, %s) error = %v, want NotFound", tt.user, tt.id, err)
		}
	}

	// Deleting the review clears the line's review id.
	w.given(review.Deleted{ReviewID: reviewID, ProductID: b.p1, UserID: b.u1, At: at(20)})
	got, err = w.rm.FindOrder(ctx, b.o1)
	if err != nil || got.Lines[0].ReviewID != nil {
		t.Fatalf("FindOrder(o1) after the review was deleted: review_id = %v, %v; want nil", got.Lines[0].ReviewID, err)
	}
}

func TestListOrders(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newOrderBook(w)
	ctx := context.Background()

	tests := []struct {
		name      string
		list      func() (readmodels.List[readmodels.Order], error)
		want      []uuid.UUID
		wantTotal int64
	}{
		{"user's own, newest first", func() (readmodels.List[readmodels.Order], error) {
			return w.rm.ListUserOrders(ctx, b.u1, readmodels.OrderFilter{})
		}, []uuid.UUID{b.o2, b.o1}, 2},
		{"user's own, the filter's user is ignored", func() (readmodels.List[readmodels.Order], error) {
			return w.rm.ListUserOrders(ctx, b.u2, readmodels.OrderFilter{UserID: b.u1})
		}, []uuid.UUID{b.o3}, 1},
		{"user's own by status", func() (readmodels.List[readmodels.Order], error) {
			return w.rm.ListUserOrders(ctx, b.u1, readmodels.OrderFilter{Status: order.StatusOrder})
		}, []uuid.UUID{b.o1}, 1},
		{"user's own, second page", func() (readmodels.List[readmodels.Order], error) {
			return w.rm.ListUserOrders(ctx, b.u1, readmodels.OrderFilter{Page: readmodels.Page{Number: 1, Size: 1}})
		}, []uuid.UUID{b.o1}, 2},
		{"all orders", func() (readmodels.List[readmodels.Order], error) {
			return w.rm.ListAllOrders(ctx, readmodels.OrderFilter{})
		}, []uuid.UUID{b.o3, b.o2, b.o1}, 3},
		{"all pending", func() (readmodels.List[readmodels.Order], error) {
			return w.rm.ListAllOrders(ctx, readmodels.OrderFilter{Status: order.StatusPending})
		}, []uuid.UUID{b.o3}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.list()
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if !reflect.DeepEqual(orderIDs(got), tt.want) || got.Total != tt.wantTotal {
				t.Fatalf("list = %v total %d, want %v total %d", orderIDs(got), got.Total, tt.want, tt.wantTotal)
			}
			for _, o := range got.Items {
				if len(o.Lines) == 0 {
					t.Fatalf("order %s listed without its lines", o.ID)
				}
			}
		})
	}

	all, err := w.rm.ListAllOrders(ctx, readmodels.OrderFilter{})
	if err != nil || len(all.Items[2].Lines) != 2 || all.Items[2].Lines[1].Line != 2 {
		t.Fatalf("ListAllOrders: o1 lines = %+v, %v; want lines 1 and 2 in order", all.Items[2].Lines, err)
	}
	if _, err := w.rm.ListAllOrders(ctx, readmodels.OrderFilter{Status: "SHIPPED"}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("ListAllOrders(status SHIPPED) error = %v, want Invalid", err)
	}
	if _, err := w.rm.ListUserOrders(ctx, uuid.Nil, readmodels.OrderFilter{}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("ListUserOrders(nil user) error = %v, want Invalid (never every user's orders)", err)
	}
}

func TestListSellerLines(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newOrderBook(w)
	ctx := context.Background()
	// A second confirmed order of u2 with s1's product, placed later: it comes first for s1.
	o4 := uuid.New()
	w.given(
		order.Placed{OrderID: o4, UserID: b.u2, Address: b.addr, Total: 30_000, At: at(30), Lines: []order.Line{
			{Number: 1, ProductID: b.p1, SellerID: b.s1, ProductName: "Red Shoe", UnitPrice: 30_000, Quantity: 1}}},
		order.Confirmed{OrderID: o4, UserID: b.u2, At: at(31)},
		order.LineRejected{LineEvent: b.lineEvent(1, 32), Reason: "no courier"},
	)
	type key struct {
		order uuid.UUID
		line  int
	}
	keys := func(l readmodels.List[readmodels.SellerLine]) []key {
		out := make([]key, len(l.Items))
		for i, s := range l.Items {
			out[i] = key{s.OrderID, s.Line}
		}
		return out
	}
	tests := []struct {
		name   string
		filter readmodels.LineFilter
		want   []key
	}{
		// o3 is pending and o2 was rejected: their lines are not the sellers' business.
		{"seller 1, newest first", readmodels.LineFilter{SellerID: b.s1}, []key{{o4, 1}, {b.o1, 1}}},
		{"seller 1 by status", readmodels.LineFilter{SellerID: b.s1, Status: order.LineReject}, []key{{b.o1, 1}}},
		{"seller 1 by delivery", readmodels.LineFilter{SellerID: b.s1, Delivery: order.DeliveryReady}, []key{{o4, 1}, {b.o1, 1}}},
		{"seller 2", readmodels.LineFilter{SellerID: b.s2}, []key{{b.o1, 2}}},
		{"every seller (supervisor)", readmodels.LineFilter{}, []key{{o4, 1}, {b.o1, 1}, {b.o1, 2}}},
		{"every seller, page 1 of size 2", readmodels.LineFilter{Page: readmodels.Page{Number: 1, Size: 2}}, []key{{b.o1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.rm.ListSellerLines(ctx, tt.filter)
			if err != nil {
				t.Fatalf("ListSellerLines(%+v): %v", tt.filter, err)
			}
			if !reflect.DeepEqual(keys(got), tt.want) {
				t.Fatalf("ListSellerLines(%+v) = %v, want %v", tt.filter, keys(got), tt.want)
			}
		})
	}

	got, err := w.rm.FindSellerLine(ctx, b.s1, b.o1, 1)
	if err != nil || got.Status != order.LineReject || got.RejectReason != "no courier" ||
		got.Address != readmodels.Address(b.addr) || got.OrderStatus != order.StatusOrder || got.Quantity != 2 {
		t.Fatalf("FindSellerLine(s1, o1, 1) = %+v, %v; want REJECT (no courier) with the address", got, err)
	}
	if _, err := w.rm.FindSellerLine(ctx, uuid.Nil, b.o1, 2); err != nil {
		t.Fatalf("FindSellerLine(any seller, o1, 2): %v", err)
	}
	for _, tt := range []struct {
		seller, order uuid.UUID
		line          int
	}{{b.s2, b.o1, 1}, {b.s1, b.o3, 1}, {b.s1, b.o1, 3}} {
		if _, err := w.rm.FindSellerLine(ctx, tt.seller, tt.order, tt.line); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("FindSellerLine(%s, %s, %d) error = %v, want NotFound", tt.seller, tt.order, tt.line, err)
		}
	}
	if _, err := w.rm.ListSellerLines(ctx, readmodels.LineFilter{Status: "DONE", Delivery: "LOST"}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("ListSellerLines(bad statuses) error = %v, want Invalid", err)
	}
}

package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/readmodels"
)

// OrderSettler waits for a placed order to be settled: ORDER (stock reserved) or REJECT;
// *commands.Outcomes implements it. AwaitSettled returns the status and the reject reason once the
// order is settled (at once if it is), or PENDING and an error when ctx ends first; placed is the
// log position of the order's order.placed.
type OrderSettler interface {
	AwaitSettled(ctx context.Context, orderID uuid.UUID, placed eventstore.Position) (order.Status, string, error)
}

// maxOrderWait bounds POST /orders?wait.
const maxOrderWait = 10 * time.Second

// OrderAddressView is the delivery address as it was when the order was placed.
type OrderAddressView struct {
	Receiver       string `json:"receiver"`
	Address1       string `json:"address1"`
	Address2       string `json:"address2"`
	Zipcode        string `json:"zipcode"`
	Phone          string `json:"phone"`
	ReceiveType    string `json:"receive_type" enum:"DOOR,SELF,OFFICE,POST,ETC"`
	ReceiveMessage string `json:"receive_message"`
}

// OrderLineView is one line of an order, with the product's name, seller and price at order time.
type OrderLineView struct {
	Line           int        `json:"line" doc:"1-based number of the line within the order" example:"1"`
	ProductID      uuid.UUID  `json:"product_id"`
	ProductName    string     `json:"product_name"`
	SellerID       uuid.UUID  `json:"seller_id"`
	UnitPrice      int64      `json:"unit_price" doc:"KRW"`
	Quantity       int        `json:"quantity"`
	Status         *string    `json:"status" nullable:"true" doc:"ORDER, ACCEPT, REJECT, CANCELING or CANCEL; null while the order is PENDING, and on a REJECT order"`
	DeliveryStatus *string    `json:"delivery_status" nullable:"true" doc:"READY, DELIVERY or COMPLETE; null like status"`
	RejectReason   string     `json:"reject_reason,omitempty" doc:"The seller's reason, on a REJECT line"`
	ReviewID       *uuid.UUID `json:"review_id" nullable:"true" doc:"The line's review, null without one"`
}

// OrderView is an order with its lines.
type OrderView struct {
	ID           uuid.UUID        `json:"id"`
	UserID       uuid.UUID        `json:"user_id"`
	Status       string           `json:"status" enum:"PENDING,ORDER,REJECT"`
	Total        int64            `json:"total" doc:"Σ unit_price × quantity, KRW"`
	RejectReason *string          `json:"reject_reason" nullable:"true" doc:"Why a REJECT order was rejected, such as OUT_OF_STOCK; null otherwise"`
	Address      OrderAddressView `json:"address"`
	Lines        []OrderLineView  `json:"lines"`
	PlacedAt     time.Time        `json:"placed_at"`
}

// SellerLineView is an order line as its seller handles it: with its order's status and the
// address to ship to.
type SellerLineView struct {
	OrderID uuid.UUID `json:"order_id"`
	OrderLineView
	UserID      uuid.UUID        `json:"user_id"`
	OrderStatus string           `json:"order_status" enum:"PENDING,ORDER,REJECT"`
	Address     OrderAddressView `json:"address"`
	PlacedAt    time.Time        `json:"placed_at"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func addressOf(a order.Address) OrderAddressView {
	return OrderAddressView{Receiver: a.Receiver, Address1: a.Address1, Address2: a.Address2, Zipcode: a.Zipcode,
		Phone: a.Phone, ReceiveType: a.ReceiveType, ReceiveMessage: a.ReceiveMessage}
}

func addressRead(a readmodels.Address) OrderAddressView {
	return OrderAddressView{Receiver: a.Receiver, Address1: a.Address1, Address2: a.Address2, Zipcode: a.Zipcode,
		Phone: a.Phone, ReceiveType: a.ReceiveType, ReceiveMessage: a.ReceiveMessage}
}

// lineView is a line of the order aggregate. The aggregate knows no reviews: every answer built
// from it is for a line that cannot have one yet (placed, settled, cancel requested, or handled by
// its seller before delivery).
func lineView(l order.Line) OrderLineView {
	return OrderLineView{Line: l.Number, ProductID: l.ProductID, ProductName: l.ProductName, SellerID: l.SellerID,
		UnitPrice: l.UnitPrice, Quantity: l.Quantity, Status: optional(string(l.Status)), DeliveryStatus: optional(string(l.Delivery))}
}

// orderView is the order aggregate's state: the answer to POST /orders, fresher than the read
// model.
func orderView(o order.Order) OrderView {
	lines := make([]OrderLineView, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = lineView(l)
	}
	return OrderView{ID: o.ID, UserID: o.UserID, Status: string(o.Status), Total: o.Total,
		RejectReason: optional(o.RejectReason), Address: addressOf(o.Address), Lines: lines, PlacedAt: o.PlacedAt.UTC()}
}

func lineRead(l readmodels.OrderLine) OrderLineView {
	return OrderLineView{Line: l.Line, ProductID: l.ProductID, ProductName: l.ProductName, SellerID: l.SellerID,
		UnitPrice: l.UnitPrice, Quantity: l.Quantity, Status: optional(string(l.Status)),
		DeliveryStatus: optional(string(l.DeliveryStatus)), RejectReason: l.RejectReason, ReviewID: l.ReviewID}
}

func orderRead(o readmodels.Order) OrderView {
	lines := make([]OrderLineView, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = lineRead(l)
	}
	return OrderView{ID: o.ID, UserID: o.UserID, Status: string(o.Status), Total: o.Total,
		RejectReason: optional(o.RejectReason), Address: addressRead(o.Address), Lines: lines, PlacedAt: o.PlacedAt}
}

func sellerLineRead(l readmodels.SellerLine) SellerLineView {
	return SellerLineView{OrderID: l.OrderID, OrderLineView: lineRead(l.OrderLine), UserID: l.UserID,
		OrderStatus: string(l.OrderStatus), Address: addressRead(l.Address), PlacedAt: l.PlacedAt}
}

// PlaceOrderLineBody is one line of POST /orders.
type PlaceOrderLineBody struct {
	ProductID uuid.UUID `json:"product_id" format:"uuid" doc:"A product on SELL (else 422)"`
	Quantity  int       `json:"quantity" minimum:"1" maximum:"100"`
}

// PlaceOrderBody is POST /orders. Prices, names and sellers come from the products.
type PlaceOrderBody struct {
	AddressID uuid.UUID            `json:"address_id" format:"uuid" doc:"One of the caller's addresses (another's or an unknown one is 404); the order keeps a copy"`
	Lines     []PlaceOrderLineBody `json:"lines" minItems:"1" maxItems:"50" doc:"1-50 lines, one per product"`
}

// Resolve refuses a product named on two lines, naming each repeat.
func (b *PlaceOrderBody) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	seen := make(map[uuid.UUID]bool, len(b.Lines))
	var errs []error
	for i, l := range b.Lines {
		if seen[l.ProductID] {
			errs = append(errs, &huma.ErrorDetail{Location: prefix.With(fmt.Sprintf("lines[%d].product_id", i)), Message: "must appear in one line only"})
		}
		seen[l.ProductID] = true
	}
	return errs
}

// PlaceOrderInput is POST /orders.
type PlaceOrderInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes a retry safe: the same key with the same body answers the first order again and places nothing; with another body it is 422, also after a failed attempt and for good. Scoped to the caller; the first answer is kept 24 h, and after that the same body still answers the same order, found by its key."`
	Wait           string `query:"wait" doc:"A duration up to 10s, such as 2s or 500ms: wait that long for the order to be ORDER or REJECT and answer 201 with it, or 202 when the wait runs out"`
	Body           PlaceOrderBody

	wait time.Duration
}

// Resolve parses wait.
func (in *PlaceOrderInput) Resolve(huma.Context) []error {
	if in.Wait == "" {
		return nil
	}
	d, err := time.ParseDuration(in.Wait)
	if err != nil || d <= 0 || d > maxOrderWait {
		return []error{&huma.ErrorDetail{Location: "query.wait", Message: "must be a duration from 1ms to 10s, such as 2s", Value: in.Wait}}
	}
	in.wait = d
	return nil
}

// OrderListInput is GET /orders.
type OrderListInput struct {
	PageQuery
	MinPositionQuery
	Status string `query:"status" enum:"PENDING,ORDER,REJECT" doc:"Only orders in this status"`
}

// AdminOrderListInput is GET /admin/orders.
type AdminOrderListInput struct {
	PageQuery
	MinPositionQuery
	Status string    `query:"status" enum:"PENDING,ORDER,REJECT" doc:"Only orders in this status"`
	UserID uuid.UUID `query:"user_id" format:"uuid" doc:"Only this user's orders"`
}

// OrderIDInput names an order in the path of a query.
type OrderIDInput struct {
	ID uuid.UUID `path:"id" format:"uuid" doc:"Order id"`
	MinPositionQuery
}

// OrderLineInput names a line of an order in the path of a command.
type OrderLineInput struct {
	ID   uuid.UUID `path:"id" format:"uuid" doc:"Order id"`
	Line int       `path:"line" minimum:"1" maximum:"50" doc:"Line number, 1-based"`
}

// SellerLineListInput is GET /seller/order-lines.
type SellerLineListInput struct {
	PageQuery
	MinPositionQuery
	Status         string    `query:"status" enum:"ORDER,ACCEPT,REJECT,CANCELING,CANCEL" doc:"Only lines in this status"`
	DeliveryStatus string    `query:"delivery_status" enum:"READY,DELIVERY,COMPLETE" doc:"Only lines in this delivery status"`
	SellerID       uuid.UUID `query:"seller_id" format:"uuid" doc:"SUPERVISOR only: this seller's lines (default every seller's); a SELLER always gets their own"`
}

// SellerLineInput names an order line in the path of a seller route.
type SellerLineInput struct {
	OrderID uuid.UUID `path:"order_id" format:"uuid" doc:"Order id"`
	Line    int       `path:"line" minimum:"1" maximum:"50" doc:"Line number, 1-based"`
}

// SellerLineQueryInput is GET /seller/order-lines/{order_id}/{line}.
type SellerLineQueryInput struct {
	SellerLineInput
	MinPositionQuery
}

// RejectLineBody is the optional body of the reject route.
type RejectLineBody struct {
	Reason string `json:"reason,omitempty" maxLength:"500" doc:"Why, up to 500 characters"`
}

// RejectLineInput is POST /seller/order-lines/{order_id}/{line}/reject.
type RejectLineInput struct {
	SellerLineInput
	Body *RejectLineBody `required:"false"`
}

func (s *Server) registerOrders(api huma.API) {
	user := roles(domain.RoleUser)
	tags := []string{"orders"}
	huma.Register(api, op(huma.Operation{
		OperationID: "place-order", Method: http.MethodPost, Path: "/orders", Tags: tags,
		Summary: "Place an order",
		Description: "Answers 202 with the order PENDING and its Location; stock is reserved for the whole order, or the order is REJECT (OUT_OF_STOCK). " +
			"With ?wait it waits for ORDER or REJECT and answers 201, or 202 when the wait runs out. " +
			"Every product must be SELL, else 422 and nothing is written. An address that is not the caller's is 404. " +
			"A SUPERVISOR has no orders of its own: 403 (4005).",
		DefaultStatus: http.StatusAccepted,
		Responses: map[string]*huma.Response{"201": {
			Description: "The order settled (ORDER or REJECT) within ?wait; Location and X-Event-Position as on 202",
			Content: map[string]*huma.MediaType{"application/json": {
				Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Envelope[OrderView]](), true, "PlaceOrderSettled"),
			}},
		}},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, ownAccount(domain.RoleUser)), s.placeOrder)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-my-orders", Method: http.MethodGet, Path: "/orders", Tags: tags,
		Summary: "The caller's orders", Description: "Newest first.", Errors: []int{http.StatusServiceUnavailable},
	}, user), s.listMyOrders)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-my-order", Method: http.MethodGet, Path: "/orders/{id}", Tags: tags,
		Summary: "One of the caller's orders", Description: "Another user's order is 404.",
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, user), s.getMyOrder)
	huma.Register(api, op(huma.Operation{
		OperationID: "cancel-order-line", Method: http.MethodPost, Path: "/orders/{id}/lines/{line}/cancel", Tags: tags,
		Summary:     "Ask to cancel a line",
		Description: "An ORDER or ACCEPT line whose delivery is READY becomes CANCELING until its seller confirms; otherwise 409. Another user's order is 404.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, user), s.cancelLine)

	supervisor := roles(domain.RoleSupervisor)
	huma.Register(api, op(huma.Operation{
		OperationID: "admin-list-orders", Method: http.MethodGet, Path: "/admin/orders", Tags: []string{"admin"},
		Summary: "Every user's orders", Description: "Newest first.", Errors: []int{http.StatusServiceUnavailable},
	}, supervisor), s.adminListOrders)
	huma.Register(api, op(huma.Operation{
		OperationID: "admin-get-order", Method: http.MethodGet, Path: "/admin/orders/{id}", Tags: []string{"admin"},
		Summary: "Any order", Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, supervisor), s.adminGetOrder)
}

func (s *Server) registerSellerLines(api huma.API) {
	seller := roles(domain.RoleSeller)
	tags := []string{"seller order lines"}
	huma.Register(api, op(huma.Operation{
		OperationID: "list-seller-lines", Method: http.MethodGet, Path: "/seller/order-lines", Tags: tags,
		Summary:     "Lines of the seller's products",
		Description: "Lines of confirmed orders, newest order first.", Errors: []int{http.StatusServiceUnavailable},
	}, seller), s.listSellerLines)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-seller-line", Method: http.MethodGet, Path: "/seller/order-lines/{order_id}/{line}", Tags: tags,
		Summary: "A line of the seller's product", Description: "Another seller's line is 404.",
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, seller), s.getSellerLine)
	transition := func(id, path, summary, desc string, handler func(context.Context, *SellerLineInput) (*Written[SellerLineView], error)) {
		huma.Register(api, op(huma.Operation{
			OperationID: id, Method: http.MethodPost, Path: "/seller/order-lines/{order_id}/{line}/" + path, Tags: tags,
			Summary: summary, Description: desc + " Another seller's line is 404; a line in another status 409, changing nothing.",
			Errors: []int{http.StatusNotFound, http.StatusConflict},
		}, seller), handler)
	}
	transition("accept-line", "accept", "Accept a line", "ORDER → ACCEPT.", s.acceptLine)
	huma.Register(api, op(huma.Operation{
		OperationID: "reject-line", Method: http.MethodPost, Path: "/seller/order-lines/{order_id}/{line}/reject", Tags: tags,
		Summary:     "Reject a line",
		Description: "ORDER → REJECT; its quantity goes back to stock. Another seller's line is 404; a line in another status 409, changing nothing.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, seller), s.rejectLine)
	transition("ship-line", "ship", "Ship a line", "An ACCEPT line's delivery READY → DELIVERY.", s.shipLine)
	transition("deliver-line", "deliver", "Mark a line delivered", "An ACCEPT line's delivery DELIVERY → COMPLETE.", s.deliverLine)
	transition("confirm-cancel-line", "confirm-cancel", "Confirm a line's cancel", "CANCELING → CANCEL; its quantity goes back to stock.", s.confirmCancel)
}

// placedOrder is what POST /orders keeps under an Idempotency-Key: the answer it gave (the order
// as placed, PENDING) and the position of its event, so that a repeat answers the same.
type placedOrder struct {
	Order    OrderView           `json:"order"`
	Position eventstore.Position `json:"position"`
}

func (s *Server) placeOrder(ctx context.Context, in *PlaceOrderInput) (*Written[OrderView], error) {
	a := actor(ctx)
	run := func(ctx context.Context) (placedOrder, error) {
		addr, err := s.auth.Address(ctx, a.ID, in.Body.AddressID)
		if err != nil {
			return placedOrder{}, err
		}
		cmd := commands.PlaceOrder{
			Address: order.Address{Receiver: addr.Receiver, Address1: addr.Address1, Address2: addr.Address2,
				Zipcode: addr.Zipcode, Phone: addr.Phone, ReceiveType: addr.ReceiveType, ReceiveMessage: addr.ReceiveMessage},
			Lines: make([]commands.PlaceOrderLine, len(in.Body.Lines)),
		}
		for i, l := range in.Body.Lines {
			cmd.Lines[i] = commands.PlaceOrderLine{ProductID: l.ProductID, Quantity: l.Quantity}
		}
		res, err := s.commands.PlaceOrder.Handle(ctx, cmd)
		if err != nil {
			return placedOrder{}, err
		}
		return placedOrder{Order: orderView(res.State), Position: res.Position}, nil
	}
	var placed placedOrder
	var err error
	if in.IdempotencyKey == "" {
		placed, err = run(command(ctx))
	} else {
		placed, err = s.placeOnce(command(ctx), a.ID, in, run)
	}
	if err != nil {
		return nil, err
	}
	id := placed.Order.ID
	location := "/api/v1/orders/" + id.String()
	if in.wait == 0 || s.orders == nil {
		return written(http.StatusAccepted, placed.Order, placed.Position, location), nil
	}
	wctx, cancel := context.WithTimeout(ctx, in.wait)
	defer cancel()
	_, _, err = s.orders.AwaitSettled(wctx, id, placed.Position)
	switch {
	case err != nil && wctx.Err() != nil:
		return written(http.StatusAccepted, placed.Order, placed.Position, location), nil
	case err != nil:
		return nil, fmt.Errorf("await order %s: %w", id, err)
	}
	// The answer is the order as its stream has it now; the X-Event-Position stays the command's
	// own: the settling events are the process manager's.
	settled, err := s.commands.Order(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read settled order %s: %w", id, err)
	}
	return written(http.StatusCreated, orderView(settled.State), placed.Position, location), nil
}

// placeOnce runs run once for the caller's Idempotency-Key and this body, and answers a repeat
// with the first result.
func (s *Server) placeOnce(ctx context.Context, account uuid.UUID, in *PlaceOrderInput, run func(context.Context) (placedOrder, error)) (placedOrder, error) {
	body, err := json.Marshal(in.Body)
	if err != nil {
		return placedOrder{}, fmt.Errorf("encode order body: %w", err)
	}
	hash := commands.RequestHash([]byte(http.MethodPost), []byte("/api/v1/orders"), body)
	out, _, err := s.idempotency.Do(ctx, account, in.IdempotencyKey, hash, func(ctx context.Context) ([]byte, error) {
		placed, err := run(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(placed)
	})
	if err != nil {
		return placedOrder{}, err
	}
	var placed placedOrder
	if err := json.Unmarshal(out, &placed); err != nil {
		return placedOrder{}, fmt.Errorf("decode idempotent order result: %w", err)
	}
	return placed, nil
}

func (s *Server) listMyOrders(ctx context.Context, in *OrderListInput) (*Response[[]OrderView], error) {
	if err := s.fresh(ctx, projectorOrders, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListUserOrders(ctx, actor(ctx).ID, readmodels.OrderFilter{Status: order.Status(in.Status), Page: pageOf(in.PageQuery)})
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, orderRead), nil
}

func (s *Server) getMyOrder(ctx context.Context, in *OrderIDInput) (*Response[OrderView], error) {
	if err := s.fresh(ctx, projectorOrders, in.MinPositionQuery); err != nil {
		return nil, err
	}
	o, err := s.reader.FindUserOrder(ctx, actor(ctx).ID, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(orderRead(o)), nil
}

func (s *Server) cancelLine(ctx context.Context, in *OrderLineInput) (*Written[OrderLineView], error) {
	res, err := s.commands.RequestCancel.Handle(command(ctx), commands.RequestCancel{OrderID: in.ID, Line: in.Line})
	if err != nil {
		return nil, err
	}
	l, _ := res.State.Line(in.Line)
	return written(http.StatusOK, lineView(l), res.Position, ""), nil
}

func (s *Server) adminListOrders(ctx context.Context, in *AdminOrderListInput) (*Response[[]OrderView], error) {
	if err := s.fresh(ctx, projectorOrders, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListAllOrders(ctx, readmodels.OrderFilter{UserID: in.UserID, Status: order.Status(in.Status), Page: pageOf(in.PageQuery)})
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, orderRead), nil
}

func (s *Server) adminGetOrder(ctx context.Context, in *OrderIDInput) (*Response[OrderView], error) {
	if err := s.fresh(ctx, projectorOrders, in.MinPositionQuery); err != nil {
		return nil, err
	}
	o, err := s.reader.FindOrder(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(orderRead(o)), nil
}

func (s *Server) listSellerLines(ctx context.Context, in *SellerLineListInput) (*Response[[]SellerLineView], error) {
	if err := s.fresh(ctx, projectorOrders, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListSellerLines(ctx, readmodels.LineFilter{SellerID: sellerScope(ctx, in.SellerID),
		Status: order.LineStatus(in.Status), Delivery: order.DeliveryStatus(in.DeliveryStatus), Page: pageOf(in.PageQuery)})
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, sellerLineRead), nil
}

func (s *Server) getSellerLine(ctx context.Context, in *SellerLineQueryInput) (*Response[SellerLineView], error) {
	if err := s.fresh(ctx, projectorOrders, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.FindSellerLine(ctx, sellerScope(ctx, uuid.Nil), in.OrderID, in.Line)
	if err != nil {
		return nil, err
	}
	return ok(sellerLineRead(l)), nil
}

// sellerLine is the answer to a seller's line command, from the order aggregate.
func sellerLine(res commands.Result[order.Order], n int, rejectReason string) *Written[SellerLineView] {
	o := res.State
	l, _ := o.Line(n)
	v := SellerLineView{OrderID: o.ID, OrderLineView: lineView(l), UserID: o.UserID, OrderStatus: string(o.Status),
		Address: addressOf(o.Address), PlacedAt: o.PlacedAt.UTC()}
	v.RejectReason = rejectReason
	return written(http.StatusOK, v, res.Position, "")
}

func (s *Server) acceptLine(ctx context.Context, in *SellerLineInput) (*Written[SellerLineView], error) {
	res, err := s.commands.AcceptLine.Handle(command(ctx), commands.AcceptLine{OrderID: in.OrderID, Line: in.Line})
	if err != nil {
		return nil, err
	}
	return sellerLine(res, in.Line, ""), nil
}

func (s *Server) rejectLine(ctx context.Context, in *RejectLineInput) (*Written[SellerLineView], error) {
	reason := ""
	if in.Body != nil {
		reason = in.Body.Reason
	}
	res, err := s.commands.RejectLine.Handle(command(ctx), commands.RejectLine{OrderID: in.OrderID, Line: in.Line, Reason: reason})
	if err != nil {
		return nil, err
	}
	return sellerLine(res, in.Line, strings.TrimSpace(reason)), nil
}

func (s *Server) shipLine(ctx context.Context, in *SellerLineInput) (*Written[SellerLineView], error) {
	res, err := s.commands.ShipLine.Handle(command(ctx), commands.ShipLine{OrderID: in.OrderID, Line: in.Line})
	if err != nil {
		return nil, err
	}
	return sellerLine(res, in.Line, ""), nil
}

func (s *Server) deliverLine(ctx context.Context, in *SellerLineInput) (*Written[SellerLineView], error) {
	res, err := s.commands.DeliverLine.Handle(command(ctx), commands.DeliverLine{OrderID: in.OrderID, Line: in.Line})
	if err != nil {
		return nil, err
	}
	return sellerLine(res, in.Line, ""), nil
}

func (s *Server) confirmCancel(ctx context.Context, in *SellerLineInput) (*Written[SellerLineView], error) {
	res, err := s.commands.ConfirmCancel.Handle(command(ctx), commands.ConfirmCancel{OrderID: in.OrderID, Line: in.Line})
	if err != nil {
		return nil, err
	}
	return sellerLine(res, in.Line, ""), nil
}

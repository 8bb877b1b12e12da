package readmodels

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
)

// Address is where an order goes, as it was when the order was placed.
type Address struct {
	Receiver       string `json:"receiver"`
	Address1       string `json:"address1"`
	Address2       string `json:"address2"`
	Zipcode        string `json:"zipcode"`
	Phone          string `json:"phone"`
	ReceiveType    string `json:"receive_type"`
	ReceiveMessage string `json:"receive_message"`
}

// Order is an order with its lines.
type Order struct {
	ID     uuid.UUID    `json:"id"`
	UserID uuid.UUID    `json:"user_id"`
	Status order.Status `json:"status"`
	// Total is the sum of unit price times quantity over the lines.
	Total int64 `json:"total"`
	// RejectReason says why a REJECT order was rejected, such as OUT_OF_STOCK; empty otherwise.
	RejectReason string      `json:"reject_reason"`
	Address      Address     `json:"address"`
	Lines        []OrderLine `json:"lines"`
	PlacedAt     time.Time   `json:"placed_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
}

// OrderLine is one line of an order. Status and DeliveryStatus are empty while the order is
// PENDING or after it was rejected, and ORDER and READY from its confirmation on.
type OrderLine struct {
	OrderID        uuid.UUID            `json:"order_id"`
	Line           int                  `json:"line"`
	UserID         uuid.UUID            `json:"user_id"`
	ProductID      uuid.UUID            `json:"product_id"`
	ProductName    string               `json:"product_name"`
	SellerID       uuid.UUID            `json:"seller_id"`
	UnitPrice      int64                `json:"unit_price"`
	Quantity       int                  `json:"quantity"`
	Status         order.LineStatus     `json:"status"`
	DeliveryStatus order.DeliveryStatus `json:"delivery_status"`
	// RejectReason is the seller's reason for a REJECT line; empty otherwise.
	RejectReason string `json:"reject_reason"`
	// ReviewID is the line's live review, nil without one.
	ReviewID  *uuid.UUID `json:"review_id"`
	PlacedAt  time.Time  `json:"placed_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// SellerLine is an order line as its seller handles it: with the address to ship it to and the
// status of its order.
type SellerLine struct {
	OrderLine
	OrderStatus order.Status `json:"order_status"`
	Address     Address      `json:"address"`
}

const orderColumns = `o.id, o.user_id, o.status, o.total, o.reject_reason, o.receiver, o.address1, o.address2,
	o.zipcode, o.phone, o.receive_type, o.receive_message, o.placed_at, o.updated_at`

func scanOrder(row pgx.Row) (Order, error) {
	var o Order
	a := &o.Address
	err := row.Scan(&o.ID, &o.UserID, &o.Status, &o.Total, &o.RejectReason, &a.Receiver, &a.Address1,
		&a.Address2, &a.Zipcode, &a.Phone, &a.ReceiveType, &a.ReceiveMessage, &o.PlacedAt, &o.UpdatedAt)
	o.PlacedAt, o.UpdatedAt = o.PlacedAt.UTC(), o.UpdatedAt.UTC()
	o.Lines = []OrderLine{}
	return o, err
}

const lineColumns = `l.order_id, l.line, l.user_id, l.product_id, l.product_name, l.seller_id, l.unit_price,
	l.quantity, l.status, l.delivery_status, l.reject_reason, l.review_id, l.placed_at, l.updated_at`

// lineDest returns the scan destinations of lineColumns in l.
func lineDest(l *OrderLine) []any {
	return []any{&l.OrderID, &l.Line, &l.UserID, &l.ProductID, &l.ProductName, &l.SellerID, &l.UnitPrice,
		&l.Quantity, &l.Status, &l.DeliveryStatus, &l.RejectReason, &l.ReviewID, &l.PlacedAt, &l.UpdatedAt}
}

func (l *OrderLine) utc() { l.PlacedAt, l.UpdatedAt = l.PlacedAt.UTC(), l.UpdatedAt.UTC() }

// FindOrder returns an order with its lines, whoever it belongs to (supervisors). Order.UserID
// is its owner: use FindUserOrder for a user's own view.
func (r *Reader) FindOrder(ctx context.Context, id uuid.UUID) (Order, error) {
	o, err := scanOrder(r.db.QueryRow(ctx, "SELECT "+orderColumns+" FROM readmodel.orders o WHERE o.id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, orderNotFound(id)
	}
	if err != nil {
		return Order{}, fmt.Errorf("find order %s: %w", id, err)
	}
	orders := []Order{o}
	if err := r.loadLines(ctx, orders); err != nil {
		return Order{}, err
	}
	return orders[0], nil
}

// FindUserOrder returns userID's order id; another user's order is NotFound, so that its
// existence does not leak.
func (r *Reader) FindUserOrder(ctx context.Context, userID, id uuid.UUID) (Order, error) {
	o, err := r.FindOrder(ctx, id)
	if err != nil {
		return Order{}, err
	}
	if o.UserID != userID {
		return Order{}, orderNotFound(id)
	}
	return o, nil
}

func orderNotFound(id uuid.UUID) error {
	return domain.NotFoundf(order.CodeNotFound, "order %s not found", id)
}

// loadLines fills the lines of orders with one query.
func (r *Reader) loadLines(ctx context.Context, orders []Order) error {
	if len(orders) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(orders))
	at := make(map[uuid.UUID]int, len(orders))
	for i, o := range orders {
		ids[i], at[o.ID] = o.ID, i
	}
	rows, err := r.db.Query(ctx, "SELECT "+lineColumns+" FROM readmodel.order_lines l WHERE l.order_id = ANY($1) ORDER BY l.order_id, l.line", ids)
	if err != nil {
		return fmt.Errorf("load order lines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l OrderLine
		if err := rows.Scan(lineDest(&l)...); err != nil {
			return fmt.Errorf("load order lines: %w", err)
		}
		l.utc()
		o := &orders[at[l.OrderID]]
		o.Lines = append(o.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load order lines: %w", err)
	}
	return nil
}

// OrderFilter selects orders, newest first.
type OrderFilter struct {
	// UserID keeps one user's orders; uuid.Nil keeps every user's (supervisors only).
	UserID uuid.UUID
	// Status keeps the orders in that status (PENDING, ORDER, REJECT); empty keeps all.
	Status order.Status
	Page   Page
}

// ListUserOrders lists userID's orders with their lines, newest first; f.UserID is ignored.
func (r *Reader) ListUserOrders(ctx context.Context, userID uuid.UUID, f OrderFilter) (List[Order], error) {
	if userID == uuid.Nil {
		return List[Order]{}, domain.Fields{"user_id": "must be a non-nil id"}.Err()
	}
	f.UserID = userID
	return r.ListAllOrders(ctx, f)
}

// ListAllOrders lists the orders that match f with their lines, newest first, for supervisors.
func (r *Reader) ListAllOrders(ctx context.Context, f OrderFilter) (List[Order], error) {
	q := &query{}
	if f.UserID != uuid.Nil {
		q.and("o.user_id = " + q.arg(f.UserID))
	}
	if f.Status != "" {
		switch f.Status {
		case order.StatusPending, order.StatusOrder, order.StatusReject:
		default:
			return List[Order]{}, domain.Fields{"status": "must be one of PENDING, ORDER, REJECT"}.Err()
		}
		q.and("o.status = " + q.arg(string(f.Status)))
	}
	out, err := list(ctx, r.db, "orders", q, "readmodel.orders o", orderColumns, "o.placed_at DESC, o.id DESC", f.Page, scanOrder)
	if err != nil {
		return out, err
	}
	if err := r.loadLines(ctx, out.Items); err != nil {
		return out, err
	}
	return out, nil
}

// LineFilter selects order lines for sellers, newest order first. Lines of orders that were never
// confirmed (PENDING or REJECT) are not listed.
type LineFilter struct {
	// SellerID keeps the lines of one seller's products; uuid.Nil keeps every seller's (supervisors).
	SellerID uuid.UUID
	// Status keeps the lines in that status (ORDER, ACCEPT, REJECT, CANCELING, CANCEL); empty keeps all.
	Status order.LineStatus
	// Delivery keeps the lines in that delivery status (READY, DELIVERY, COMPLETE); empty keeps all.
	Delivery order.DeliveryStatus
	Page     Page
}

const sellerLineFrom = `readmodel.order_lines l JOIN readmodel.orders o ON o.id = l.order_id`

const sellerLineColumns = lineColumns + `, o.status, o.receiver, o.address1, o.address2, o.zipcode, o.phone,
	o.receive_type, o.receive_message`

func scanSellerLine(row pgx.Row) (SellerLine, error) {
	var s SellerLine
	a := &s.Address
	dest := append(lineDest(&s.OrderLine), &s.OrderStatus, &a.Receiver, &a.Address1, &a.Address2, &a.Zipcode,
		&a.Phone, &a.ReceiveType, &a.ReceiveMessage)
	err := row.Scan(dest...)
	s.utc()
	return s, err
}

// ListSellerLines lists the order lines of a seller's products (or every seller's), newest order
// first, then by order and line number.
func (r *Reader) ListSellerLines(ctx context.Context, f LineFilter) (List[SellerLine], error) {
	q := &query{}
	q.and("l.status <> ''")
	if f.SellerID != uuid.Nil {
		q.and("l.seller_id = " + q.arg(f.SellerID))
	}
	fields := make(domain.Fields)
	if f.Status != "" {
		switch f.Status {
		case order.LineOrder, order.LineAccept, order.LineReject, order.LineCanceling, order.LineCancel:
			q.and("l.status = " + q.arg(string(f.Status)))
		default:
			fields["status"] = "must be one of ORDER, ACCEPT, REJECT, CANCELING, CANCEL"
		}
	}
	if f.Delivery != "" {
		switch f.Delivery {
		case order.DeliveryReady, order.DeliveryShipping, order.DeliveryComplete:
			q.and("l.delivery_status = " + q.arg(string(f.Delivery)))
		default:
			fields["delivery_status"] = "must be one of READY, DELIVERY, COMPLETE"
		}
	}
	if err := fields.Err(); err != nil {
		return List[SellerLine]{}, err
	}
	return list(ctx, r.db, "seller order lines", q, sellerLineFrom, sellerLineColumns,
		"l.placed_at DESC, l.order_id DESC, l.line", f.Page, scanSellerLine)
}

// FindSellerLine returns line n of order orderID as sellerID handles it; a line of another
// seller's product (for a non-nil sellerID) or of an unconfirmed order is NotFound.
func (r *Reader) FindSellerLine(ctx context.Context, sellerID, orderID uuid.UUID, n int) (SellerLine, error) {
	s, err := scanSellerLine(r.db.QueryRow(ctx, "SELECT "+sellerLineColumns+" FROM "+sellerLineFrom+
		" WHERE l.order_id = $1 AND l.line = $2 AND l.status <> ''", orderID, n))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sellerID != uuid.Nil && s.SellerID != sellerID) {
		return SellerLine{}, domain.NotFoundf(order.CodeLineNotFound, "order %s has no line %d for this seller", orderID, n)
	}
	if err != nil {
		return SellerLine{}, fmt.Errorf("find line %d of order %s: %w", n, orderID, err)
	}
	return s, nil
}

package projections

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Orders builds the orders read model: every order with its status, total, reject reason, address
// and times, and its lines with the product, seller, price and quantity they were ordered with,
// their status, delivery status and the id of their review. The same line rows serve the users'
// order views and the sellers' order-line lists.
//
// A line's status and delivery status are empty strings while its order is PENDING (and stay so
// when the order is rejected): they start at ORDER and READY when the order is confirmed. Sellers
// see only lines with a status.
type Orders struct{}

// NewOrders returns the orders projector.
func NewOrders() *Orders { return &Orders{} }

// Name returns "orders.v1".
func (*Orders) Name() string { return "orders.v1" }

// Tables returns the orders' tables.
func (*Orders) Tables() []string { return []string{"orders", "order_lines"} }

const ordersTables = `
CREATE TABLE IF NOT EXISTS orders (
	id              uuid PRIMARY KEY,
	user_id         uuid NOT NULL,
	status          text NOT NULL,
	total           bigint NOT NULL,
	reject_reason   text NOT NULL DEFAULT '',
	receiver        text NOT NULL,
	address1        text NOT NULL,
	address2        text NOT NULL,
	zipcode         text NOT NULL,
	phone           text NOT NULL,
	receive_type    text NOT NULL,
	receive_message text NOT NULL,
	placed_at       timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_user_idx ON orders (user_id, placed_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS orders_placed_idx ON orders (placed_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS order_lines (
	order_id        uuid NOT NULL,
	line            integer NOT NULL,
	user_id         uuid NOT NULL,
	product_id      uuid NOT NULL,
	product_name    text NOT NULL,
	seller_id       uuid NOT NULL,
	unit_price      bigint NOT NULL,
	quantity        integer NOT NULL,
	status          text NOT NULL DEFAULT '',
	delivery_status text NOT NULL DEFAULT '',
	reject_reason   text NOT NULL DEFAULT '',
	review_id       uuid,
	placed_at       timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	PRIMARY KEY (order_id, line)
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS order_lines_seller_idx ON order_lines (seller_id, placed_at DESC, order_id DESC, line) WHERE status <> '';
CREATE INDEX IF NOT EXISTS order_lines_seller_status_idx ON order_lines (seller_id, status, placed_at DESC, order_id DESC, line) WHERE status <> '';
CREATE INDEX IF NOT EXISTS order_lines_placed_idx ON order_lines (placed_at DESC, order_id DESC, line) WHERE status <> '';
CREATE INDEX IF NOT EXISTS order_lines_review_idx ON order_lines (review_id) WHERE review_id IS NOT NULL;
`

// Setup creates the orders' tables and indexes.
func (*Orders) Setup(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, ordersTables); err != nil {
		return fmt.Errorf("create order tables: %w", err)
	}
	return nil
}

// DeferredIndexes names the indexes only queries use, which a rebuild builds after its replay.
// order_lines_review_idx stays: deleting a review finds its line by it.
func (*Orders) DeferredIndexes() []string {
	return []string{"orders_user_idx", "orders_placed_idx", "order_lines_seller_idx",
		"order_lines_seller_status_idx", "order_lines_placed_idx"}
}

// Apply applies one order or review event.
func (o *Orders) Apply(ctx context.Context, tx pgx.Tx, rec eventstore.Record) error {
	return execOne(ctx, tx, o.plan, rec)
}

// The orders' statements, one per event.
const (
	sqlOrderPlaced = `WITH o AS (
	INSERT INTO orders (id, user_id, status, total, receiver, address1, address2, zipcode, phone,
		receive_type, receive_message, placed_at, updated_at)
	VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7, $8, $9, $10, $11, $11))
INSERT INTO order_lines (order_id, line, user_id, product_id, product_name, seller_id, unit_price,
	quantity, placed_at, updated_at)
SELECT $1, l.line, $2, l.product_id, l.product_name, l.seller_id, l.unit_price, l.quantity, $11, $11
FROM unnest($12::integer[], $13::uuid[], $14::text[], $15::uuid[], $16::bigint[], $17::integer[])
	AS l (line, product_id, product_name, seller_id, unit_price, quantity)`
	sqlOrderConfirmed = `WITH o AS (UPDATE orders SET status = 'ORDER', updated_at = $2 WHERE id = $1)
UPDATE order_lines SET status = 'ORDER', delivery_status = 'READY', updated_at = $2 WHERE order_id = $1`
	sqlOrderRejected  = `UPDATE orders SET status = 'REJECT', reject_reason = $2, updated_at = $3 WHERE id = $1`
	sqlLineStatus     = `UPDATE order_lines SET status = $3, updated_at = $4 WHERE order_id = $1 AND line = $2`
	sqlLineRejected   = `UPDATE order_lines SET status = 'REJECT', reject_reason = $3, updated_at = $4 WHERE order_id = $1 AND line = $2`
	sqlLineDelivery   = `UPDATE order_lines SET delivery_status = $3, updated_at = $4 WHERE order_id = $1 AND line = $2`
	sqlLineReviewed   = `UPDATE order_lines SET review_id = $3 WHERE order_id = $1 AND line = $2`
	sqlLineUnreviewed = `UPDATE order_lines SET review_id = NULL WHERE review_id = $1`
)

func (o *Orders) plan(rec eventstore.Record) (statement, bool, error) {
	switch {
	case strings.HasPrefix(rec.Type, "order."):
		return o.planOrder(rec)
	case strings.HasPrefix(rec.Type, "review."):
		return o.planReview(rec)
	}
	return statement{}, false, nil
}

func (*Orders) planOrder(rec eventstore.Record) (statement, bool, error) {
	e, err := order.Decode(rec.Type, rec.Data)
	if err != nil {
		return ignoreUnknown(err)
	}
	line := func(l order.LineEvent, sql string, value string) (statement, bool, error) {
		return statement{sql, []any{l.OrderID, l.Line, value, l.At}}, true, nil
	}
	switch e := e.(type) {
	case order.Placed:
		n := len(e.Lines)
		numbers, products, names, sellers := make([]int32, n), make([][16]byte, n), make([]string, n), make([][16]byte, n)
		prices, quantities := make([]int64, n), make([]int32, n)
		for i, l := range e.Lines {
			numbers[i], products[i], names[i], sellers[i] = int32(l.Number), l.ProductID, l.ProductName, l.SellerID
			prices[i], quantities[i] = l.UnitPrice, int32(l.Quantity)
		}
		a := e.Address
		return statement{sqlOrderPlaced, []any{e.OrderID, e.UserID, e.Total, a.Receiver, a.Address1, a.Address2,
			a.Zipcode, a.Phone, a.ReceiveType, a.ReceiveMessage, e.At,
			numbers, products, names, sellers, prices, quantities}}, true, nil
	case order.Confirmed:
		return statement{sqlOrderConfirmed, []any{e.OrderID, e.At}}, true, nil
	case order.Rejected:
		return statement{sqlOrderRejected, []any{e.OrderID, e.Reason, e.At}}, true, nil
	case order.LineAccepted:
		return line(e.LineEvent, sqlLineStatus, string(order.LineAccept))
	case order.LineRejected:
		return line(e.LineEvent, sqlLineRejected, e.Reason)
	case order.LineCancelRequested:
		return line(e.LineEvent, sqlLineStatus, string(order.LineCanceling))
	case order.LineCancelled:
		return line(e.LineEvent, sqlLineStatus, string(order.LineCancel))
	case order.LineShipped:
		return line(e.LineEvent, sqlLineDelivery, string(order.DeliveryShipping))
	case order.LineDelivered:
		return line(e.LineEvent, sqlLineDelivery, string(order.DeliveryComplete))
	}
	return statement{}, false, nil
}

func (*Orders) planReview(rec eventstore.Record) (statement, bool, error) {
	e, err := review.Decode(rec.Type, rec.Data)
	if err != nil {
		return ignoreUnknown(err)
	}
	switch e := e.(type) {
	case review.Written:
		return statement{sqlLineReviewed, []any{e.OrderID, e.Line, e.ReviewID}}, true, nil
	case review.Deleted:
		return statement{sqlLineUnreviewed, []any{e.ReviewID}}, true, nil
	}
	return statement{}, false, nil
}

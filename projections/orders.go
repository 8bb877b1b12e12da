package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

// Apply applies consecutive order and review events. Each order they touch is folded with the
// domain's order.Evolve, from its rows when it was placed before these events (read in one
// statement), and written once: inserted when placed in the batch, else its rows the batch
// changed updated, with their final state.
// Columns the domain's state does not keep (times, a line's reject reason, its review) are taken
// from the events. A single event is a batch of one.
func (o *Orders) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	b, err := o.Plan(recs)
	if err != nil {
		return err
	}
	return b.Write(ctx, tx)
}

// Plan decodes the order and review events of recs. The plan points into recs, which must not
// change until it is written.
func (*Orders) Plan(recs []eventstore.Record) (Plan, error) {
	b := &ordersBatch{folds: make(map[uuid.UUID]*orderFold), reviews: make(map[uuid.UUID]*lineRow),
		changes: make([]change, 0, len(recs))}
	if len(recs) > 0 {
		b.head = &recs[0]
	}
	for i := range recs {
		if err := b.decode(&recs[i]); err != nil {
			return nil, &EventError{Record: recs[i], Err: err}
		}
	}
	return b, nil
}

// Write reads the orders the batch changes but did not place, folds the batch's events into them
// and writes their rows.
func (b *ordersBatch) Write(ctx context.Context, tx pgx.Tx) error {
	if err := b.load(ctx, tx); err != nil {
		return &EventError{Record: *b.head, Err: err}
	}
	b.evolve()
	return sendPlanned(ctx, tx, b.statements())
}

// evolve applies the batch's changes, in log order, to the orders they are about.
func (b *ordersBatch) evolve() {
	for i := range b.changes {
		b.apply(&b.changes[i])
	}
}

// lineRow is the columns of an order line besides the domain's order.Line.
type lineRow struct {
	reason    string
	review    pgtype.UUID
	updatedAt time.Time
	dirty     bool // changed by the batch
}

// orderFold is one order of a batch: its state and its rows' other columns.
type orderFold struct {
	first     *eventstore.Record // the first record about it, named when its write fails
	state     order.Order
	updatedAt time.Time
	lines     []*lineRow // by line number - 1
	loaded    bool       // its rows were read (it was placed before the batch)
	placed    bool       // placed in the batch
	dirty     bool       // its order row changed in the batch
}

// change is one event of a batch about an order, in log order.
type change struct {
	rec    *eventstore.Record
	order  uuid.UUID
	event  order.Event   // an order event, or nil
	review *review.Event // a review event, or nil
}

// ordersBatch is the plan of one Apply.
type ordersBatch struct {
	head       *eventstore.Record // the batch's first record, named when reading its orders fails
	folds      map[uuid.UUID]*orderFold
	ids        []uuid.UUID // orders in the order of their first event
	changes    []change
	reviews    map[uuid.UUID]*lineRow // the line each known review is on
	unreviewed []uuid.UUID            // reviews deleted from lines the batch did not read
	unrevRec   *eventstore.Record
}

func (b *ordersBatch) fold(id uuid.UUID, rec *eventstore.Record) *orderFold {
	f, ok := b.folds[id]
	if !ok {
		f = &orderFold{first: rec}
		b.folds[id] = f
		b.ids = append(b.ids, id)
	}
	return f
}

// decode reads one record into the batch's changes.
func (b *ordersBatch) decode(rec *eventstore.Record) error {
	switch {
	case strings.HasPrefix(rec.Type, "order."):
		e, err := order.Decode(rec.Type, rec.Data)
		if err != nil {
			_, _, err = ignoreUnknown(err)
			return err
		}
		id, _ := about(e)
		if id == uuid.Nil {
			return nil
		}
		f := b.fold(id, rec)
		if _, ok := e.(order.Placed); ok {
			if f.placed {
				return fmt.Errorf("order %s placed twice", id)
			}
			f.placed = true
		}
		b.changes = append(b.changes, change{rec: rec, order: id, event: e})
	case strings.HasPrefix(rec.Type, "review."):
		e, err := review.Decode(rec.Type, rec.Data)
		if err != nil {
			_, _, err = ignoreUnknown(err)
			return err
		}
		c := change{rec: rec, review: &e}
		if w, ok := e.(review.Written); ok {
			c.order = w.OrderID
			b.fold(w.OrderID, rec)
		}
		b.changes = append(b.changes, c)
	}
	return nil
}

// sqlOrdersLoad reads the orders a batch changes that were placed before it. Both tables are
// filtered by the ids: with the join alone, the generic plan a prepared statement settles on (a
// rebuild's tables have no statistics) scans every order line.
const sqlOrdersLoad = `SELECT o.id, o.user_id, o.status, o.total, o.reject_reason, o.receiver, o.address1, o.address2,
	o.zipcode, o.phone, o.receive_type, o.receive_message, o.placed_at, o.updated_at,
	l.line, l.product_id, l.product_name, l.seller_id, l.unit_price, l.quantity, l.status, l.delivery_status,
	l.reject_reason, l.review_id, l.updated_at
FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.id = ANY($1) AND l.order_id = ANY($1)
ORDER BY o.id, l.line`

// load reads the rows of the orders the batch changes but does not place.
func (b *ordersBatch) load(ctx context.Context, tx pgx.Tx) error {
	var ids [][16]byte
	for _, id := range b.ids {
		if !b.folds[id].placed {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, sqlOrdersLoad, ids)
	if err != nil {
		return fmt.Errorf("read %d orders: %w", len(ids), err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			o         order.Order
			updatedAt time.Time
			l         order.Line
			status    string
			lstatus   string
			delivery  string
			extra     lineRow
			line      int32
			quantity  int32
		)
		a := &o.Address
		if err := rows.Scan(&o.ID, &o.UserID, &status, &o.Total, &o.RejectReason, &a.Receiver, &a.Address1, &a.Address2,
			&a.Zipcode, &a.Phone, &a.ReceiveType, &a.ReceiveMessage, &o.PlacedAt, &updatedAt,
			&line, &l.ProductID, &l.ProductName, &l.SellerID, &l.UnitPrice, &quantity, &lstatus, &delivery,
			&extra.reason, &extra.review, &extra.updatedAt); err != nil {
			return fmt.Errorf("read orders: %w", err)
		}
		f := b.folds[o.ID]
		if !f.loaded {
			o.Status = order.Status(status)
			f.state, f.updatedAt, f.loaded = o, updatedAt, true
		}
		l.Number, l.Quantity = int(line), int(quantity)
		l.Status, l.Delivery = order.LineStatus(lstatus), order.DeliveryStatus(delivery)
		f.state.Lines = append(f.state.Lines, l)
		row := extra
		f.lines = append(f.lines, &row)
		if row.review.Valid {
			b.reviews[row.review.Bytes] = &row
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read orders: %w", err)
	}
	return nil
}

// apply folds one change into its order.
func (b *ordersBatch) apply(c *change) {
	if c.review != nil {
		switch e := (*c.review).(type) {
		case review.Written:
			f := b.folds[e.OrderID]
			if e.Line >= 1 && e.Line <= len(f.lines) {
				f.lines[e.Line-1].review = pgtype.UUID{Bytes: e.ReviewID, Valid: true}
				f.lines[e.Line-1].dirty = true
				b.reviews[e.ReviewID] = f.lines[e.Line-1]
			}
		case review.Deleted:
			if l, ok := b.reviews[e.ReviewID]; ok {
				if l.review.Bytes == e.ReviewID {
					l.review, l.dirty = pgtype.UUID{}, true
				}
				delete(b.reviews, e.ReviewID)
				return
			}
			b.unreviewed = append(b.unreviewed, e.ReviewID)
			if b.unrevRec == nil {
				b.unrevRec = c.rec
			}
		}
		return
	}
	f := b.folds[c.order]
	prev := f.state
	f.state = order.Evolve(f.state, c.event)
	_, at := about(c.event)
	if _, placed := c.event.(order.Placed); placed {
		f.lines = make([]*lineRow, len(f.state.Lines))
		for i := range f.lines {
			f.lines[i] = &lineRow{updatedAt: at}
		}
	}
	if f.state.Status != prev.Status || f.state.RejectReason != prev.RejectReason || !prev.Exists() {
		f.updatedAt, f.dirty = at, true
	}
	for i, l := range f.state.Lines {
		if i < len(prev.Lines) && l == prev.Lines[i] || i >= len(f.lines) {
			continue
		}
		f.lines[i].updatedAt, f.lines[i].dirty = at, true
		if e, ok := c.event.(order.LineRejected); ok && e.Line == l.Number {
			f.lines[i].reason = e.Reason
		}
	}
}

// about returns the order an order event is about and when it happened.
func about(e order.Event) (uuid.UUID, time.Time) {
	switch e := e.(type) {
	case order.Placed:
		return e.OrderID, e.At
	case order.Confirmed:
		return e.OrderID, e.At
	case order.Rejected:
		return e.OrderID, e.At
	case order.LineAccepted:
		return e.OrderID, e.At
	case order.LineRejected:
		return e.OrderID, e.At
	case order.LineCancelRequested:
		return e.OrderID, e.At
	case order.LineCancelled:
		return e.OrderID, e.At
	case order.LineShipped:
		return e.OrderID, e.At
	case order.LineDelivered:
		return e.OrderID, e.At
	}
	return uuid.Nil, time.Time{}
}

// The batch's statements: the orders it placed and their lines inserted, the orders it read and
// their lines updated, each with their final state; then the reviews deleted from lines it did
// not read. An order placed again fails its insert.
const (
	sqlOrdersInsert = `INSERT INTO orders (id, user_id, status, total, reject_reason, receiver, address1, address2,
	zipcode, phone, receive_type, receive_message, placed_at, updated_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[])`
	sqlLinesInsert = `INSERT INTO order_lines (order_id, line, user_id, product_id, product_name, seller_id, unit_price,
	quantity, status, delivery_status, reject_reason, review_id, placed_at, updated_at)
SELECT * FROM unnest($1::uuid[], $2::integer[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::bigint[],
	$8::integer[], $9::text[], $10::text[], $11::text[], $12::uuid[], $13::timestamptz[], $14::timestamptz[])`
	sqlOrdersUpdate = `UPDATE orders o SET status = v.status, reject_reason = v.reject_reason, updated_at = v.updated_at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS v (id, status, reject_reason, updated_at)
WHERE o.id = v.id`
	sqlLinesUpdate = `UPDATE order_lines l SET status = v.status, delivery_status = v.delivery_status,
	reject_reason = v.reject_reason, review_id = v.review_id, updated_at = v.updated_at
FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::timestamptz[])
	AS v (order_id, line, status, delivery_status, reject_reason, review_id, updated_at)
WHERE l.order_id = v.order_id AND l.line = v.line`
	sqlLinesUnreviewed = `UPDATE order_lines SET review_id = NULL WHERE review_id = ANY($1)`
)

// orderColumns are the columns of the orders (and their lines) one statement writes.
type orderColumns struct {
	first               *eventstore.Record
	oID, oUser, lOrder  [][16]byte
	oStatus, oReason    []string
	oTotal              []int64
	addr                [7][]string
	oPlaced, oUpdated   []time.Time
	lLine, lQty         []int32
	lUser, lProd, lSell [][16]byte
	lName, lStatus      []string
	lDelivery, lReason  []string
	lPrice              []int64
	lReview             []pgtype.UUID
	lPlaced, lUpdated   []time.Time
}

// add adds the rows of f: all of them, or only those the batch changed.
func (c *orderColumns) add(f *orderFold, changed bool) {
	o := f.state
	if c.first == nil {
		c.first = f.first
	}
	for i, l := range o.Lines {
		x := f.lines[i]
		if changed && !x.dirty {
			continue
		}
		c.lOrder, c.lLine, c.lUser = append(c.lOrder, o.ID), append(c.lLine, int32(l.Number)), append(c.lUser, o.UserID)
		c.lProd, c.lName, c.lSell = append(c.lProd, l.ProductID), append(c.lName, l.ProductName), append(c.lSell, l.SellerID)
		c.lPrice, c.lQty = append(c.lPrice, l.UnitPrice), append(c.lQty, int32(l.Quantity))
		c.lStatus, c.lDelivery = append(c.lStatus, string(l.Status)), append(c.lDelivery, string(l.Delivery))
		c.lReason, c.lReview = append(c.lReason, x.reason), append(c.lReview, x.review)
		c.lPlaced, c.lUpdated = append(c.lPlaced, o.PlacedAt), append(c.lUpdated, x.updatedAt)
	}
	if changed && !f.dirty {
		return
	}
	a := o.Address
	c.oID, c.oUser = append(c.oID, o.ID), append(c.oUser, o.UserID)
	c.oStatus, c.oTotal, c.oReason = append(c.oStatus, string(o.Status)), append(c.oTotal, o.Total), append(c.oReason, o.RejectReason)
	for i, v := range []string{a.Receiver, a.Address1, a.Address2, a.Zipcode, a.Phone, a.ReceiveType, a.ReceiveMessage} {
		c.addr[i] = append(c.addr[i], v)
	}
	c.oPlaced, c.oUpdated = append(c.oPlaced, o.PlacedAt), append(c.oUpdated, f.updatedAt)
}

// reserve makes room for the rows of n orders with lines lines in all.
func (c *orderColumns) reserve(n, lines int) {
	c.oID, c.oUser, c.oStatus, c.oReason = make([][16]byte, 0, n), make([][16]byte, 0, n), make([]string, 0, n), make([]string, 0, n)
	c.oTotal, c.oPlaced, c.oUpdated = make([]int64, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
	for i := range c.addr {
		c.addr[i] = make([]string, 0, n)
	}
	c.lOrder, c.lUser, c.lProd, c.lSell = make([][16]byte, 0, lines), make([][16]byte, 0, lines), make([][16]byte, 0, lines), make([][16]byte, 0, lines)
	c.lLine, c.lQty, c.lPrice = make([]int32, 0, lines), make([]int32, 0, lines), make([]int64, 0, lines)
	c.lName, c.lStatus, c.lDelivery, c.lReason = make([]string, 0, lines), make([]string, 0, lines), make([]string, 0, lines), make([]string, 0, lines)
	c.lReview, c.lPlaced, c.lUpdated = make([]pgtype.UUID, 0, lines), make([]time.Time, 0, lines), make([]time.Time, 0, lines)
}

func (b *ordersBatch) statements() []planned {
	var ins, upd orderColumns
	var placed, lines int
	for _, f := range b.folds {
		if f.placed && f.state.Exists() {
			placed, lines = placed+1, lines+len(f.state.Lines)
		}
	}
	ins.reserve(placed, lines)
	for _, id := range b.ids {
		f := b.folds[id]
		switch {
		case !f.state.Exists():
			// events of an order never placed: nothing to show
		case f.placed:
			ins.add(f, false)
		default:
			upd.add(f, true)
		}
	}
	var out []planned
	if c := ins; c.first != nil {
		out = append(out,
			planned{statement{sqlOrdersInsert, []any{c.oID, c.oUser, c.oStatus, c.oTotal, c.oReason,
				c.addr[0], c.addr[1], c.addr[2], c.addr[3], c.addr[4], c.addr[5], c.addr[6], c.oPlaced, c.oUpdated}}, *c.first},
			planned{statement{sqlLinesInsert, []any{c.lOrder, c.lLine, c.lUser, c.lProd, c.lName, c.lSell, c.lPrice, c.lQty,
				c.lStatus, c.lDelivery, c.lReason, c.lReview, c.lPlaced, c.lUpdated}}, *c.first})
	}
	if c := upd; len(c.oID) > 0 {
		out = append(out, planned{statement{sqlOrdersUpdate, []any{c.oID, c.oStatus, c.oReason, c.oUpdated}}, *c.first})
	}
	if c := upd; len(c.lOrder) > 0 {
		out = append(out, planned{statement{sqlLinesUpdate, []any{c.lOrder, c.lLine, c.lStatus, c.lDelivery, c.lReason,
			c.lReview, c.lUpdated}}, *c.first})
	}
	if len(b.unreviewed) > 0 {
		out = append(out, planned{statement{sqlLinesUnreviewed, []any{pgUUIDs(b.unreviewed)}}, *b.unrevRec})
	}
	return out
}

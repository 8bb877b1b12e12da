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

// An orders batch folds the order events of many records into one row per order and per line
// before it writes: an order placed in the batch is inserted once, with its lines, in the state
// its later events in the batch left it; an order that existed is updated once, and each of its
// lines once. An order's life (placed, confirmed, then accepted, shipped and delivered line by
// line) is a handful of events close together in the log, so a rebuild mostly inserts final rows.
//
// The result is the one Apply gives event by event, because the statements are sent in an order
// that commutes with it: the inserts of new orders and the updates of existing ones touch
// different rows; for an existing order, "confirmed" (every line ORDER and READY) is written
// before the line updates, which the fold has already overridden with a later confirmation. A
// review of a line the batch inserts goes into the insert (and out again when it is deleted in
// the batch); the other review statements come last, in log order, as they set only review_id on
// rows that exist by then. A failure of a folded statement names the first record folded into it.

// lineFold is what a batch knows about one line: the columns its events set.
type lineFold struct {
	status, delivery, reason *string
	at                       time.Time
	review                   pgtype.UUID // of a line inserted by this batch
}

// orderFold is what a batch knows about one order.
type orderFold struct {
	first  eventstore.Record // the first record folded in, named when the write fails
	placed *order.Placed     // set when the order is placed in this batch
	// Order columns; at is set when an order event (not a line event) was folded in.
	status, reason *string
	at             *time.Time
	// confirmedAt is when an order that existed before the batch was confirmed in it.
	confirmedAt *time.Time
	lines       map[int]*lineFold
	lineOrder   []int
}

func (f *orderFold) line(n int) *lineFold {
	l, ok := f.lines[n]
	if !ok {
		l = &lineFold{}
		f.lines[n] = l
		f.lineOrder = append(f.lineOrder, n)
	}
	return l
}

func ptr[T any](v T) *T { return &v }

func (f *orderFold) apply(e order.Event) {
	switch e := e.(type) {
	case order.Placed:
		p := e
		f.placed, f.status, f.at = &p, ptr(string(order.StatusPending)), &p.At
		for _, l := range p.Lines {
			f.line(l.Number).at = p.At
		}
	case order.Confirmed:
		f.status, f.at = ptr(string(order.StatusOrder)), &e.At
		if f.placed == nil {
			f.confirmedAt = &e.At
		}
		for _, l := range f.lines {
			l.status, l.delivery, l.at = ptr(string(order.LineOrder)), ptr(string(order.DeliveryReady)), e.At
		}
		if f.placed != nil {
			for _, pl := range f.placed.Lines {
				l := f.line(pl.Number)
				l.status, l.delivery, l.at = ptr(string(order.LineOrder)), ptr(string(order.DeliveryReady)), e.At
			}
		}
	case order.Rejected:
		f.status, f.reason, f.at = ptr(string(order.StatusReject)), &e.Reason, &e.At
	case order.LineAccepted:
		l := f.line(e.Line)
		l.status, l.at = ptr(string(order.LineAccept)), e.At
	case order.LineRejected:
		l := f.line(e.Line)
		l.status, l.reason, l.at = ptr(string(order.LineReject)), &e.Reason, e.At
	case order.LineCancelRequested:
		l := f.line(e.Line)
		l.status, l.at = ptr(string(order.LineCanceling)), e.At
	case order.LineCancelled:
		l := f.line(e.Line)
		l.status, l.at = ptr(string(order.LineCancel)), e.At
	case order.LineShipped:
		l := f.line(e.Line)
		l.delivery, l.at = ptr(string(order.DeliveryShipping)), e.At
	case order.LineDelivered:
		l := f.line(e.Line)
		l.delivery, l.at = ptr(string(order.DeliveryComplete)), e.At
	}
}

// orderID returns the order an order event is about.
func orderID(e order.Event) uuid.UUID {
	switch e := e.(type) {
	case order.Placed:
		return e.OrderID
	case order.Confirmed:
		return e.OrderID
	case order.Rejected:
		return e.OrderID
	case order.LineAccepted:
		return e.OrderID
	case order.LineRejected:
		return e.OrderID
	case order.LineCancelRequested:
		return e.OrderID
	case order.LineCancelled:
		return e.OrderID
	case order.LineShipped:
		return e.OrderID
	case order.LineDelivered:
		return e.OrderID
	}
	return uuid.Nil
}

// ordersBatch is the plan of one ApplyBatch.
type ordersBatch struct {
	orders  map[uuid.UUID]*orderFold
	order   []uuid.UUID // orders in the order of their first event
	reviews []planned   // review statements on lines that existed before the batch
	// reviewed finds the line a review of this batch was folded into, for its deletion.
	reviewed map[uuid.UUID]*lineFold
}

// ApplyBatch applies consecutive events with a few pipelined statements; see ordersBatch.
func (o *Orders) ApplyBatch(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	b := &ordersBatch{orders: make(map[uuid.UUID]*orderFold), reviewed: make(map[uuid.UUID]*lineFold)}
	for _, rec := range recs {
		if err := b.add(o, rec); err != nil {
			return &EventError{Record: rec, Err: err}
		}
	}
	return sendPlanned(ctx, tx, b.statements())
}

func (b *ordersBatch) add(o *Orders, rec eventstore.Record) error {
	switch {
	case strings.HasPrefix(rec.Type, "review."):
		if b.foldReview(rec) {
			return nil
		}
		st, ok, err := o.plan(rec)
		if ok {
			b.reviews = append(b.reviews, planned{st, rec})
		}
		return err
	case !strings.HasPrefix(rec.Type, "order."):
		return nil
	}
	e, err := order.Decode(rec.Type, rec.Data)
	if err != nil {
		_, _, err = ignoreUnknown(err)
		return err
	}
	id := orderID(e)
	if id == uuid.Nil {
		return nil
	}
	f, ok := b.orders[id]
	if !ok {
		f = &orderFold{first: rec, lines: make(map[int]*lineFold)}
		b.orders[id] = f
		b.order = append(b.order, id)
	}
	if _, placed := e.(order.Placed); placed && f.placed != nil {
		return fmt.Errorf("order %s placed twice", id)
	}
	f.apply(e)
	return nil
}

// foldReview folds a review event into a line this batch inserts, and reports whether it did.
func (b *ordersBatch) foldReview(rec eventstore.Record) bool {
	e, err := review.Decode(rec.Type, rec.Data)
	if err != nil {
		return false // plan reports it
	}
	switch e := e.(type) {
	case review.Written:
		f := b.orders[e.OrderID]
		if f == nil || f.placed == nil {
			return false
		}
		if _, ok := f.lines[e.Line]; !ok {
			return true // no such line: the update would change nothing
		}
		l := f.line(e.Line)
		l.review = pgtype.UUID{Bytes: e.ReviewID, Valid: true}
		b.reviewed[e.ReviewID] = l
		return true
	case review.Deleted:
		l, ok := b.reviewed[e.ReviewID]
		if !ok {
			return false
		}
		if l.review.Bytes == e.ReviewID {
			l.review = pgtype.UUID{}
		}
		delete(b.reviewed, e.ReviewID)
		return true
	}
	return true // edits do not touch the orders' tables
}

// The folded statements. NULL in an array means the batch did not change that column.
const (
	sqlOrdersInsert = `INSERT INTO orders (id, user_id, status, total, reject_reason, receiver, address1, address2,
	zipcode, phone, receive_type, receive_message, placed_at, updated_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[])`
	sqlLinesInsert = `INSERT INTO order_lines (order_id, line, user_id, product_id, product_name, seller_id, unit_price,
	quantity, status, delivery_status, reject_reason, review_id, placed_at, updated_at)
SELECT * FROM unnest($1::uuid[], $2::integer[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::bigint[],
	$8::integer[], $9::text[], $10::text[], $11::text[], $12::uuid[], $13::timestamptz[], $14::timestamptz[])`
	sqlOrdersUpdate = `UPDATE orders o SET status = coalesce(v.status, o.status),
	reject_reason = coalesce(v.reason, o.reject_reason), updated_at = v.updated_at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS v (id, status, reason, updated_at)
WHERE o.id = v.id`
	sqlLinesConfirm = `UPDATE order_lines l SET status = 'ORDER', delivery_status = 'READY', updated_at = v.at
FROM unnest($1::uuid[], $2::timestamptz[]) AS v (id, at) WHERE l.order_id = v.id`
	sqlLinesUpdate = `UPDATE order_lines l SET status = coalesce(v.status, l.status),
	delivery_status = coalesce(v.delivery, l.delivery_status), reject_reason = coalesce(v.reason, l.reject_reason),
	updated_at = v.updated_at
FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
	AS v (order_id, line, status, delivery, reason, updated_at)
WHERE l.order_id = v.order_id AND l.line = v.line`
)

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (b *ordersBatch) statements() []planned {
	type columns struct {
		first *eventstore.Record
		args  [][]any // one slice per column
	}
	add := func(c *columns, first eventstore.Record, values ...any) {
		if c.first == nil {
			c.first, c.args = &first, make([][]any, len(values))
		}
		for i, v := range values {
			c.args[i] = append(c.args[i], v)
		}
	}
	var orders, lines, updates, confirms, lineUpdates columns
	for _, id := range b.order {
		f := b.orders[id]
		key := [16]byte(id)
		if p := f.placed; p != nil {
			a := p.Address
			add(&orders, f.first, key, [16]byte(p.UserID), orEmpty(f.status), p.Total, orEmpty(f.reason), a.Receiver, a.Address1,
				a.Address2, a.Zipcode, a.Phone, a.ReceiveType, a.ReceiveMessage, p.At, *f.at)
			for _, pl := range p.Lines {
				l := f.line(pl.Number)
				add(&lines, f.first, key, int32(pl.Number), [16]byte(p.UserID), [16]byte(pl.ProductID), pl.ProductName,
					[16]byte(pl.SellerID), pl.UnitPrice, int32(pl.Quantity), orEmpty(l.status), orEmpty(l.delivery),
					orEmpty(l.reason), l.review, p.At, l.at)
			}
			continue
		}
		if f.at != nil {
			add(&updates, f.first, key, f.status, f.reason, *f.at)
		}
		if f.confirmedAt != nil {
			add(&confirms, f.first, key, *f.confirmedAt)
		}
		for _, n := range f.lineOrder {
			l := f.lines[n]
			add(&lineUpdates, f.first, key, int32(n), l.status, l.delivery, l.reason, l.at)
		}
	}
	var out []planned
	for _, s := range []struct {
		sql string
		c   columns
	}{{sqlOrdersInsert, orders}, {sqlLinesInsert, lines}, {sqlOrdersUpdate, updates}, {sqlLinesConfirm, confirms}, {sqlLinesUpdate, lineUpdates}} {
		if s.c.first == nil {
			continue
		}
		args := make([]any, len(s.c.args))
		for i, col := range s.c.args {
			args[i] = column(col)
		}
		out = append(out, planned{statement{s.sql, args}, *s.c.first})
	}
	return append(out, b.reviews...)
}

// column turns the values of one column into the typed slice pgx encodes as an array.
func column(vals []any) any {
	switch vals[0].(type) {
	case [16]byte:
		return typed[[16]byte](vals)
	case int32:
		return typed[int32](vals)
	case int64:
		return typed[int64](vals)
	case string:
		return typed[string](vals)
	case *string:
		return typed[*string](vals)
	case time.Time:
		return typed[time.Time](vals)
	case pgtype.UUID:
		return typed[pgtype.UUID](vals)
	}
	panic(fmt.Sprintf("column of %T", vals[0]))
}

func typed[T any](vals []any) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		out[i] = v.(T)
	}
	return out
}

package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/order"
	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// StockTransport carries the process manager's stock requests to the one process of the cluster
// that writes the product, so that a product has one writer however many processes fulfil
// orders (FulfilmentConfig.Stock). With Kafka it is a topic keyed by the product's stream: the
// consumer-group member that owns the product's partition carries the requests out with
// Fulfilment.ServeStock, through its Repo's writer of the product, which decides every request
// waiting for it together as it does for the process's own commands.
type StockTransport interface {
	// Request sends payload about stream to the process that serves the stream and returns its
	// answer. A lost answer is an error (a timeout), after which the caller asks again: a request
	// may so be carried out more than once, and late, but only in the order it was sent relative
	// to the requests sent after it about the same stream.
	Request(ctx context.Context, stream string, payload []byte) ([]byte, error)
}

// stockRequest is a stock request on the wire: what Fulfilment.stock is called with.
type stockRequest struct {
	Kind        stockKind   `json:"kind"`
	ProductID   uuid.UUID   `json:"product_id"`
	OrderID     uuid.UUID   `json:"order_id"`
	Quantity    int         `json:"quantity,omitempty"`
	Correlation uuid.UUID   `json:"correlation_id"`
	Causation   uuid.UUID   `json:"causation_id"`
	ActorID     uuid.UUID   `json:"actor_id"`
	ActorRole   domain.Role `json:"actor_role"`
	TraceParent string      `json:"traceparent,omitempty"`
	// SentAt is when the asker sent the request, by its clock: a request older than the asker's
	// wait may have been carried out by the asker itself meanwhile (see routeStock).
	SentAt time.Time `json:"sent_at"`
	// If holds the conditions the append waits on (see Fulfilment.settle): a reservation of an
	// order taken as its order.placed made it, without reading it.
	If []streamAt `json:"if,omitempty"`
}

// streamAt is an eventstore.StreamAt on the wire.
type streamAt struct {
	Stream  string    `json:"stream"`
	Version int64     `json:"version"`
	Last    uuid.UUID `json:"last"`
}

func (r stockRequest) conds() []eventstore.StreamAt {
	var conds []eventstore.StreamAt
	for _, c := range r.If {
		conds = append(conds, eventstore.StreamAt{Stream: c.Stream, Version: c.Version, Last: c.Last})
	}
	return conds
}

func (r stockRequest) meta() Meta {
	return Meta{CorrelationID: r.Correlation, CausationID: r.Causation,
		Actor: domain.Actor{ID: r.ActorID, Role: r.ActorRole}, TraceParent: r.TraceParent}
}

// stockAnswer is the answer to a stockRequest: no error, the product's refusal (Kind set), or a
// technical failure (Kind 0), after which the asker asks again.
type stockAnswer struct {
	Error *stockError `json:"error,omitempty"`
}

type stockError struct {
	Kind    domain.Kind `json:"kind,omitempty"`
	Code    string      `json:"code,omitempty"`
	Message string      `json:"message"`
	// ConditionFailed says a condition of the request (stockRequest.If) did not hold.
	ConditionFailed bool `json:"condition_failed,omitempty"`
}

func encodeAnswer(err error) []byte {
	var a stockAnswer
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		a.Error = &stockError{Kind: de.Kind, Code: de.Code, Message: de.Message}
	case errors.Is(err, eventstore.ErrConditionFailed):
		a.Error = &stockError{Message: err.Error(), ConditionFailed: true}
	case err != nil:
		a.Error = &stockError{Message: err.Error()}
	}
	data, _ := json.Marshal(a) // plain strings and numbers: it cannot fail
	return data
}

func decodeAnswer(data []byte) error {
	var a stockAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	switch {
	case a.Error == nil:
		return nil
	case a.Error.Kind != 0:
		return &domain.Error{Kind: a.Error.Kind, Code: a.Error.Code, Message: a.Error.Message}
	case a.Error.ConditionFailed:
		return fmt.Errorf("the product's writer: %s: %w", a.Error.Message, eventstore.ErrConditionFailed)
	}
	return fmt.Errorf("carried out by the product's writer: %w", errors.New(a.Error.Message))
}

// routeStock is stock through the transport: the request goes to the product's writer in the
// cluster, and its answer comes back as stock's would. When no answer comes within f.wait, or the
// transport fails, this process's writer carries the request out itself: the writer's process
// may have died, and its partition waits until its consumer group notices (a session timeout),
// or the broker may be down. The product has two writers for that time (their appends check the
// stream's version), and the request is still carried out later by the partition's next owner,
// which changes nothing in the end: reserve, release and commit are idempotent per order, and
// the requests sent after this one about the product, carried out here too, come after it in the
// partition. The request carries conds, which the writer checks in its append as this
// process's would. A reservation refused here and made by that later run is released with the others
// of a REJECT order (see settle); one whose release could not be published is not made (see
// serveStock).
func (f *Fulfilment) routeStock(ctx context.Context, productID uuid.UUID, kind stockKind, orderID uuid.UUID, qty int, conds []eventstore.StreamAt, meta Meta) error {
	meta = meta.traced(ctx)
	req := stockRequest{Kind: kind, ProductID: productID, OrderID: orderID, Quantity: qty,
		Correlation: meta.CorrelationID, Causation: meta.CausationID, ActorID: meta.Actor.ID, ActorRole: meta.Actor.Role,
		TraceParent: meta.TraceParent, SentAt: time.Now()}
	for _, c := range conds {
		req.If = append(req.If, streamAt{Stream: c.Stream, Version: c.Version, Last: c.Last})
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("fulfil order %s on product %s: encode the request: %w", orderID, productID, err)
	}
	rctx, cancel := context.WithTimeout(ctx, f.wait)
	answer, err := f.route.Request(rctx, product.StreamID(productID), payload)
	cancel()
	switch {
	case err != nil && ctx.Err() == nil:
		return f.writeStock(ctx, productID, kind, orderID, qty, conds, meta)
	case err == nil:
		err = decodeAnswer(answer)
	}
	if err != nil {
		return fmt.Errorf("fulfil order %s on product %s: %w", orderID, productID, err)
	}
	return nil
}

// ServeStock carries out a wave of stock requests that a StockTransport brought to this process,
// in the order they came, on this process's product writers, and returns one answer per request.
// The requests of one order on one product are carried out one after the other, in order (a
// reserve delivered again after a crash must not come after the release sent after it); all
// others at once, so that a product's writer decides them together. It has the shape of the
// transport's handler (bus.RequestHandler).
func (f *Fulfilment) ServeStock(ctx context.Context, payloads [][]byte) [][]byte {
	answers := make([][]byte, len(payloads))
	reqs := make([]stockRequest, len(payloads))
	type key struct{ product, order uuid.UUID }
	chains := make(map[key][]int)
	var keys []key
	for i, p := range payloads {
		if err := json.Unmarshal(p, &reqs[i]); err != nil {
			answers[i] = encodeAnswer(fmt.Errorf("decode stock request: %w", err))
			continue
		}
		k := key{reqs[i].ProductID, reqs[i].OrderID}
		if _, ok := chains[k]; !ok {
			keys = append(keys, k)
		}
		chains[k] = append(chains[k], i)
	}
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			for _, i := range chains[k] {
				answers[i] = encodeAnswer(f.serveStock(ctx, reqs[i]))
			}
		})
	}
	wg.Wait()
	return answers
}

// serveStock carries out one routed request. A reservation with conditions (an order's first
// delivery, see Fulfilment.settle) is appended only while its order's stream ends with its
// order.placed, so it needs nothing more: however late it comes, the order is then PENDING and
// nothing of it was released. Without them, a reservation asked for long enough ago that its
// asker may have given up waiting (half the wait, allowing for the clocks of the two processes) is
// made only while the order is still PENDING: the asker may meanwhile have reserved itself,
// settled the order and, for a REJECT order, released the reservation, and when the broker
// refused that release's request, nothing after this late reservation gives it back.
//
// The order is read inside the product writer's decision, on each attempt, after the product
// state the append expects is known. The asker rejects the order before it releases, so a release
// the writer's append would miss (it came after that state) makes the append fail, and the
// decision taken again on the stream as read then sees the order REJECT. A release that changed
// nothing (the asker's own reservation was refused) leaves no event to fail the append; it read
// the product before this reservation, after the reject, so the order read once the reservation
// is appended is REJECT, and the reservation is released here. A late reservation of an order
// found REJECT releases whatever the order still holds (a run of the request cut short after its
// append, delivered again), durably; one of an ORDER order is not made (the order may have
// committed or released its reservation since).
func (f *Fulfilment) serveStock(ctx context.Context, r stockRequest) error {
	if r.Kind != stockReserve || len(r.If) > 0 {
		// A conditional reservation is appended only while its order's stream ends with its
		// order.placed: while the order is PENDING and untouched, however late it comes.
		return f.writeStock(ctx, r.ProductID, r.Kind, r.OrderID, r.Quantity, r.conds(), r.meta())
	}
	late := func() bool { return time.Since(r.SentAt) > f.wait/2 }
	at := f.now()
	var made, rejected atomic.Bool // what the decision last taken found
	err := f.decideStockIf(ctx, r.ProductID, r.OrderID, r.meta(), nil, true, func(p product.Product) ([]product.Event, error) {
		made.Store(false)
		rejected.Store(false)
		if late() {
			status, err := f.orderStatus(ctx, r.OrderID)
			if err != nil || status != order.StatusPending {
				rejected.Store(status == order.StatusReject)
				return nil, err
			}
		}
		events, err := p.Reserve(r.OrderID, r.Quantity, at)
		made.Store(len(events) > 0)
		return events, err
	})
	switch {
	case err != nil:
		return err
	case made.Load() && late():
		status, err := f.orderStatus(ctx, r.OrderID)
		if err != nil {
			return fmt.Errorf("fulfil order %s on product %s: %w", r.OrderID, r.ProductID, err)
		}
		rejected.Store(status == order.StatusReject)
	}
	if rejected.Load() {
		// Durably, unlike the reservation: a REJECT order's last write on a product is its release.
		return f.writeStock(ctx, r.ProductID, stockRelease, r.OrderID, 0, nil, r.meta())
	}
	return nil
}

// orderStatus returns the status of order id as its stream has it now.
func (f *Fulfilment) orderStatus(ctx context.Context, id uuid.UUID) (order.Status, error) {
	st, err := f.repos.Orders.Load(ctx, id)
	if err != nil {
		return "", fmt.Errorf("read the status of order %s: %w", id, err)
	}
	return st.Value.Status, nil
}

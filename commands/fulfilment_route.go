package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/product"
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
}

func encodeAnswer(err error) []byte {
	var a stockAnswer
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		a.Error = &stockError{Kind: de.Kind, Code: de.Code, Message: de.Message}
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
	}
	return fmt.Errorf("carried out by the product's writer: %w", errors.New(a.Error.Message))
}

// routeStock is stock through the transport: the request goes to the product's writer in the
// cluster, and its answer comes back as stock's would.
func (f *Fulfilment) routeStock(ctx context.Context, productID uuid.UUID, kind stockKind, orderID uuid.UUID, qty int, meta Meta) error {
	meta = meta.traced(ctx)
	payload, err := json.Marshal(stockRequest{Kind: kind, ProductID: productID, OrderID: orderID, Quantity: qty,
		Correlation: meta.CorrelationID, Causation: meta.CausationID, ActorID: meta.Actor.ID, ActorRole: meta.Actor.Role,
		TraceParent: meta.TraceParent})
	if err != nil {
		return fmt.Errorf("fulfil order %s on product %s: encode the request: %w", orderID, productID, err)
	}
	answer, err := f.route.Request(ctx, product.StreamID(productID), payload)
	if err == nil {
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
				r := reqs[i]
				answers[i] = encodeAnswer(f.writeStock(ctx, r.ProductID, r.Kind, r.OrderID, r.Quantity, r.meta()))
			}
		})
	}
	wg.Wait()
	return answers
}

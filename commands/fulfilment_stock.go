package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain/product"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// stockKind is what a stock request asks of a product.
type stockKind uint8

const (
	stockReserve stockKind = iota
	stockRelease
	stockCommit
)

// stockRequest is one order's request to a product's stock, waiting for its batch.
type stockRequest struct {
	ctx   context.Context
	kind  stockKind
	order uuid.UUID
	qty   int
	meta  Meta
	done  chan error // buffered: the batcher never blocks on an answer
}

// decide returns the events of r on p.
func (r *stockRequest) decide(p product.Product, at time.Time) ([]product.Event, error) {
	switch r.kind {
	case stockReserve:
		return p.Reserve(r.order, r.qty, at)
	case stockRelease:
		return p.Release(r.order, at)
	default:
		return p.Commit(r.order, at)
	}
}

// stockBatcher is group commit for product stock. Concurrent order handlers submit requests for a
// product; one goroutine per busy product takes every waiting request, loads the product once,
// decides each request in turn on the state the previous ones left, appends all their events in
// one append with the expected version, and answers each request. A hot product so costs one
// append per batch instead of one per order, and the requests of one process never conflict with
// each other on the product's version; across processes the expected version still decides, and a
// conflict reloads and decides the batch again.
type stockBatcher struct {
	repo     *Repo[product.Product, product.Event]
	now      func() time.Time
	maxBatch int
	observe  func(requests int)

	mu     sync.Mutex
	queues map[uuid.UUID][]*stockRequest // product id -> waiting requests; present while its goroutine runs
}

func newStockBatcher(repo *Repo[product.Product, product.Event], now func() time.Time, maxBatch int, observe func(int)) *stockBatcher {
	return &stockBatcher{repo: repo, now: now, maxBatch: maxBatch, observe: observe, queues: make(map[uuid.UUID][]*stockRequest)}
}

// do submits a request for productID and waits for its answer: nil, a business error from the
// product's decision (such as OUT_OF_STOCK), or a technical error. When ctx ends first the request
// may still be carried out; every request is idempotent per order.
func (b *stockBatcher) do(ctx context.Context, productID uuid.UUID, kind stockKind, orderID uuid.UUID, qty int, meta Meta) error {
	req := &stockRequest{ctx: ctx, kind: kind, order: orderID, qty: qty, meta: meta, done: make(chan error, 1)}
	b.mu.Lock()
	q, running := b.queues[productID]
	b.queues[productID] = append(q, req)
	b.mu.Unlock()
	if !running {
		go b.run(productID)
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run serves productID's queue until it is empty.
func (b *stockBatcher) run(productID uuid.UUID) {
	for {
		batch := b.take(productID)
		if batch == nil {
			return
		}
		b.apply(productID, batch)
	}
}

// take removes and returns the next batch of productID's queue: up to maxBatch live requests, at
// most one per order (a second request of the same order waits for the next batch, so that every
// decision in a batch reads only its own order's reservation as the batch found it). It returns
// nil, and ends the queue, when nothing waits.
func (b *stockBatcher) take(productID uuid.UUID) []*stockRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[productID]
	var batch, rest []*stockRequest
	orders := make(map[uuid.UUID]bool, len(q))
	for _, r := range q {
		switch {
		case r.ctx.Err() != nil:
			r.done <- r.ctx.Err()
		case len(batch) < b.maxBatch && !orders[r.order]:
			orders[r.order] = true
			batch = append(batch, r)
		default:
			rest = append(rest, r)
		}
	}
	if len(batch) == 0 {
		delete(b.queues, productID)
		return nil
	}
	b.queues[productID] = rest
	return batch
}

// apply carries out a batch and answers every request in it.
func (b *stockBatcher) apply(productID uuid.UUID, batch []*stockRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b.observe(len(batch))
	var results []error
	err := b.repo.updateEach(ctx, productID, func(p product.Product) ([]product.Event, []Meta, error) {
		events, owners, res := decideBatch(p, batch, b.now())
		results = res
		metas := make([]Meta, len(events))
		for i, o := range owners {
			metas[i] = batch[o].meta
		}
		return events, metas, nil
	})
	for i, r := range batch {
		if err != nil {
			r.done <- err
		} else {
			r.done <- results[i]
		}
	}
}

// decideBatch decides every request in turn on p. It returns all their events, the index of the
// request each event belongs to, and each request's result. Request i sees the stock and status
// that requests 0..i-1 left. Product decisions read the reservations map only at their own order
// id, and a batch holds one request per order, so each decision is given p's reservations as they
// are: the running state carries only the batch's own changes to the map, and p's map (shared
// with the cache) is neither copied nor changed, however many orders hold a reservation.
func decideBatch(p product.Product, batch []*stockRequest, at time.Time) (events []product.Event, owners []int, results []error) {
	running := p
	running.Reservations = nil
	results = make([]error, len(batch))
	for i, r := range batch {
		view := running
		view.Reservations = p.Reservations
		evs, err := r.decide(view, at)
		results[i] = err
		for _, e := range evs {
			running = product.Evolve(running, e)
			events = append(events, e)
			owners = append(owners, i)
		}
	}
	return events, owners, results
}

// updateEach is UpdateState for a batch of decisions that each carry their own Meta: decide
// returns the events and one Meta per event (the Meta of the request the event answers), so that
// every event's correlation and causation lead back to its own order. It loads the current state
// (cache and tail), appends with its version as the expected version, and on a conflict loads and
// decides again, up to MaxAttempts times. The next load reads the appended events as the tail.
func (r *Repo[S, E]) updateEach(ctx context.Context, id uuid.UUID, decide func(S) ([]E, []Meta, error)) error {
	stream := r.agg.StreamID(id)
	for attempt := 1; ; attempt++ {
		cur, err := r.Load(ctx, id)
		if err != nil {
			return err
		}
		events, metas, err := decide(cur.Value)
		if err != nil || len(events) == 0 {
			return err
		}
		data := make([]eventstore.EventData, len(events))
		for i, e := range events {
			b, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode %s for %s: %w", e.EventType(), stream, err)
			}
			data[i] = eventstore.EventData{ID: uuid.New(), Type: e.EventType(), Data: b, Metadata: metas[i].complete().metadata().Marshal()}
		}
		_, err = r.store.Append(ctx, stream, eventstore.Exact(cur.Version), data...)
		if err == nil {
			return nil
		}
		if !errors.Is(err, eventstore.ErrWrongVersion) {
			return fmt.Errorf("update %s: %w", stream, err)
		}
		r.obs.Conflict(stream)
		if attempt >= r.opts.MaxAttempts {
			return fmt.Errorf("update %s after %d attempts: %w", stream, attempt, err)
		}
		r.obs.Retry(stream, attempt+1)
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return fmt.Errorf("update %s: %w", stream, err)
		}
	}
}

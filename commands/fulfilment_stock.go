package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// run serves productID's queue until it is empty. It keeps the product's state between batches:
// as long as nobody else appends to the product, a batch decides on the state the previous batch
// left and appends without reading the stream first.
func (b *stockBatcher) run(productID uuid.UUID) {
	var cur loaded[product.Product]
	have := false
	for {
		batch := b.take(productID)
		if batch == nil {
			return
		}
		have = b.apply(productID, &cur, have, batch)
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

// apply carries out a batch on the product state *cur and answers every request in it. Unless have,
// it starts from the repository's cached state without reading the stream: it appends all the
// batch's events in one append expecting cur's version and the id of cur's last event
// (eventstore.ExactAfter), so the append itself refuses a state the stream no longer ends with,
// whether other writers moved it on or the store took events back; then it loads the product
// (reading the stream) and decides the batch again, up to MaxAttempts times. A batch that appends
// nothing checks nothing, so its decisions are made on a loaded state. After the append the new
// state goes into the repository's cache, so that the command handlers that read the product
// (PlaceOrder) find it current and fold nothing. It returns whether *cur is the product's current
// state.
func (b *stockBatcher) apply(productID uuid.UUID, cur *loaded[product.Product], have bool, batch []*stockRequest) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b.observe(len(batch))
	r := b.repo
	stream := product.StreamID(productID)
	var results []error
	var err error
	unread := false // *cur is the cached state, not read from the stream
	for attempt := 1; ; attempt++ {
		if !have {
			c, cached := r.cache.get(stream)
			if unread = cached && c.lastID != uuid.Nil && attempt == 1; unread {
				*cur = c
			} else if *cur, err = r.load(ctx, stream, true, nil); err != nil {
				break
			}
			have = true
		}
		var events []product.Event
		var owners []int
		events, owners, results = decideBatch(cur.state, batch, b.now())
		if len(events) == 0 && unread {
			have = false
			continue
		}
		if len(events) == 0 {
			break
		}
		var data []eventstore.EventData
		if data, err = eventData(stream, events, func(i int) Meta { return batch[owners[i]].meta }); err != nil {
			break
		}
		res, aerr := b.append(ctx, stream, eventstore.ExactAfter(cur.version, cur.lastID), data, batch)
		if aerr == nil {
			*cur = loaded[product.Product]{state: r.fold(cur.state, events), version: res.Version, position: res.Position, snapshot: cur.snapshot, lastID: data[len(data)-1].ID}
			// The cache gets the new state before any snapshot is written, and marked as
			// snapshotted, so that the handlers' loads find it current instead of each folding the
			// batch and saving a snapshot of its own. The snapshot is written in the background,
			// off the batch loop; if that fails, loads only read a longer tail until the next one.
			due := r.snapshotDue(*cur)
			if due {
				cur.snapshot = cur.version
			}
			r.cache.put(stream, *cur)
			if due {
				go func(snap loaded[product.Product]) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := r.saveSnapshot(ctx, stream, snap); err != nil {
						r.obs.SnapshotFailed(stream, err)
					}
				}(*cur)
			}
			break
		}
		have = false
		if !errors.Is(aerr, eventstore.ErrWrongVersion) {
			err = fmt.Errorf("update %s: %w", stream, aerr)
			break
		}
		r.obs.Conflict(stream)
		if attempt >= r.opts.MaxAttempts {
			err = fmt.Errorf("update %s after %d attempts: %w", stream, attempt, aerr)
			break
		}
		r.obs.Retry(stream, attempt+1)
		if serr := sleep(ctx, backoff(attempt)); serr != nil {
			err = fmt.Errorf("update %s: %w", stream, serr)
			break
		}
	}
	for i, req := range batch {
		if err != nil {
			req.done <- err
		} else {
			req.done <- results[i]
		}
	}
	return have && err == nil
}

// append appends a batch's events with expected. A batch of reservations only is appended
// delayed when the store offers it (eventstore.DelayedAppender): it returns without waiting for
// the disk. That is safe because the order whose reservation it is always appends its outcome
// durably afterwards (see Fulfilment): the outcome's commit makes the reservation durable, and a
// crash of the store that takes the reservation back takes everything after it too, so the order
// is still PENDING and its order.placed is delivered again. Releases and commits are the last
// write of their message, so they are always durable.
func (b *stockBatcher) append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, data []eventstore.EventData, batch []*stockRequest) (eventstore.AppendResult, error) {
	if d, ok := b.repo.store.(eventstore.DelayedAppender); ok && !slices.ContainsFunc(batch, func(r *stockRequest) bool { return r.kind != stockReserve }) {
		return d.AppendDelayed(ctx, stream, expected, data...)
	}
	return b.repo.store.Append(ctx, stream, expected, data...)
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

// eventData encodes events for an append to stream, each with the metadata of meta(i) (completed)
// and an id from it: derived from its CommandID when set, else new.
func eventData[E Event](stream string, events []E, meta func(i int) Meta) ([]eventstore.EventData, error) {
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s for %s: %w", e.EventType(), stream, err)
		}
		m := meta(i).complete()
		data[i] = eventstore.EventData{ID: m.eventID(stream, i), Type: e.EventType(), Data: payload, Metadata: m.metadata().Marshal()}
	}
	return data, nil
}

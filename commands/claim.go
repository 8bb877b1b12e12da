package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// A claim makes its holder the writer of a stream for a moment, so that it can decide on the
// stream's cached state and append to it together with other streams in one transaction
// (eventstore.MultiAppender) while the stream's own writer stays idle: commands that arrive
// meanwhile queue as they would behind a running writer, and a writer starts on them when the
// claim is let go. So a stream still has one writer in the process. PlaceOrder settles an order
// in the append that places it this way (Fulfilment.settleAtPlacement).

// claimed is a stream held by a claim: the state the claim started from, and the events decided
// on it since, with the state they lead to.
type claimed[S any, E Event] struct {
	r      *Repo[S, E]
	stream string
	cur    loaded[S]
	next   S
	events []E
}

// claim claims the stream of aggregate id when no command waits or runs for it, and when the
// cache holds its state with its last event's id; with create, when the cache does not hold it
// at all (a new aggregate, appended expecting no stream). False means the caller goes the usual
// way, through the writer.
func (r *Repo[S, E]) claim(id uuid.UUID, create bool) (*claimed[S, E], bool) {
	stream := r.agg.StreamID(id)
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if _, busy := r.queues[stream]; busy {
		return nil, false
	}
	c, cached := r.cache.get(stream)
	if create == cached || (cached && c.lastID == uuid.Nil) {
		return nil, false
	}
	r.queues[stream] = []*writeRequest[S, E]{}
	return &claimed[S, E]{r: r, stream: stream, cur: c, next: c.state}, true
}

// decide runs decide on the claimed state as the events decided so far left it, and keeps its
// events. The caller's refusal is returned as it is.
func (c *claimed[S, E]) decide(decide func(S) ([]E, error)) error {
	events, err := decide(c.next)
	if err != nil {
		return err
	}
	c.next = c.r.fold(c.next, events)
	c.events = append(c.events, events...)
	return nil
}

// set makes events the claim's decision, on the state the claim started from, in place of any
// decided before.
func (c *claimed[S, E]) set(events []E) {
	c.next, c.events = c.r.fold(c.cur.state, events), events
}

// part returns the stream's share of the multi-stream append: its events with meta's metadata
// (and ids from meta's CommandID, when set), expected to follow the state the claim started from.
func (c *claimed[S, E]) part(meta Meta) (eventstore.StreamAppend, error) {
	return c.partOf(c.events, meta)
}

// partOf is part for events, without making them the claim's decision: another goroutine may
// call it (a writer deciding with its batch, writeRequest.along).
func (c *claimed[S, E]) partOf(events []E, meta Meta) (eventstore.StreamAppend, error) {
	data, err := eventData(c.stream, events, func(i int) (Meta, int) { return meta, i })
	return eventstore.StreamAppend{Stream: c.stream, Expected: eventstore.ExactAfter(c.cur.version, c.cur.lastID), Events: data}, err
}

// release lets the claim go. With the append's result for the stream (res) and its part, the
// cache takes the state the events led to. Then a writer starts on the commands that queued
// meanwhile.
func (c *claimed[S, E]) release(ctx context.Context, res *eventstore.AppendResult, part eventstore.StreamAppend) {
	r := c.r
	if res != nil {
		last := part.Events[len(part.Events)-1].ID
		r.remember(ctx, c.stream, loaded[S]{state: c.next, version: res.Version, position: res.Position, snapshot: c.cur.snapshot, lastID: last})
	}
	r.wmu.Lock()
	waiting := len(r.queues[c.stream]) > 0
	if !waiting {
		delete(r.queues, c.stream)
	}
	r.wmu.Unlock()
	if waiting {
		go r.run(c.stream)
	}
}

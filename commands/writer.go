package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// writeRequest is one command waiting for its stream's writer.
type writeRequest[S any, E Event] struct {
	ctx    context.Context
	meta   Meta
	decide func(S) ([]E, error)
	// delayed allows an append that does not wait for the disk (eventstore.DelayedAppender); a
	// batch is appended so only when every command with events in it allows it.
	delayed bool
	// create says the command starts a new stream: with nothing cached, the writer assumes the
	// stream is empty and lets the append's expected version check it.
	create bool
	// conds are conditions on other streams the command's events are appended under
	// (eventstore.ConditionalAppender): when one fails, the command is answered with the error,
	// never decided again here, since what failed is a fact it took from elsewhere.
	conds []eventstore.StreamAt
	// along, when set, gives other streams' events decided with the command's (an order placed
	// and settled with its product's reservation), for the decision decide made last: parts to
	// append before and after the stream's own, in the same transaction
	// (eventstore.MultiAppender). A batch holds commands with along or without, never both. When
	// a part of another stream is refused, every command of the batch with along is answered
	// with an error matching eventstore.ErrConditionFailed. alongDone is told the parts' results
	// once they are appended.
	along     func() (before, after []eventstore.StreamAppend, err error)
	alongDone func(before, after []eventstore.AppendResult)
	done      chan writeAnswer[S] // buffered: the writer never blocks on an answer
}

type writeAnswer[S any] struct {
	state State[S]
	err   error
}

// write hands req to stream's writer, starting it when none runs, and waits for the answer. When
// ctx ends first, the command may still be carried out.
func (r *Repo[S, E]) write(ctx context.Context, stream string, req *writeRequest[S, E]) (_ State[S], err error) {
	op := "update"
	if req.create {
		op = "create"
	}
	ctx, span := startAppend(ctx, op, stream)
	defer func() { endSpan(span, err) }()
	req.meta = req.meta.traced(ctx)
	req.ctx, req.done = ctx, make(chan writeAnswer[S], 1)
	r.wmu.Lock()
	q, running := r.queues[stream]
	r.queues[stream] = append(q, req)
	r.wmu.Unlock()
	if !running {
		go r.run(stream)
	}
	select {
	case a := <-req.done:
		return a.state, a.err
	case <-ctx.Done():
		return State[S]{}, fmt.Errorf("write %s: %w", stream, ctx.Err())
	}
}

// run is stream's writer: it serves the stream's queue, one batch at a time, until it is empty.
// One writer per stream in a process means the commands of a process never conflict with each
// other; between processes the expected version of each append decides.
func (r *Repo[S, E]) run(stream string) {
	for {
		batch := r.take(stream)
		if batch == nil {
			return
		}
		observeBatch(r.obs, stream, len(batch))
		r.apply(stream, batch)
	}
}

// take removes and returns up to MaxBatch waiting commands of stream, answering those whose
// context has ended: commands with along (writeRequest) or commands without, as the first waiting
// one is. It returns nil, and ends the writer, when nothing waits.
func (r *Repo[S, E]) take(stream string) []*writeRequest[S, E] {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	q := r.queues[stream]
	batch := make([]*writeRequest[S, E], 0, min(len(q), r.opts.MaxBatch))
	rest := q[:0]
	for _, req := range q {
		switch {
		case req.ctx.Err() != nil:
			req.done <- writeAnswer[S]{err: req.ctx.Err()}
		case len(batch) > 0 && (req.along != nil) != (batch[0].along != nil):
			rest = append(rest, req)
		case len(batch) < r.opts.MaxBatch:
			batch = append(batch, req)
		default:
			rest = append(rest, req)
		}
	}
	if len(batch) == 0 {
		delete(r.queues, stream)
		return nil
	}
	r.queues[stream] = append([]*writeRequest[S, E](nil), rest...)
	return batch
}

// apply decides and appends one batch and answers every command in it.
//
// It starts from the cached state when it knows the id of the state's last event, without reading
// the stream: the append expects that version and that event (eventstore.ExactAfter), so the store
// itself refuses a state the stream no longer ends with, whether another process appended or the
// store took events back. A batch that appends nothing has no such check: it answers only after
// reading the stream from the state's last event and deciding again on what it found. An append
// the store took as a re-append of events it already held (AppendResult.Existing) wrote nothing
// either, and its events may not be the stored ones: the batch is decided again on the stream as
// read. After a refused append it reads the stream and decides again, with a growing pause, for as
// long as one of the batch's commands still waits (retry.go). An append refused because a
// command's condition on another stream failed answers the commands with conditions so, and
// decides again for the others on the same state.
func (r *Repo[S, E]) apply(stream string, batch []*writeRequest[S, E]) {
	cur, fresh, err := r.start(stream, batch)
	pause := conflictBackOff()
	attempt := 1
	for err == nil {
		if batch = r.live(batch); len(batch) == 0 {
			return
		}
		next, events, owners, results := r.decideBatch(cur.state, batch)
		if len(events) == 0 {
			if !fresh {
				cur, err = r.reread(stream, cur, batch)
				fresh = true
				continue
			}
			r.answer(batch, results, cur.public(), nil)
			return
		}
		var res eventstore.AppendResult
		var last uuid.UUID
		res, last, err = r.append(stream, cur, batch, events, owners)
		if err == nil && res.Existing {
			// The store already held these very events (a re-run of commands with their
			// CommandIDs, decided on a state that did not show them): what they say is what was
			// stored then, not what was decided now. Decide again on the stream as it is.
			cur, err = r.reread(stream, cur, batch)
			fresh = true
			continue
		}
		if err == nil {
			cur = loaded[S]{state: next, version: res.Version, position: res.Position, snapshot: cur.snapshot, lastID: last}
			r.remember(context.Background(), stream, cur)
			r.answer(batch, results, cur.public(), nil)
			return
		}
		if errors.Is(err, eventstore.ErrConditionFailed) {
			observeCondition(r.obs, stream)
			batch, err = r.refuseConditional(stream, batch, owners, err), nil
			continue
		}
		if !errors.Is(err, eventstore.ErrWrongVersion) {
			break
		}
		r.obs.Conflict(stream)
		attempt++
		r.obs.Retry(stream, attempt)
		// The writer drops the commands whose context ended during the pause; the pause itself is
		// short enough not to need waking.
		time.Sleep(pause.NextBackOff())
		cur, err = r.reread(stream, cur, batch)
		fresh = true
	}
	r.answer(batch, nil, State[S]{}, fmt.Errorf("write %s: %w", stream, err))
}

// refuseConditional answers the commands of batch that have events (owners) and conditions with
// err, and returns the others.
func (r *Repo[S, E]) refuseConditional(stream string, batch []*writeRequest[S, E], owners []int, err error) []*writeRequest[S, E] {
	err = fmt.Errorf("write %s: %w", stream, err)
	refused := make([]bool, len(batch))
	for _, o := range owners {
		refused[o] = len(batch[o].conds) > 0 || batch[o].along != nil
	}
	rest := batch[:0:0]
	for i, req := range batch {
		if refused[i] {
			req.done <- writeAnswer[S]{err: err}
		} else {
			rest = append(rest, req)
		}
	}
	return rest
}

// ioTimeout bounds one read or append of a writer.
const ioTimeout = 30 * time.Second

// ioContext is the context of a read or append for batch: no command's, as the batch outlives
// each of them, but under the first one's append span, so that its statements show in that
// command's trace.
func ioContext[S any, E Event](batch []*writeRequest[S, E]) (context.Context, context.CancelFunc) {
	return context.WithTimeout(trace.ContextWithSpan(context.Background(), trace.SpanFromContext(batch[0].ctx)), ioTimeout)
}

// start returns the state a batch is decided on first, and whether it was read just now: the
// cached state when it knows its last event (the append checks it), the empty state for a batch
// that only creates a stream nobody cached, else the stream as read.
func (r *Repo[S, E]) start(stream string, batch []*writeRequest[S, E]) (loaded[S], bool, error) {
	if c, ok := r.cache.get(stream); ok && c.lastID != uuid.Nil {
		return c, false, nil
	} else if !ok && !slices.ContainsFunc(batch, func(req *writeRequest[S, E]) bool { return !req.create }) {
		return loaded[S]{}, false, nil
	}
	ctx, cancel := ioContext(batch)
	defer cancel()
	cur, err := r.load(ctx, stream, true, nil)
	return cur, true, err
}

// reread returns the stream's state as read now, from cur on, for batch.
func (r *Repo[S, E]) reread(stream string, cur loaded[S], batch []*writeRequest[S, E]) (loaded[S], error) {
	ctx, cancel := ioContext(batch)
	defer cancel()
	return r.readOn(ctx, stream, cur, nil)
}

// live returns the commands of batch still waiting, answering the others.
func (r *Repo[S, E]) live(batch []*writeRequest[S, E]) []*writeRequest[S, E] {
	n := 0
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil {
			req.done <- writeAnswer[S]{err: err}
			continue
		}
		batch[n] = req
		n++
	}
	return batch[:n]
}

// decideBatch decides every command of batch in turn, each on the state the previous ones left.
// It returns the state after them all, their events, the command each event belongs to, and each
// command's refusal or nil. s itself is not modified.
func (r *Repo[S, E]) decideBatch(s S, batch []*writeRequest[S, E]) (next S, events []E, owners []int, results []error) {
	next = s
	owned := false
	results = make([]error, len(batch))
	for i, req := range batch {
		evs, err := req.decide(next)
		if results[i] = err; err != nil || len(evs) == 0 {
			continue
		}
		if r.agg.Own != nil && r.agg.Apply != nil {
			if !owned {
				next, owned = r.agg.Own(next), true
			}
			for _, e := range evs {
				r.agg.Apply(&next, e)
			}
		} else {
			next = r.fold(next, evs)
		}
		events = append(events, evs...)
		for range evs {
			owners = append(owners, i)
		}
	}
	return next, events, owners, results
}

// append appends a batch's events expecting the stream to end at cur. Each event carries its
// command's metadata and, for a command with a CommandID, the id of its place among that
// command's events. A batch whose events all belong to commands that allow it is appended without
// waiting for the disk when the store can (see Fulfilment); a read in the batch (Current) writes
// nothing and asks for nothing. The conditions of the commands with events go with the append
// (AppendIf, AppendDelayedIf). It returns the id of the last event appended.
func (r *Repo[S, E]) append(stream string, cur loaded[S], batch []*writeRequest[S, E], events []E, owners []int) (eventstore.AppendResult, uuid.UUID, error) {
	nth := make([]int, len(batch))
	data, err := eventData(stream, events, func(i int) (Meta, int) {
		o := owners[i]
		nth[o]++
		return batch[o].meta, nth[o] - 1
	})
	if err != nil {
		return eventstore.AppendResult{}, uuid.Nil, err
	}
	ctx, cancel := ioContext(batch)
	defer cancel()
	expected := eventstore.ExactAfter(cur.version, cur.lastID)
	var conds []eventstore.StreamAt
	for i, o := range owners {
		if i == 0 || owners[i-1] != o {
			conds = append(conds, batch[o].conds...)
		}
	}
	delayed := !slices.ContainsFunc(owners, func(o int) bool { return !batch[o].delayed })
	if batch[0].along != nil {
		res, err := r.appendAlong(ctx, stream, expected, data, batch, owners)
		return res, data[len(data)-1].ID, err
	}
	var res eventstore.AppendResult
	c, conditional := r.store.(eventstore.ConditionalAppender)
	d, delays := r.store.(eventstore.DelayedAppender)
	switch {
	case len(conds) > 0 && conditional && delayed:
		res, err = c.AppendDelayedIf(ctx, stream, expected, conds, data...)
	case len(conds) > 0 && conditional:
		res, err = c.AppendIf(ctx, stream, expected, conds, data...)
	case len(conds) > 0:
		return eventstore.AppendResult{}, uuid.Nil, fmt.Errorf("append to %s under conditions on other streams: %T checks none: %w", stream, r.store, errors.ErrUnsupported)
	case delays && delayed:
		res, err = d.AppendDelayed(ctx, stream, expected, data...)
	default:
		res, err = r.store.Append(ctx, stream, expected, data...)
	}
	return res, data[len(data)-1].ID, err
}

// appendAlong appends a batch of commands with along: every command's parts before the stream's
// events, the stream's events, every command's parts after them, in one transaction, durably. A
// part of another stream refused is an error matching eventstore.ErrConditionFailed (see
// writeRequest.along); the stream's own refused is the store's error, as for any append.
func (r *Repo[S, E]) appendAlong(ctx context.Context, stream string, expected eventstore.ExpectedVersion, data []eventstore.EventData, batch []*writeRequest[S, E], owners []int) (eventstore.AppendResult, error) {
	m, ok := r.store.(eventstore.MultiAppender)
	if !ok {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s with other streams: %T appends to one stream at a time: %w", stream, r.store, errors.ErrUnsupported)
	}
	type along struct {
		req           *writeRequest[S, E]
		before, after []eventstore.StreamAppend
	}
	var alongs []along
	var befores, afters []eventstore.StreamAppend
	for i, o := range owners {
		if i > 0 && owners[i-1] == o {
			continue
		}
		before, after, err := batch[o].along()
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		alongs = append(alongs, along{batch[o], before, after})
		befores, afters = append(befores, before...), append(afters, after...)
	}
	parts := append(append(befores, eventstore.StreamAppend{Stream: stream, Expected: expected, Events: data}), afters...)
	res, err := m.AppendAll(ctx, parts...)
	if wv := (*eventstore.WrongVersionError)(nil); errors.As(err, &wv) && wv.Stream != stream {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s with %s: %w: %w", stream, wv.Stream, eventstore.ErrConditionFailed, err)
	}
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	own := len(befores)
	b, a := res[:own], res[own+1:]
	for _, al := range alongs {
		if al.req.alongDone != nil {
			al.req.alongDone(b[:len(al.before)], a[:len(al.after)])
		}
		b, a = b[len(al.before):], a[len(al.after):]
	}
	return res[own], nil
}

// answer answers every command of batch: err when set, else its refusal, else st.
func (r *Repo[S, E]) answer(batch []*writeRequest[S, E], results []error, st State[S], err error) {
	for i, req := range batch {
		switch {
		case err != nil:
			req.done <- writeAnswer[S]{err: err}
		case results[i] != nil:
			req.done <- writeAnswer[S]{err: results[i]}
		default:
			req.done <- writeAnswer[S]{state: st}
		}
	}
}

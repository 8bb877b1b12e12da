package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Group commit of appends.
//
// Each append statement costs a round trip, a snapshot, index and lock work, a transaction and a
// commit record; the events it writes cost far less (a bulk INSERT writes a row in microseconds,
// an append statement takes most of a millisecond on a busy server). So appends that arrive while
// others are being written wait and go together, in one statement: groupSQL checks every request's
// expected version against the stream as the statement finds it and writes all the requests'
// events, or, when one check fails, writes nothing. A group that fails (a version check, a unique
// violation because a concurrent append took a version, data PostgreSQL refuses) is written again
// request by request with the plain append, so that each request gets exactly the result it would
// have had alone: the group is an optimisation, never a change of meaning.
//
// Appends of one commit mode (durable, delayed) group together; at most maxGroupsInFlight groups
// of a mode are being written at once, and an append that finds a slot free and nobody waiting is
// written at once, alone, on its caller's goroutine.

// maxGroupsInFlight is how many statements of one commit mode write appends at once. Fewer make
// larger groups (commerce bench, uniform at 64 workers: 1 and 2 gave the same throughput, 4 a
// third less); more than one keeps a group that waits on a lock (another process's append to the
// same stream) from holding up every append of the process.
const maxGroupsInFlight = 2

// maxGroupEvents bounds the events of one group statement.
const maxGroupEvents = 5000

// pendingAppend is one append waiting to be written: an Append or AppendIf (one part) or an
// AppendAll (a part per stream, written together or not at all).
type pendingAppend struct {
	ctx   context.Context
	parts []eventstore.StreamAppend
	conds []eventstore.StreamAt // AppendIf's
	done  chan appendOutcome    // buffered
}

type appendOutcome struct {
	res   []eventstore.AppendResult // one per part
	wrote bool
	err   error
}

// events returns how many events p appends.
func (p *pendingAppend) events() int {
	n := 0
	for _, a := range p.parts {
		n += len(a.Events)
	}
	return n
}

// validate checks p's input as the plain append and appendAll do.
func (p *pendingAppend) validate() error {
	if len(p.parts) == 1 {
		return eventstore.Validate(p.parts[0].Stream, p.parts[0].Events)
	}
	return eventstore.ValidateAll(p.parts)
}

// appendGroup is the queue of one commit mode.
type appendGroup struct {
	delayed bool

	mu       sync.Mutex
	queue    []*pendingAppend
	inFlight int
}

// groupAppend writes p through its mode's group commit and waits for its outcome.
func (s *Store) groupAppend(p *pendingAppend, delayed bool) ([]eventstore.AppendResult, bool, error) {
	g := &s.groups[0]
	if delayed {
		g = &s.groups[1]
	}
	g.mu.Lock()
	if g.inFlight < maxGroupsInFlight && len(g.queue) == 0 {
		// Nothing waits: write it here, at once, and hand the slot to a writer of whatever
		// queued meanwhile.
		g.inFlight++
		g.mu.Unlock()
		out := s.writeAlone(p, delayed) // validates
		g.mu.Lock()
		if len(g.queue) > 0 {
			g.mu.Unlock()
			go s.writeGroups(g)
		} else {
			g.inFlight--
			g.mu.Unlock()
		}
		return out.res, out.wrote, out.err
	}
	g.mu.Unlock()
	// Refused input never joins a group (where it would refuse the whole statement).
	if err := p.validate(); err != nil {
		return nil, false, err
	}
	p.done = make(chan appendOutcome, 1)
	g.mu.Lock()
	g.queue = append(g.queue, p)
	start := g.inFlight < maxGroupsInFlight
	if start {
		g.inFlight++
	}
	g.mu.Unlock()
	if start {
		go s.writeGroups(g)
	}
	select {
	case out := <-p.done:
		return out.res, out.wrote, out.err
	case <-p.ctx.Done():
		// The append may still be written, as one whose connection broke may have been.
		return nil, false, fmt.Errorf("append to %s: %w", p.streams(), p.ctx.Err())
	}
}

// streams names p's streams for errors.
func (p *pendingAppend) streams() string {
	names := make([]string, len(p.parts))
	for i, a := range p.parts {
		names[i] = a.Stream
	}
	return strings.Join(names, ", ")
}

// writeAlone writes p by itself: one stream's append with the plain append, which tells a
// refusal from the retry of an append already stored; several streams' with one group statement
// of their own (appendAll).
func (s *Store) writeAlone(p *pendingAppend, delayed bool) appendOutcome {
	if len(p.parts) != 1 {
		return s.appendAll(p, delayed)
	}
	a := p.parts[0]
	res, wrote, err := s.append(p.ctx, s.pool, a.Stream, a.Expected, p.conds, a.Events, delayed)
	return appendOutcome{res: []eventstore.AppendResult{res}, wrote: wrote, err: err}
}

// appendAll writes the parts of p, an AppendAll, with one statement: all or none.
func (s *Store) appendAll(p *pendingAppend, delayed bool) appendOutcome {
	if err := eventstore.ValidateAll(p.parts); err != nil {
		return appendOutcome{err: err}
	}
	for try := 0; ; try++ {
		results, err := s.appendGroupSQL([]*pendingAppend{p}, delayed)
		var refused *groupRefusedError
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return appendOutcome{res: results[0], wrote: true}
		case errors.As(err, &refused):
			return appendOutcome{err: &eventstore.WrongVersionError{Stream: refused.stream, Expected: refused.expected, Actual: refused.actual}}
		case errors.As(err, &pgErr) && pgErr.Code == "23505" && try == 0:
			// A concurrent append took a version after this statement's snapshot: the next
			// statement sees it and refuses with the stream's version.
			continue
		case dataException(err):
			return appendOutcome{err: fmt.Errorf("append to %s: %w: %w", p.streams(), eventstore.ErrInvalid, err)}
		}
		return appendOutcome{err: fmt.Errorf("append to %s: %w", p.streams(), err)}
	}
}

// writeGroups writes what g's queue holds, a group at a time, until the queue is empty.
func (s *Store) writeGroups(g *appendGroup) {
	for {
		g.mu.Lock()
		batch := g.take()
		if len(batch) == 0 {
			g.inFlight--
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		s.writeGroup(batch, g.delayed)
	}
}

// take removes the next group from the queue: the waiting requests whose context is live, up to
// maxGroupEvents events (a request is never split). The caller holds g.mu.
func (g *appendGroup) take() []*pendingAppend {
	var batch []*pendingAppend
	n, i := 0, 0
	for ; i < len(g.queue); i++ {
		p := g.queue[i]
		if p.ctx.Err() != nil {
			p.done <- appendOutcome{err: fmt.Errorf("append to %s: %w", p.streams(), p.ctx.Err())}
			continue
		}
		if len(batch) > 0 && n+p.events() > maxGroupEvents {
			break
		}
		batch = append(batch, p)
		n += p.events()
	}
	g.queue = append(g.queue[:0], g.queue[i:]...)
	return batch
}

// writeGroup writes batch: the appends with expected versions together with groupSQL, and
// alone the others (an unconditional append wins a lost race by trying again, which the plain
// append does) and every append of a group statement that did not write them all.
func (s *Store) writeGroup(batch []*pendingAppend, delayed bool) {
	var grouped, alone []*pendingAppend
	for _, p := range batch {
		if _, hi := versionRange(p.parts[0].Expected); len(p.parts) == 1 && hi == math.MaxInt64 {
			alone = append(alone, p)
		} else {
			grouped = append(grouped, p)
		}
	}
	// A group refused by some appends' checks is tried once more without them; those go alone,
	// where a refusal is told from the retry of an append already stored.
	for try := 0; try < 2 && len(grouped) > 1; try++ {
		results, err := s.appendGroupSQL(grouped, delayed)
		var refused *groupRefusedError
		switch {
		case err == nil:
			s.groupedAppends.Add(int64(len(grouped)))
			for i, p := range grouped {
				p.done <- appendOutcome{res: results[i], wrote: true}
			}
			grouped = nil
		case errors.As(err, &refused):
			var passed []*pendingAppend
			for i, p := range grouped {
				if refused.failed[i] {
					alone = append(alone, p)
				} else {
					passed = append(passed, p)
				}
			}
			grouped = passed
		default:
			try = 2 // a statement error says nothing of single appends: all go alone
		}
	}
	var wg sync.WaitGroup
	for _, p := range append(alone, grouped...) {
		wg.Go(func() { p.done <- s.writeAlone(p, delayed) })
	}
	wg.Wait()
}

// groupSQL writes the events of several appends, each to its own stream at the versions after the
// stream's current one, if every stream's current version is within its request's range; else it
// writes nothing. $1-$3 are the requests (stream, lowest and highest allowed current version),
// $4-$9 the events (request number, ordinal within the request, id, type, data, metadata), $10 the
// synchronous_commit to set, as in appendSQL, and $11 the id each request requires of the event
// at the stream's current version (NULL for none: eventstore.ExactAfter). $12-$15 are the
// requests' conditions on other streams (AppendIf): the request number of each, then its fields as
// appendSQL takes them; a request whose condition fails does not pass.
//
// A request is one stream's part of an append: an AppendAll is a request per stream, its
// conditions none; an AppendIf's conditions are its one request's.
//
// It returns a row per request, in request order: whether its check passed, whether all passed
// (and so everything was written), its stream's last version and position when written, and its
// stream's version as the statement found it.
const groupSQL = `
WITH req AS (
	SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $11::uuid[]) WITH ORDINALITY AS r(stream_id, lo, hi, last, s)
), cur AS (
	SELECT r.s, r.stream_id, m.v,
	       m.v BETWEEN r.lo AND r.hi AND (r.last IS NULL OR
	           (SELECT l.id FROM events l WHERE l.stream_id = r.stream_id AND l.version = m.v) = r.last)
	       AND NOT EXISTS (SELECT 1 FROM unnest($12::bigint[], $13::text[], $14::bigint[], $15::uuid[]) AS c(s, stream_id, v, last)
	                       WHERE c.s = r.s AND NOT (` + condHoldsSQL + `)) AS passed
	FROM req r
	CROSS JOIN LATERAL (SELECT coalesce(max(e.version), 0) AS v FROM events e WHERE e.stream_id = r.stream_id) m
), ok AS (
	SELECT bool_and(cur.passed) AS ok,
	       CASE WHEN $10::text IS NOT NULL THEN set_config('synchronous_commit', $10::text, true) END AS commit_mode
	FROM cur
), ins AS (
	INSERT INTO events (position, stream_id, version, id, type, data, metadata, recorded_at)
	SELECT (pg_current_xact_id()::text::bigint << 20) | (e.n - 1), cur.stream_id, cur.v + e.k, e.id, e.type,
	       e.data::jsonb, nullif(e.metadata, '')::jsonb, now()
	FROM unnest($4::bigint[], $5::bigint[], $6::uuid[], $7::text[], $8::text[], $9::text[]) WITH ORDINALITY AS e(s, k, id, type, data, metadata, n)
	JOIN cur ON cur.s = e.s
	CROSS JOIN ok
	WHERE ok.ok
	RETURNING stream_id, version, position
)
SELECT cur.passed, ok.ok, w.v, w.p, cur.v
FROM cur CROSS JOIN ok
LEFT JOIN (SELECT stream_id, max(version) AS v, max(position) AS p FROM ins GROUP BY stream_id) w ON w.stream_id = cur.stream_id
ORDER BY cur.s`

// groupRefusedError is a group statement that wrote nothing because the checks of the appends
// marked in failed did not pass; stream, expected and actual are the first failed part's.
type groupRefusedError struct {
	failed   []bool
	stream   string
	expected eventstore.ExpectedVersion
	actual   int64
}

func (e *groupRefusedError) Error() string { return "an append of the group was refused" }

// appendGroupSQL writes batch in one statement and returns each append's results, one per part,
// or an error when the statement wrote nothing (a check failed, a unique violation, anything
// else). The parts of an append that name one stream again are one request, their events in
// the order of the parts, so the events are laid out in the log in the order the parts give.
func (s *Store) appendGroupSQL(batch []*pendingAppend, delayed bool) ([][]eventstore.AppendResult, error) {
	var (
		streams                []string
		los, his               []int64
		lasts                  []pgtype.UUID
		reqs, ords             []int64
		ids                    []pgtype.UUID
		types, datas, metadata []string
		conds                  = conditionsOf(nil)
		condReqs               = []int64{}
		owners                 []int                     // the append of each request
		firsts                 []eventstore.StreamAppend // the first part of each request
		written                []int64                   // the events of each request so far
		ends                   = make([][]partEnd, len(batch))
	)
	for i, p := range batch {
		first := int64(len(streams) + 1)
		requests := make(map[string]int, len(p.parts))
		for _, a := range p.parts {
			r, again := requests[a.Stream]
			if !again {
				lo, hi := versionRange(a.Expected)
				streams, los, his = append(streams, a.Stream), append(los, lo), append(his, hi)
				lasts = append(lasts, lastIDArg(a.Expected))
				owners, firsts, written = append(owners, i), append(firsts, a), append(written, 0)
				r = len(streams) - 1
				requests[a.Stream] = r
			}
			for _, e := range a.Events {
				written[r]++
				reqs, ords = append(reqs, int64(r+1)), append(ords, written[r])
				ids = append(ids, pgtype.UUID{Bytes: e.ID, Valid: true})
				types, datas, metadata = append(types, e.Type), append(datas, string(e.Data)), append(metadata, string(e.Metadata))
			}
			ends[i] = append(ends[i], partEnd{request: r, nth: written[r], index: int64(len(ids))})
		}
		conds.add(p.conds)
		for range p.conds {
			condReqs = append(condReqs, first)
		}
	}
	// The group is written under the first append's context: if it ends, the statement fails
	// and every append is written again under its own.
	rows, err := queryGeneric(batch[0].ctx, s.pool, groupSQL, streams, los, his, reqs, ords, ids, types, datas, metadata, commitModeArg(delayed), lasts,
		condReqs, conds.streams, conds.versions, conds.lasts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	refused := &groupRefusedError{failed: make([]bool, len(batch))}
	current := make([]int64, 0, len(streams))
	var xid int64 // the statement's transaction: every position is xid<<positionBits | index-1
	all, failures := true, 0
	for rows.Next() {
		var passed, ok bool
		var version, position *int64
		var cur int64
		if err := rows.Scan(&passed, &ok, &version, &position, &cur); err != nil {
			return nil, err
		}
		n := len(current)
		if n >= len(owners) {
			return nil, fmt.Errorf("group append: more rows than its %d requests", len(owners))
		}
		all = all && ok
		if !passed {
			if failures == 0 {
				refused.stream, refused.expected, refused.actual = firsts[n].Stream, firsts[n].Expected, cur
			}
			refused.failed[owners[n]] = true
			failures++
		}
		if ok && position != nil {
			xid = *position >> positionBits
		}
		current = append(current, cur)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	switch {
	case len(current) != len(owners):
		return nil, fmt.Errorf("group append: %d rows for %d requests", len(current), len(owners))
	case !all:
		return nil, refused
	case xid == 0:
		// Cannot happen: a group that passed wrote every request's events.
		return nil, fmt.Errorf("group append: passed, but no position written")
	}
	results := make([][]eventstore.AppendResult, len(batch))
	for i := range batch {
		for _, e := range ends[i] {
			results[i] = append(results[i], eventstore.AppendResult{Version: current[e.request] + e.nth, Position: eventstore.Position(xid<<positionBits | (e.index - 1))})
		}
	}
	return results, nil
}

// partEnd is where a part of an append ends in a group statement: its request, the place of its
// last event among the request's events and among the statement's.
type partEnd struct {
	request    int
	nth, index int64
}

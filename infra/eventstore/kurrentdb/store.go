// Package kurrentdb is the event store on a KurrentDB (EventStoreDB) server, through
// github.com/EventStore/EventStore-Client-Go/v4.
//
// KurrentDB does what the port asks for natively: streams with optimistic concurrency on the
// stream revision, idempotent appends by event id, and $all, the server's log, in which every event
// has a commit position that only grows and that has no gaps to fear: an event is in $all once it
// is committed, in commit order. Those commit positions are this store's positions.
//
// What this adapter adds: the mapping between our 1-based stream versions and KurrentDB's 0-based
// stream revisions (in one place, see revision), an ExpectedRevision on every append (the client
// defaults to "any" when it is left unset), the actual version on a conflict (read back, since the
// client only puts it in a message string), and keeping KurrentDB's own events ($-prefixed types
// and streams) out of ReadAll, Head and SubscribeAll.
package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

// Store is the KurrentDB event store. It is safe for concurrent use.
type Store struct {
	client *esdb.Client
	owned  bool // Close closes client
}

// New returns a Store on client; closing the client stays with the caller.
func New(client *esdb.Client) *Store {
	return &Store{client: client}
}

// Dial connects to the server at url, a KurrentDB connection string: esdb://host:2113?tls=false
// (kurrentdb:// and kurrentdb+discover:// are taken as esdb:// and esdb+discover://).
func Dial(url string) (*Store, error) {
	for _, scheme := range [][2]string{{"kurrentdb://", "esdb://"}, {"kurrentdb+discover://", "esdb+discover://"}} {
		if rest, ok := strings.CutPrefix(url, scheme[0]); ok {
			url = scheme[1] + rest
		}
	}
	cfg, err := esdb.ParseConnectionString(url)
	if err != nil {
		return nil, fmt.Errorf("parse KurrentDB connection string: %w", err)
	}
	cfg.Logger = esdb.NoopLogging() // every failure is returned to the caller, who logs it once
	client, err := esdb.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("create KurrentDB client: %w", err)
	}
	return &Store{client: client, owned: true}, nil
}

// Close closes the connection Dial opened; for a Store from New it does nothing.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close KurrentDB client: %w", err)
	}
	return nil
}

// revision is where our stream versions meet KurrentDB's stream revisions, in both directions.
//
// Ours are 1-based: the first event of a stream has version 1, and a stream's version is the
// number of its events, so an empty stream is at version 0. KurrentDB's revisions are 0-based: the
// first event has revision 0, and a stream's "current revision" is the revision of its last event
// (with "no stream" a separate case, not a number). So the event at version v has revision v-1,
// a stream at version v (v >= 1) is at revision v-1, and the event at revision r has version r+1.
//
// With toRevision it maps a version v >= 1 to its revision and returns it in rev; without, it maps
// the revision r to its version and returns it in version.
func revision(v int64, r uint64, toRevision bool) (rev uint64, version int64) {
	if toRevision {
		return uint64(v - 1), 0
	}
	return 0, int64(r) + 1
}

func revisionOf(version int64) uint64 { rev, _ := revision(version, 0, true); return rev }
func versionOf(rev uint64) int64      { _, v := revision(0, rev, false); return v }

// expectedRevision maps an expected version to the ExpectedRevision every append sets. It reports
// false for an exact version below 0, which no stream can be at and no revision stands for (Exact(0)
// is NoStream and does not get here).
func expectedRevision(expected eventstore.ExpectedVersion) (esdb.ExpectedRevision, bool) {
	switch {
	case expected.IsNoStream():
		return esdb.NoStream{}, true
	case expected.IsStreamExists():
		return esdb.StreamExists{}, true
	}
	if v, ok := expected.Version(); ok {
		if v < 1 {
			return nil, false
		}
		return esdb.Revision(revisionOf(v)), true
	}
	return esdb.Any{}, true
}

// isCode reports whether err is a KurrentDB client error with code. The client's FromError does
// not unwrap and reports ok for a nil error, so match with errors.As.
func isCode(err error, code esdb.ErrorCode) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == code
}

// Append writes events to stream atomically if the stream's version satisfies expected. Appending
// the same event ids again at the same expected version writes nothing (KurrentDB recognises the
// retry) and returns the version and position they were written at, with Existing set.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.Validate(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	proposed := make([]esdb.EventData, len(events))
	for i, e := range events {
		proposed[i] = esdb.EventData{
			EventID:     e.ID,
			EventType:   e.Type,
			ContentType: esdb.ContentTypeJson,
			Data:        e.Data,
			Metadata:    e.Metadata,
		}
	}
	if err := s.checkLastID(ctx, stream, expected); err != nil {
		return eventstore.AppendResult{}, err
	}
	rev, ok := expectedRevision(expected)
	var res *esdb.WriteResult
	var err error
	if ok {
		res, err = s.client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: rev}, proposed...)
	}
	if !ok || isCode(err, esdb.ErrorCodeWrongExpectedVersion) {
		actual, rerr := s.streamVersion(ctx, stream)
		if rerr != nil {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: expected %s: %w (and %w)", stream, expected, eventstore.ErrWrongVersion, rerr)
		}
		return eventstore.AppendResult{}, &eventstore.WrongVersionError{Stream: stream, Expected: expected, Actual: actual}
	}
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", stream, err)
	}
	out := eventstore.AppendResult{Version: versionOf(res.NextExpectedVersion), Position: eventstore.Position(res.CommitPosition)}
	if res.CommitPosition == 0 {
		// An idempotent retry is answered without a position: look up where the last event is.
		recs, err := s.ReadStream(ctx, stream, out.Version, 1)
		if err != nil || len(recs) != 1 {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: find the position of version %d: %d events, %w", stream, out.Version, len(recs), err)
		}
		out.Position, out.Existing = recs[0].Position, true
	}
	return out, nil
}

// checkLastID refuses an append whose expected version (eventstore.ExactAfter) requires another
// id of the event at the stream's current version. KurrentDB has no such condition, so the event
// is read first: a stream that moves between the read and the append is caught by the expected
// revision. A stream at another version is left to the append, which tells a retry of an append
// that went through from a wrong version.
func (s *Store) checkLastID(ctx context.Context, stream string, expected eventstore.ExpectedVersion) error {
	want, ok := expected.LastID()
	if !ok {
		return nil
	}
	v, _ := expected.Version()
	recs, err := s.ReadStreamBackward(ctx, stream, 1)
	switch {
	case errors.Is(err, eventstore.ErrStreamNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("append to %s: read its last event: %w", stream, err)
	case recs[0].Version == v && recs[0].ID != want:
		return &eventstore.WrongVersionError{Stream: stream, Expected: expected, Actual: v}
	}
	return nil
}

// streamVersion returns the version of stream: the number of its events, 0 when it has none.
func (s *Store) streamVersion(ctx context.Context, stream string) (int64, error) {
	recs, err := s.ReadStreamBackward(ctx, stream, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return recs[0].Version, nil
}

// record converts a recorded event. Reads of $all carry the event's commit position; stream reads
// come from the index, which (on some server versions) has no commit position and sends the
// maximum instead. Events written by appends are their own commit, so their commit position
// equals their prepare position, which stream reads do carry.
func record(ev *esdb.RecordedEvent) eventstore.Record {
	pos := ev.Position.Commit
	if pos == math.MaxUint64 || pos == 0 {
		pos = ev.Position.Prepare
	}
	return eventstore.Record{
		ID:         ev.EventID,
		Type:       ev.EventType,
		Data:       ev.Data,
		Metadata:   ev.UserMetadata,
		Stream:     ev.StreamID,
		Version:    versionOf(ev.EventNumber),
		Position:   eventstore.Position(pos),
		RecordedAt: ev.CreatedDate,
	}
}

// system reports whether ev is KurrentDB's own: $-prefixed event types (metadata, links,
// statistics) and streams.
func system(ev *esdb.RecordedEvent) bool {
	return strings.HasPrefix(ev.EventType, "$") || strings.HasPrefix(ev.StreamID, "$")
}

func count(limit int) uint64 {
	if limit <= 0 {
		return math.MaxInt64
	}
	return uint64(limit)
}

// readStream drains a read of stream.
func (s *Store) readStream(ctx context.Context, stream string, opts esdb.ReadStreamOptions, limit int) ([]eventstore.Record, error) {
	rs, err := s.client.ReadStream(ctx, stream, opts, count(limit))
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var recs []eventstore.Record
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if isCode(err, esdb.ErrorCodeResourceNotFound) {
			return nil, eventstore.ErrStreamNotFound
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, record(ev.OriginalEvent()))
	}
	if len(recs) == 0 && opts.Direction == esdb.Backwards {
		return nil, eventstore.ErrStreamNotFound
	}
	return recs, nil
}

// ReadStream returns up to limit events of stream with version >= from, oldest first; a limit of 0
// or less means all of them.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.Record, error) {
	from = max(from, 1)
	recs, err := s.readStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(revisionOf(from))}, limit)
	if err != nil {
		return nil, fmt.Errorf("read stream %s from %d: %w", stream, from, err)
	}
	return recs, nil
}

// ReadStreamBackward returns up to limit events of stream, newest first; a limit of 0 or less means
// all of them.
func (s *Store) ReadStreamBackward(ctx context.Context, stream string, limit int) ([]eventstore.Record, error) {
	recs, err := s.readStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, limit)
	if err != nil {
		return nil, fmt.Errorf("read stream %s backward: %w", stream, err)
	}
	return recs, nil
}

// allPosition is where a read of $all after position from starts. Forward reads of $all include
// the event at their start position, so callers skip commit positions <= from.
func allPosition(from eventstore.Position) esdb.AllPosition {
	if from == 0 {
		return esdb.Start{}
	}
	return esdb.Position{Commit: uint64(from), Prepare: uint64(from)}
}

// readAllChunk is how many events one read of $all asks for while it filters out system events.
const readAllChunk = 512

// ReadAll returns up to limit events of $all after position from, in log order, without
// KurrentDB's own events; a limit of 0 or less means all of them.
func (s *Store) ReadAll(ctx context.Context, from eventstore.Position, limit int) ([]eventstore.Record, error) {
	var recs []eventstore.Record
	cursor := from
	for limit <= 0 || len(recs) < limit {
		want := readAllChunk
		if limit > 0 {
			want = min(readAllChunk, limit-len(recs)+1) // +1: the event at cursor comes back
		}
		rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: allPosition(cursor)}, uint64(want))
		if err != nil {
			return nil, fmt.Errorf("read all from %d: %w", from, err)
		}
		n, more := 0, false
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return nil, fmt.Errorf("read all from %d: %w", from, err)
			}
			n++
			e := ev.OriginalEvent()
			if e.Position.Commit <= uint64(cursor) && cursor != 0 {
				continue
			}
			cursor = eventstore.Position(e.Position.Commit)
			more = true
			if system(e) {
				continue
			}
			recs = append(recs, record(e))
			if limit > 0 && len(recs) == limit {
				break
			}
		}
		rs.Close()
		if n < want || !more {
			break // the end of $all
		}
	}
	return recs, nil
}

// Head returns the commit position of the last event in $all that is not KurrentDB's own.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var from esdb.AllPosition = esdb.End{}
	for {
		rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: from}, readAllChunk)
		if err != nil {
			return 0, fmt.Errorf("read head of $all: %w", err)
		}
		n := 0
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return 0, fmt.Errorf("read head of $all: %w", err)
			}
			n++
			e := ev.OriginalEvent()
			if !system(e) {
				rs.Close()
				return eventstore.Position(e.Position.Commit), nil
			}
			from = e.Position
		}
		rs.Close()
		if n < readAllChunk {
			return 0, nil
		}
	}
}

// Ping checks that the server answers a read.
func (s *Store) Ping(ctx context.Context) error {
	rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err == nil {
		defer rs.Close()
		_, err = rs.Recv()
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("ping KurrentDB: %w", err)
	}
	return nil
}

// A dropped subscription is opened again after a growing delay; after maxDrops drops in a row
// without an event in between (about half a minute), SubscribeAll gives up.
const (
	resubscribeMin = 50 * time.Millisecond
	resubscribeMax = 5 * time.Second
	maxDrops       = 10
)

// SubscribeAll calls handle with the events of $all after position from, one at a time, without
// KurrentDB's own events (filtered on the server): first what is stored, then live. A dropped
// subscription is opened again from the last handled position. It returns ctx.Err() when ctx ends,
// handle's error wrapped, or the server's error once it has failed for about half a minute.
func (s *Store) SubscribeAll(ctx context.Context, from eventstore.Position, handle func(context.Context, []eventstore.Record) error) error {
	drops := 0
	for {
		err := s.subscribeOnce(ctx, &from, handle, &drops)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var herr handlerError
		if errors.As(err, &herr) {
			return fmt.Errorf("subscribe to all: %w", herr.err)
		}
		drops++
		if drops == maxDrops {
			return fmt.Errorf("subscribe to all: dropped %d times in a row: %w", drops, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(resubscribeMin<<drops, resubscribeMax)):
		}
	}
}

type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }

// subscribeOnce runs one subscription until it drops, advancing from and resetting drops with
// every handled event.
func (s *Store) subscribeOnce(ctx context.Context, from *eventstore.Position, handle func(context.Context, []eventstore.Record) error, drops *int) error {
	sub, err := s.client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
		From:   allPosition(*from),
		Filter: esdb.ExcludeSystemEventsFilter(),
	})
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		msg := sub.Recv()
		switch {
		case msg.SubscriptionDropped != nil:
			return msg.SubscriptionDropped.Error
		case msg.EventAppeared != nil:
			e := msg.EventAppeared.OriginalEvent()
			if (*from != 0 && e.Position.Commit <= uint64(*from)) || system(e) {
				continue
			}
			r := record(e)
			if err := handle(ctx, []eventstore.Record{r}); err != nil {
				return handlerError{fmt.Errorf("handle event at %d: %w", r.Position, err)}
			}
			*from = r.Position
			*drops = 0
		}
	}
}

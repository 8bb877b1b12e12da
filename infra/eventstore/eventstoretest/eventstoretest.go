// Package eventstoretest is the contract every eventstore.Store adapter passes: Run it from the
// adapter's tests with a function that returns a store for one test.
//
// The store a test gets may hold other data and may be written by other tests at the same time (a
// shared KurrentDB server): every test writes to streams of its own and looks at the global log
// only through those streams. The global log is read as an eventually consistent log: a test that
// has appended waits (with a deadline) until its events are visible there, never assumes they are
// at once.
package eventstoretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Run runs the contract against the stores newStore returns. Subtests run in parallel; newStore
// is called once per subtest, with the subtest's t.
func Run(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s eventstore.Store)
	}{
		{"ExpectedVersions", testExpectedVersions},
		{"ExpectedLastEvent", testExpectedLastEvent},
		{"ConcurrentAppendsToOneStream", testConcurrentAppendsToOneStream},
		{"IdempotentReappend", testIdempotentReappend},
		{"MultiEventAppendIsAtomic", testMultiEventAppendIsAtomic},
		{"ReadStream", testReadStream},
		{"ReadAll", testReadAll},
		{"BadInput", testBadInput},
		{"SubscribeLiveAndErrors", testSubscribeLiveAndErrors},
		{"SubscriberSeesEveryEventOnceAcrossRestart", testSubscriberAcrossRestart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, newStore(t))
		})
	}
	// A store that checks conditions on other streams (eventstore.ConditionalAppender) keeps
	// their contract; one that does not has nothing to check.
	for _, tt := range []struct {
		name string
		test func(*testing.T, eventstore.Store, eventstore.ConditionalAppender)
	}{
		{"ConditionalAppend", testConditionalAppend},
		{"ConcurrentConditionalAppends", testConcurrentConditionalAppends},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			c, ok := s.(eventstore.ConditionalAppender)
			if !ok {
				t.Logf("%T has no conditional appends: nothing to check", s)
				return
			}
			tt.test(t, s, c)
		})
	}
	// A store that appends to several streams at once (eventstore.MultiAppender) keeps its
	// contract; one that does not has nothing to check.
	t.Run("AppendAll", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m, ok := s.(eventstore.MultiAppender)
		if !ok {
			t.Logf("%T has no multi-stream appends: nothing to check", s)
			return
		}
		testAppendAll(t, s, m)
	})
	// A store that offers delayed appends keeps the same contract with them: the tests that
	// write run again with every Append made by AppendDelayed.
	for _, tt := range tests[:6] {
		t.Run("Delayed"+tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			d, ok := s.(eventstore.DelayedAppender)
			if !ok {
				t.Logf("%T has no delayed appends: nothing to check", s)
				return
			}
			tt.test(t, delayedStore{Store: s, d: d})
			if err := d.WaitDurable(testContext(t)); err != nil {
				t.Fatalf("WaitDurable = %v", err)
			}
		})
	}
}

// delayedStore is a store whose Append is AppendDelayed.
type delayedStore struct {
	eventstore.Store
	d eventstore.DelayedAppender
}

func (s delayedStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	return s.d.AppendDelayed(ctx, stream, expected, events...)
}

// timeout bounds every wait in the suite. It is generous: the machine may be busy.
const timeout = 30 * time.Second

// ReadAllTo reads the whole global log of s once it shows every event up to pos, for tests that
// compare what they wrote with the log. A store's log may hold a committed event back for a
// moment (the Postgres horizon is computed per statement and can be held back again by a
// transaction of another database ending), so a single read right after an append, or after
// Head returned pos, can stop short of it: ReadAllTo reads until it does not, for up to timeout.
func ReadAllTo(ctx context.Context, s eventstore.Store, pos eventstore.Position) ([]eventstore.Record, error) {
	deadline := time.Now().Add(timeout)
	for {
		recs, err := s.ReadAll(ctx, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("read the log: %w", err)
		}
		if len(recs) > 0 && recs[len(recs)-1].Position >= pos {
			return recs, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("read the log: position %d not shown within %s", pos, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*timeout)
	t.Cleanup(cancel)
	return ctx
}

// newStream returns a stream id no other test uses.
func newStream(t *testing.T, name string) string {
	return "contract-" + name + "-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
}

// newEvent returns an event with a fresh id, JSON data carrying n and metadata.
func newEvent(typ string, n int) eventstore.EventData {
	return eventstore.EventData{
		ID:       uuid.New(),
		Type:     typ,
		Data:     json.RawMessage(fmt.Sprintf(`{"n": %d, "note": "contract"}`, n)),
		Metadata: eventstore.Metadata{CorrelationID: uuid.New(), ActorRole: "test"}.Marshal(),
	}
}

func newEvents(typ string, count int) []eventstore.EventData {
	events := make([]eventstore.EventData, count)
	for i := range events {
		events[i] = newEvent(typ, i+1)
	}
	return events
}

// jsonEqual reports whether a and b are the same JSON value, whatever their spacing and key order.
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// reappended is what a re-append of the events of the append that answered r answers: where
// they are, and that nothing was written.
func reappended(r eventstore.AppendResult) eventstore.AppendResult {
	r.Existing = true
	return r
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(testContext(t), stream, expected, events...)
	if err != nil {
		t.Fatalf("Append(%s, %s, %d events) = %v, want success", stream, expected, len(events), err)
	}
	return res
}

func readStream(t *testing.T, s eventstore.Store, stream string) []eventstore.Record {
	t.Helper()
	recs, err := s.ReadStream(testContext(t), stream, 1, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("ReadStream(%s, 1, 0) = %v", stream, err)
	}
	return recs
}

// checkRecord checks that r is e as stored in stream at version.
func checkRecord(t *testing.T, r eventstore.Record, stream string, version int64, e eventstore.EventData) {
	t.Helper()
	switch {
	case r.ID != e.ID:
		t.Fatalf("record %s@%d: id %s, want %s", r.Stream, r.Version, r.ID, e.ID)
	case r.Stream != stream || r.Version != version:
		t.Fatalf("event %s: read at %s@%d, want %s@%d", e.ID, r.Stream, r.Version, stream, version)
	case r.Type != e.Type:
		t.Fatalf("event %s: type %q, want %q", e.ID, r.Type, e.Type)
	case !jsonEqual(r.Data, e.Data):
		t.Fatalf("event %s: data %s, want %s", e.ID, r.Data, e.Data)
	case !jsonEqual(r.Metadata, e.Metadata):
		t.Fatalf("event %s: metadata %s, want %s", e.ID, r.Metadata, e.Metadata)
	case r.Position == 0:
		t.Fatalf("event %s: position 0, want the event's place in the global log", e.ID)
	case time.Since(r.RecordedAt).Abs() > time.Hour:
		t.Fatalf("event %s: recorded at %s, want about now", e.ID, r.RecordedAt)
	}
}

// ownLog collects the events of the global log that belong to a test's streams.
type ownLog struct {
	prefix string
	recs   []eventstore.Record
	last   eventstore.Position
}

// readAllUntil reads the global log after from, in pages of page events, keeping the events of
// streams starting with prefix, until it holds want of them or the deadline passes.
func readAllUntil(t *testing.T, s eventstore.Store, from eventstore.Position, prefix string, page, want int) []eventstore.Record {
	t.Helper()
	ctx := testContext(t)
	log := ownLog{prefix: prefix, last: from}
	deadline := time.Now().Add(timeout)
	for {
		recs, err := s.ReadAll(ctx, log.last, page)
		if err != nil {
			t.Fatalf("ReadAll(%d, %d) = %v", log.last, page, err)
		}
		if page > 0 && len(recs) > page {
			t.Fatalf("ReadAll(%d, %d) returned %d events, more than the limit", log.last, page, len(recs))
		}
		for _, r := range recs {
			if r.Position <= log.last {
				t.Fatalf("ReadAll(%d, %d): position %d after %d, want strictly growing positions after from", from, page, r.Position, log.last)
			}
			log.last = r.Position
			if strings.HasPrefix(r.Stream, prefix) {
				log.recs = append(log.recs, r)
			}
		}
		if len(log.recs) >= want {
			return log.recs
		}
		if len(recs) == 0 || (page > 0 && len(recs) < page) {
			if time.Now().After(deadline) {
				t.Fatalf("ReadAll after %d: %d events of %s* visible after %s, want %d", from, len(log.recs), prefix, timeout, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func head(t *testing.T, s eventstore.Store) eventstore.Position {
	t.Helper()
	p, err := s.Head(testContext(t))
	if err != nil {
		t.Fatalf("Head() = %v", err)
	}
	return p
}

func testExpectedVersions(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	tests := []struct {
		name     string
		given    int // events already in the stream
		expected eventstore.ExpectedVersion
		wantErr  bool // ErrWrongVersion with the actual version, else success
	}{
		{"any on a new stream", 0, eventstore.Any, false},
		{"any on a stream", 2, eventstore.Any, false},
		{"no stream on a new stream", 0, eventstore.NoStream, false},
		{"no stream on a stream", 1, eventstore.NoStream, true},
		{"exact 0 on a new stream", 0, eventstore.Exact(0), false},
		{"exact 0 on a stream", 2, eventstore.Exact(0), true},
		{"stream exists on a new stream", 0, eventstore.StreamExists, true},
		{"stream exists on a stream", 3, eventstore.StreamExists, false},
		{"exact version", 3, eventstore.Exact(3), false},
		{"exact version behind", 3, eventstore.Exact(2), true},
		{"exact version ahead", 3, eventstore.Exact(4), true},
		{"exact version on a new stream", 0, eventstore.Exact(1), true},
		{"negative exact version", 1, eventstore.Exact(-1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := newStream(t, "expected")
			var prev eventstore.AppendResult
			if tt.given > 0 {
				prev = mustAppend(t, s, stream, eventstore.NoStream, newEvents("contract.given.v1", tt.given)...)
			}
			events := newEvents("contract.when.v1", 2)
			res, err := s.Append(ctx, stream, tt.expected, events...)
			if tt.wantErr {
				var wv *eventstore.WrongVersionError
				if !errors.Is(err, eventstore.ErrWrongVersion) || !errors.As(err, &wv) {
					t.Fatalf("Append(%s) on a stream at version %d = %v, %v; want a *WrongVersionError", tt.expected, tt.given, res, err)
				}
				if wv.Actual != int64(tt.given) || wv.Stream != stream || wv.Expected != tt.expected {
					t.Fatalf("Append(%s) on a stream at version %d: error %+v, want stream %s, expected %s, actual %d", tt.expected, tt.given, *wv, stream, tt.expected, tt.given)
				}
				if got := readStream(t, s, stream); len(got) != tt.given {
					t.Fatalf("after a refused append the stream has %d events, want %d", len(got), tt.given)
				}
				return
			}
			if err != nil {
				t.Fatalf("Append(%s) on a stream at version %d = %v, want success", tt.expected, tt.given, err)
			}
			if res.Version != int64(tt.given+2) {
				t.Fatalf("Append(%s) on a stream at version %d: version %d, want %d", tt.expected, tt.given, res.Version, tt.given+2)
			}
			if res.Position <= prev.Position {
				t.Fatalf("Append: position %d, not after the previous append's %d", res.Position, prev.Position)
			}
			got := readStream(t, s, stream)
			if len(got) != tt.given+2 {
				t.Fatalf("stream has %d events, want %d", len(got), tt.given+2)
			}
			for i, e := range events {
				checkRecord(t, got[tt.given+i], stream, int64(tt.given+i+1), e)
			}
			if got[len(got)-1].Position != res.Position {
				t.Fatalf("last event read at position %d, Append returned %d", got[len(got)-1].Position, res.Position)
			}
		})
	}
}

// testExpectedLastEvent checks eventstore.ExactAfter: the append needs the version and the id of
// the event at it, a retry of an append that went through is still answered with its result, and
// concurrent appends with right and wrong ids (which a store may write together) each get their
// own answer.
func testExpectedLastEvent(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := newStream(t, "last")
	given := newEvents("contract.given.v1", 3)
	mustAppend(t, s, stream, eventstore.NoStream, given...)
	next := newEvents("contract.when.v1", 2)
	res := mustAppend(t, s, stream, eventstore.ExactAfter(3, given[2].ID), next...)
	if res.Version != 5 {
		t.Fatalf("Append(ExactAfter(3, last id)) = version %d, want 5", res.Version)
	}
	again, err := s.Append(ctx, stream, eventstore.ExactAfter(3, given[2].ID), next...)
	if err != nil || again != reappended(res) {
		t.Fatalf("re-append at ExactAfter(3, last id) = %+v, %v; want %+v, nil", again, err, reappended(res))
	}
	for _, expected := range []eventstore.ExpectedVersion{
		eventstore.ExactAfter(5, uuid.New()),  // the version, another event
		eventstore.ExactAfter(5, given[2].ID), // the version, an earlier event's id
		eventstore.ExactAfter(4, next[0].ID),  // an earlier version and its event
		eventstore.ExactAfter(6, uuid.New()),  // a version ahead
	} {
		_, err := s.Append(ctx, stream, expected, newEvent("contract.refused.v1", 1))
		var wv *eventstore.WrongVersionError
		if !errors.As(err, &wv) || wv.Actual != 5 {
			t.Fatalf("Append(%s) on a stream at version 5 = %v, want a *WrongVersionError at 5", expected, err)
		}
	}
	if got := readStream(t, s, stream); len(got) != 5 {
		t.Fatalf("after refused appends the stream has %d events, want 5", len(got))
	}

	const streams = 24
	firsts := make([]eventstore.EventData, streams)
	names := make([]string, streams)
	for i := range streams {
		names[i], firsts[i] = newStream(t, "last-concurrent"), newEvent("contract.given.v1", i)
		mustAppend(t, s, names[i], eventstore.NoStream, firsts[i])
	}
	errs := make([]error, streams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			last := firsts[i].ID
			if i%2 == 1 {
				last = uuid.New()
			}
			_, errs[i] = s.Append(ctx, names[i], eventstore.ExactAfter(1, last), newEvent("contract.when.v1", i))
		})
	}
	wg.Wait()
	for i, err := range errs {
		want := int64(2)
		if i%2 == 1 {
			want = 1
			if !errors.Is(err, eventstore.ErrWrongVersion) {
				t.Errorf("concurrent append %d with a wrong last id = %v, want ErrWrongVersion", i, err)
			}
		} else if err != nil {
			t.Errorf("concurrent append %d with the right last id = %v, want success", i, err)
		}
		if got := readStream(t, s, names[i]); int64(len(got)) != want {
			t.Errorf("stream %d has %d events after the concurrent appends, want %d", i, len(got), want)
		}
	}
}

// testConcurrentAppendsToOneStream runs 32 writers that each read the stream's version and append at
// it: exactly one append per version may win.
func testConcurrentAppendsToOneStream(t *testing.T, s eventstore.Store) {
	const writers, attempts = 32, 8
	ctx := testContext(t)
	stream := newStream(t, "race")
	type ack struct {
		id      uuid.UUID
		version int64
	}
	var (
		mu      sync.Mutex
		acks    []ack
		refused int
		wg      sync.WaitGroup
		errs    = make(chan error, writers)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range attempts {
				var version int64
				last, err := s.ReadStreamBackward(ctx, stream, 1)
				switch {
				case errors.Is(err, eventstore.ErrStreamNotFound):
				case err != nil:
					errs <- fmt.Errorf("writer %d: ReadStreamBackward = %w", w, err)
					return
				default:
					version = last[0].Version
				}
				e := newEvent("contract.race.v1", w*attempts+i)
				res, err := s.Append(ctx, stream, eventstore.Exact(version), e)
				var wv *eventstore.WrongVersionError
				switch {
				case err == nil:
					if res.Version != version+1 {
						errs <- fmt.Errorf("writer %d: Append(Exact(%d)) = version %d, want %d", w, version, res.Version, version+1)
						return
					}
					mu.Lock()
					acks = append(acks, ack{e.ID, res.Version})
					mu.Unlock()
				case errors.As(err, &wv) && errors.Is(err, eventstore.ErrWrongVersion):
					if wv.Actual <= version {
						errs <- fmt.Errorf("writer %d: Append(Exact(%d)) refused with actual version %d, want a later version", w, version, wv.Actual)
						return
					}
					mu.Lock()
					refused++
					mu.Unlock()
				default:
					errs <- fmt.Errorf("writer %d: Append(Exact(%d)) = %v, want success or ErrWrongVersion", w, version, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := readStream(t, s, stream)
	if len(got) != len(acks) {
		t.Fatalf("stream has %d events, %d appends were acknowledged (%d refused)", len(got), len(acks), refused)
	}
	if len(acks)+refused != writers*attempts {
		t.Fatalf("%d acknowledged + %d refused, want %d attempts", len(acks), refused, writers*attempts)
	}
	byID := make(map[uuid.UUID]eventstore.Record, len(got))
	for i, r := range got {
		if r.Version != int64(i+1) {
			t.Fatalf("event %d of the stream has version %d: versions are not contiguous", i+1, r.Version)
		}
		byID[r.ID] = r
	}
	for _, a := range acks {
		r, ok := byID[a.id]
		if !ok || r.Version != a.version {
			t.Fatalf("acknowledged event %s at version %d: read %+v (found %v)", a.id, a.version, r, ok)
		}
	}
	t.Logf("%d writers: %d appends won, %d refused", writers, len(acks), refused)
}

func testIdempotentReappend(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := newStream(t, "idempotent")
	first := newEvents("contract.first.v1", 2)
	r1 := mustAppend(t, s, stream, eventstore.NoStream, first...)
	if r1.Existing {
		t.Fatalf("first append of new events = %+v, want Existing false", r1)
	}
	again, err := s.Append(ctx, stream, eventstore.NoStream, first...)
	if err != nil || again != reappended(r1) {
		t.Fatalf("re-append of the first events at no stream = %+v, %v; want %+v, nil", again, err, reappended(r1))
	}
	second := newEvents("contract.second.v1", 1)
	r2 := mustAppend(t, s, stream, eventstore.Exact(2), second...)
	if r2.Existing {
		t.Fatalf("append of a new event at version 2 = %+v, want Existing false", r2)
	}
	again, err = s.Append(ctx, stream, eventstore.Exact(2), second...)
	if err != nil || again != reappended(r2) {
		t.Fatalf("re-append of the second event at version 2 = %+v, %v; want %+v, nil", again, err, reappended(r2))
	}
	again, err = s.Append(ctx, stream, eventstore.NoStream, first...)
	if err != nil || again != reappended(r1) {
		t.Fatalf("re-append of the first events at no stream, after more events = %+v, %v; want %+v, nil", again, err, reappended(r1))
	}
	got := readStream(t, s, stream)
	if len(got) != 3 {
		t.Fatalf("after re-appends the stream has %d events, want 3", len(got))
	}
	for i, e := range append(first, second...) {
		checkRecord(t, got[i], stream, int64(i+1), e)
	}
	// New ids at a stale version are a conflict, not a retry.
	_, err = s.Append(ctx, stream, eventstore.Exact(2), newEvent("contract.third.v1", 1))
	if !errors.Is(err, eventstore.ErrWrongVersion) {
		t.Fatalf("new event at stale version 2 = %v, want ErrWrongVersion", err)
	}
}

func testMultiEventAppendIsAtomic(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := newStream(t, "atomic")
	events := newEvents("contract.batch.v1", 5)
	res := mustAppend(t, s, stream, eventstore.NoStream, events...)
	if res.Version != 5 {
		t.Fatalf("append of 5 events: version %d, want 5", res.Version)
	}
	got := readStream(t, s, stream)
	if len(got) != 5 {
		t.Fatalf("stream has %d events, want 5", len(got))
	}
	for i, e := range events {
		checkRecord(t, got[i], stream, int64(i+1), e)
		if i > 0 && got[i].Position <= got[i-1].Position {
			t.Fatalf("event %d at position %d, not after event %d at %d", i+1, got[i].Position, i, got[i-1].Position)
		}
	}
	if got[4].Position != res.Position {
		t.Fatalf("last event at position %d, Append returned %d", got[4].Position, res.Position)
	}
	// A batch refused by its expected version writes none of its events.
	_, err := s.Append(ctx, stream, eventstore.Exact(4), newEvents("contract.late.v1", 3)...)
	if !errors.Is(err, eventstore.ErrWrongVersion) {
		t.Fatalf("batch at stale version 4 = %v, want ErrWrongVersion", err)
	}
	// A batch with one bad event writes none of its events.
	bad := newEvents("contract.late.v1", 3)
	bad[2].Data = json.RawMessage(`{"broken":`)
	if _, err := s.Append(ctx, stream, eventstore.Exact(5), bad...); !errors.Is(err, eventstore.ErrInvalid) {
		t.Fatalf("batch with a bad third event = %v, want ErrInvalid", err)
	}
	if got := readStream(t, s, stream); len(got) != 5 {
		t.Fatalf("after refused batches the stream has %d events, want 5", len(got))
	}
	// In the global log the batch is contiguous and in order.
	all := readAllUntil(t, s, got[0].Position-1, stream, 100, 5)
	for i, r := range all {
		if r.ID != events[i].ID {
			t.Fatalf("global log: event %d of the batch is %s, want %s", i+1, r.ID, events[i].ID)
		}
	}
}

func testReadStream(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := newStream(t, "read")
	events := newEvents("contract.read.v1", 10)
	mustAppend(t, s, stream, eventstore.NoStream, events[:4]...)
	mustAppend(t, s, stream, eventstore.Exact(4), events[4:]...)

	forward := []struct {
		from        int64
		limit       int
		first, last int64 // versions expected; last < first for none
	}{
		{1, 0, 1, 10},
		{1, 10, 1, 10},
		{1, 100, 1, 10},
		{4, 3, 4, 6},
		{8, 10, 8, 10},
		{10, 1, 10, 10},
		{11, 5, 11, 10},
	}
	for _, tt := range forward {
		got, err := s.ReadStream(ctx, stream, tt.from, tt.limit)
		if err != nil {
			t.Fatalf("ReadStream(from %d, limit %d) = %v", tt.from, tt.limit, err)
		}
		if want := int(tt.last - tt.first + 1); len(got) != want {
			t.Fatalf("ReadStream(from %d, limit %d) returned %d events, want %d", tt.from, tt.limit, len(got), want)
		}
		for i, r := range got {
			v := tt.first + int64(i)
			checkRecord(t, r, stream, v, events[v-1])
		}
	}
	backward := []struct {
		limit int
		want  int
	}{{0, 10}, {3, 3}, {10, 10}, {20, 10}}
	for _, tt := range backward {
		got, err := s.ReadStreamBackward(ctx, stream, tt.limit)
		if err != nil {
			t.Fatalf("ReadStreamBackward(limit %d) = %v", tt.limit, err)
		}
		if len(got) != tt.want {
			t.Fatalf("ReadStreamBackward(limit %d) returned %d events, want %d", tt.limit, len(got), tt.want)
		}
		for i, r := range got {
			v := int64(10 - i)
			checkRecord(t, r, stream, v, events[v-1])
		}
	}
	missing := newStream(t, "missing")
	if _, err := s.ReadStream(ctx, missing, 1, 10); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("ReadStream of a stream with no events = %v, want ErrStreamNotFound", err)
	}
	if _, err := s.ReadStreamBackward(ctx, missing, 10); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("ReadStreamBackward of a stream with no events = %v, want ErrStreamNotFound", err)
	}
}

func testReadAll(t *testing.T, s eventstore.Store) {
	start := head(t, s)
	prefix := newStream(t, "all")
	streams := []string{prefix + "-a", prefix + "-b", prefix + "-c"}
	var want []eventstore.EventData
	var wantStream []string
	var last eventstore.AppendResult
	for round := range 4 {
		for i, stream := range streams {
			events := newEvents("contract.all.v1", 1+(round+i)%3)
			last = mustAppend(t, s, stream, eventstore.Any, events...)
			for range events {
				wantStream = append(wantStream, stream)
			}
			want = append(want, events...)
		}
	}
	for _, page := range []int{0, 1, 4, 1000} {
		got := readAllUntil(t, s, start, prefix, page, len(want))
		if len(got) != len(want) {
			t.Fatalf("ReadAll in pages of %d: %d events of this test, want %d", page, len(got), len(want))
		}
		versions := map[string]int64{}
		for i, r := range got {
			versions[r.Stream]++
			checkRecord(t, r, wantStream[i], versions[r.Stream], want[i])
		}
		if got[len(got)-1].Position != last.Position {
			t.Fatalf("last event of the log at %d, its append returned %d", got[len(got)-1].Position, last.Position)
		}
	}
	if h := head(t, s); h < last.Position {
		t.Fatalf("Head() = %d, before the last visible event at %d", h, last.Position)
	}
	after, err := s.ReadAll(testContext(t), last.Position, 100)
	if err != nil {
		t.Fatalf("ReadAll(%d) = %v", last.Position, err)
	}
	for _, r := range after {
		if strings.HasPrefix(r.Stream, prefix) {
			t.Fatalf("ReadAll after the last event returned %s@%d again", r.Stream, r.Version)
		}
	}
}

func testBadInput(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	start := head(t, s)
	stream := newStream(t, "bad")
	good := func() eventstore.EventData { return newEvent("contract.bad.v1", 1) }
	var tried []uuid.UUID
	tests := []struct {
		name   string
		stream string
		edit   func(*eventstore.EventData)
	}{
		{"empty stream id", "", func(*eventstore.EventData) {}},
		{"empty type", stream, func(e *eventstore.EventData) { e.Type = "" }},
		{"data not JSON", stream, func(e *eventstore.EventData) { e.Data = json.RawMessage(`{"n": 1`) }},
		{"empty data", stream, func(e *eventstore.EventData) { e.Data = nil }},
		{"metadata not JSON", stream, func(e *eventstore.EventData) { e.Metadata = json.RawMessage(`not json`) }},
		{"nil id", stream, func(e *eventstore.EventData) { e.ID = uuid.Nil }},
	}
	for _, tt := range tests {
		for _, batch := range []int{1, 3} {
			events := make([]eventstore.EventData, batch)
			for i := range events {
				events[i] = good()
			}
			tt.edit(&events[batch-1])
			for _, e := range events {
				tried = append(tried, e.ID)
			}
			res, err := s.Append(ctx, tt.stream, eventstore.Any, events...)
			if !errors.Is(err, eventstore.ErrInvalid) {
				t.Fatalf("%s, last of %d events: Append = %+v, %v; want ErrInvalid", tt.name, batch, res, err)
			}
		}
	}
	if _, err := s.Append(ctx, stream, eventstore.Any); !errors.Is(err, eventstore.ErrInvalid) {
		t.Fatalf("Append of no events = %v, want ErrInvalid", err)
	}
	if got := readStream(t, s, stream); len(got) != 0 {
		t.Fatalf("after bad appends the stream has %d events, want none", len(got))
	}
	// Nothing reached the global log either: a good event appended afterwards is the first one
	// of this test there.
	sentinel := newStream(t, "bad")
	mustAppend(t, s, sentinel, eventstore.NoStream, good())
	readAllUntil(t, s, start, sentinel, 0, 1)
	bad := make(map[uuid.UUID]bool, len(tried))
	for _, id := range tried {
		bad[id] = true
	}
	for _, r := range readAllUntil(t, s, start, "", 0, 0) {
		if bad[r.ID] || r.Stream == stream {
			t.Fatalf("a refused event is in the global log: %s@%d id %s", r.Stream, r.Version, r.ID)
		}
	}
}

func testSubscribeLiveAndErrors(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := newStream(t, "live")
	start := head(t, s)

	// Live: events appended after the subscription started arrive.
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan eventstore.Record, 100)
	done := make(chan error, 1)
	go func() {
		done <- s.SubscribeAll(subCtx, start, func(_ context.Context, recs []eventstore.Record) error {
			for _, r := range recs {
				if r.Stream == stream {
					got <- r
				}
			}
			return nil
		})
	}()
	events := newEvents("contract.live.v1", 3)
	for i, e := range events {
		time.Sleep(20 * time.Millisecond)
		mustAppend(t, s, stream, eventstore.Exact(int64(i)), e)
	}
	for i, e := range events {
		select {
		case r := <-got:
			checkRecord(t, r, stream, int64(i+1), e)
		case err := <-done:
			t.Fatalf("SubscribeAll ended early: %v", err)
		case <-time.After(timeout):
			t.Fatalf("live event %d not delivered within %s", i+1, timeout)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("SubscribeAll after its context ended = %v, want context.Canceled", err)
		}
	case <-time.After(timeout):
		t.Fatalf("SubscribeAll did not return within %s of its context ending", timeout)
	}

	// A handler error ends the subscription with that error.
	boom := errors.New("handler refused")
	err := s.SubscribeAll(ctx, start, func(_ context.Context, recs []eventstore.Record) error {
		for _, r := range recs {
			if r.Stream == stream {
				return boom
			}
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("SubscribeAll with a failing handler = %v, want its error", err)
	}
}

// testSubscriberAcrossRestart runs 8 writers appending 20,000 events to 1,000 streams while a
// subscriber follows the log, stops, and resumes from its checkpoint: it must see every event
// exactly once, in log order, and each stream in version order.
func testSubscriberAcrossRestart(t *testing.T, s eventstore.Store) {
	const (
		writers      = 8
		streams      = 1000
		total        = 20000
		restartAfter = 6000
	)
	ctx := testContext(t)
	prefix := newStream(t, "sub")
	start := head(t, s)

	// Writers: writer w owns streams w, w+8, ... and appends batches of 1 to 4 events round-robin
	// over them, at exact versions it tracks, until it has written its share.
	var wg sync.WaitGroup
	werrs := make(chan error, writers)
	acked := make([][]uuid.UUID, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var own []int
			for i := w; i < streams; i += writers {
				own = append(own, i)
			}
			versions := make([]int64, len(own))
			share := total / writers
			for n, i := 0, 0; n < share; i++ {
				k := i % len(own)
				batch := min(1+i%4, share-n)
				events := newEvents("contract.sub.v1", batch)
				stream := fmt.Sprintf("%s-%04d", prefix, own[k])
				res, err := s.Append(ctx, stream, eventstore.Exact(versions[k]), events...)
				if err != nil {
					werrs <- fmt.Errorf("writer %d: Append(%s, %d) = %w", w, stream, versions[k], err)
					return
				}
				versions[k] = res.Version
				for _, e := range events {
					acked[w] = append(acked[w], e.ID)
				}
				n += batch
			}
		}()
	}

	var (
		seen       = make(map[uuid.UUID]bool, total)
		versions   = make(map[string]int64, streams)
		order      []eventstore.Record
		checkpoint = start
		lastPos    eventstore.Position
		failure    error
	)
	// handle checks and records one batch; it is called by one subscription at a time.
	handle := func(stop func(), until int) func(context.Context, []eventstore.Record) error {
		return func(_ context.Context, recs []eventstore.Record) error {
			for _, r := range recs {
				if r.Position <= lastPos {
					failure = fmt.Errorf("position %d delivered after %d", r.Position, lastPos)
					return failure
				}
				lastPos = r.Position
				if !strings.HasPrefix(r.Stream, prefix) {
					continue
				}
				if seen[r.ID] {
					failure = fmt.Errorf("event %s (%s@%d) delivered twice", r.ID, r.Stream, r.Version)
					return failure
				}
				seen[r.ID] = true
				if r.Version != versions[r.Stream]+1 {
					failure = fmt.Errorf("%s@%d delivered after version %d", r.Stream, r.Version, versions[r.Stream])
					return failure
				}
				versions[r.Stream] = r.Version
				order = append(order, r)
			}
			checkpoint = recs[len(recs)-1].Position // saved with the batch, as a projector would
			if len(order) >= until {
				stop()
			}
			return nil
		}
	}
	subscribe := func(until int) {
		t.Helper()
		subCtx, stop := context.WithTimeout(ctx, 2*timeout)
		defer stop()
		err := s.SubscribeAll(subCtx, checkpoint, handle(stop, until))
		if failure != nil {
			t.Fatalf("subscriber: %v", failure)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("SubscribeAll(%d) = %v after %d of our events, want it stopped by the test", checkpoint, err, len(order))
		}
	}
	subscribe(restartAfter)
	firstRun := len(order)
	subscribe(total)
	wg.Wait()
	close(werrs)
	for err := range werrs {
		t.Fatal(err)
	}
	// Anything more would be a duplicate: follow the log a little longer.
	subCtx, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	if err := s.SubscribeAll(subCtx, checkpoint, handle(func() {}, total+1)); failure != nil {
		t.Fatalf("subscriber after all events: %v", failure)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SubscribeAll after all events = %v, want it to run until stopped", err)
	}
	if len(order) != total {
		t.Fatalf("subscriber saw %d events, want %d", len(order), total)
	}
	for w, ids := range acked {
		for _, id := range ids {
			if !seen[id] {
				t.Fatalf("acknowledged event %s of writer %d never delivered", id, w)
			}
		}
	}
	t.Logf("%d events: %d before the restart, %d after", total, firstRun, total-firstRun)
}

// testConditionalAppend checks AppendIf's conditions on other streams, one at a time: each case
// gives a condition stream some history, appends to a new stream under conditions on it, and
// wants the append written or refused with ErrConditionFailed (never ErrWrongVersion), with
// nothing written.
func testConditionalAppend(t *testing.T, s eventstore.Store, c eventstore.ConditionalAppender) {
	ctx := testContext(t)
	tests := []struct {
		name string
		// given appends to the condition stream and returns the condition to check.
		given  func(t *testing.T, stream string) eventstore.StreamAt
		passes bool
	}{
		{"the stream ends at the version and event", func(t *testing.T, stream string) eventstore.StreamAt {
			res := mustAppend(t, s, stream, eventstore.NoStream, newEvents("contract.fact.v1", 2)...)
			recs := readStream(t, s, stream)
			return eventstore.StreamAt{Stream: stream, Version: res.Version, Last: recs[1].ID}
		}, true},
		{"an event was appended after it", func(t *testing.T, stream string) eventstore.StreamAt {
			first := newEvent("contract.fact.v1", 1)
			mustAppend(t, s, stream, eventstore.NoStream, first)
			mustAppend(t, s, stream, eventstore.Exact(1), newEvent("contract.fact.v1", 2))
			return eventstore.StreamAt{Stream: stream, Version: 1, Last: first.ID}
		}, false},
		{"another event is at the version", func(t *testing.T, stream string) eventstore.StreamAt {
			mustAppend(t, s, stream, eventstore.NoStream, newEvent("contract.fact.v1", 1))
			return eventstore.StreamAt{Stream: stream, Version: 1, Last: uuid.New()}
		}, false},
		{"the stream is shorter", func(t *testing.T, stream string) eventstore.StreamAt {
			mustAppend(t, s, stream, eventstore.NoStream, newEvent("contract.fact.v1", 1))
			return eventstore.StreamAt{Stream: stream, Version: 2}
		}, false},
		{"no stream, and none", func(t *testing.T, stream string) eventstore.StreamAt {
			return eventstore.StreamAt{Stream: stream}
		}, true},
		{"no stream, but it exists", func(t *testing.T, stream string) eventstore.StreamAt {
			mustAppend(t, s, stream, eventstore.NoStream, newEvent("contract.fact.v1", 1))
			return eventstore.StreamAt{Stream: stream}
		}, false},
	}
	// Every case once with AppendIf and once with AppendDelayedIf, which differ only in when they
	// return.
	for _, delayed := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if delayed {
				name += ", delayed"
			}
			t.Run(name, func(t *testing.T) {
				other, stream := newStream(t, "cond"), newStream(t, "conditional")
				cond := tt.given(t, other)
				before := readStream(t, s, other)
				events := newEvents("contract.decided.v1", 2)
				appendIf := c.AppendIf
				if delayed {
					appendIf = c.AppendDelayedIf
				}
				res, err := appendIf(ctx, stream, eventstore.NoStream, []eventstore.StreamAt{cond}, events...)
				switch {
				case tt.passes && err != nil:
					t.Fatalf("AppendIf(%s, no stream, %+v) = %v, want success", stream, cond, err)
				case tt.passes:
					if res.Version != 2 {
						t.Fatalf("AppendIf(%s, no stream, %+v) = version %d, want 2", stream, cond, res.Version)
					}
					recs := readStream(t, s, stream)
					if len(recs) != 2 {
						t.Fatalf("ReadStream(%s) after AppendIf = %d events, want 2", stream, len(recs))
					}
					for i, r := range recs {
						checkRecord(t, r, stream, int64(i+1), events[i])
					}
				case !errors.Is(err, eventstore.ErrConditionFailed) || errors.Is(err, eventstore.ErrWrongVersion):
					t.Fatalf("AppendIf(%s, no stream, %+v) = %v, want ErrConditionFailed and not ErrWrongVersion", stream, cond, err)
				default:
					if recs := readStream(t, s, stream); len(recs) != 0 {
						t.Fatalf("ReadStream(%s) after a refused AppendIf = %d events, want none", stream, len(recs))
					}
				}
				if after := readStream(t, s, other); len(after) != len(before) {
					t.Fatalf("ReadStream(%s) after AppendIf = %d events, want the %d it had", other, len(after), len(before))
				}
			})
		}
	}

	t.Run("the stream's own version still decides", func(t *testing.T) {
		other, stream := newStream(t, "cond"), newStream(t, "conditional")
		fact := newEvent("contract.fact.v1", 1)
		mustAppend(t, s, other, eventstore.NoStream, fact)
		mustAppend(t, s, stream, eventstore.NoStream, newEvent("contract.decided.v1", 1))
		cond := []eventstore.StreamAt{{Stream: other, Version: 1, Last: fact.ID}}
		_, err := c.AppendIf(ctx, stream, eventstore.NoStream, cond, newEvent("contract.decided.v1", 2))
		if !errors.Is(err, eventstore.ErrWrongVersion) || errors.Is(err, eventstore.ErrConditionFailed) {
			t.Fatalf("AppendIf(%s, no stream) of an existing stream, its condition holding = %v, want ErrWrongVersion", stream, err)
		}
		if res, err := c.AppendIf(ctx, stream, eventstore.Exact(1), cond, newEvent("contract.decided.v1", 2)); err != nil || res.Version != 2 {
			t.Fatalf("AppendIf(%s, version 1) with its condition holding = %+v, %v; want version 2", stream, res, err)
		}
	})

	t.Run("every condition must hold", func(t *testing.T) {
		a, b, stream := newStream(t, "cond"), newStream(t, "cond"), newStream(t, "conditional")
		fa, fb := newEvent("contract.fact.v1", 1), newEvent("contract.fact.v1", 2)
		mustAppend(t, s, a, eventstore.NoStream, fa)
		mustAppend(t, s, b, eventstore.NoStream, fb)
		conds := []eventstore.StreamAt{{Stream: a, Version: 1, Last: fa.ID}, {Stream: b, Version: 1, Last: fa.ID}}
		if _, err := c.AppendIf(ctx, stream, eventstore.Any, conds, newEvent("contract.decided.v1", 1)); !errors.Is(err, eventstore.ErrConditionFailed) {
			t.Fatalf("AppendIf(%s) with the second of two conditions failing = %v, want ErrConditionFailed", stream, err)
		}
		conds[1].Last = fb.ID
		if _, err := c.AppendIf(ctx, stream, eventstore.Any, conds, newEvent("contract.decided.v1", 1)); err != nil {
			t.Fatalf("AppendIf(%s) with both conditions holding = %v, want success", stream, err)
		}
	})
}

// testConcurrentConditionalAppends appends many new streams at once, each under a condition on a
// shared stream, while the shared stream grows: every append whose condition names a version the
// shared stream has left is refused, and every one naming where it ends while nothing else is
// appended is written. Appends that arrive together are where a store groups statements.
func testConcurrentConditionalAppends(t *testing.T, s eventstore.Store, c eventstore.ConditionalAppender) {
	const appends = 64
	ctx := testContext(t)
	shared := newStream(t, "shared")
	old := newEvent("contract.fact.v1", 1)
	mustAppend(t, s, shared, eventstore.NoStream, old)
	current := newEvent("contract.fact.v1", 2)
	mustAppend(t, s, shared, eventstore.Exact(1), current)
	var wg sync.WaitGroup
	errs := make(chan error, appends)
	for i := range appends {
		wg.Go(func() {
			stream := newStream(t, "conditional")
			cond := eventstore.StreamAt{Stream: shared, Version: 2, Last: current.ID}
			stale := i%2 == 1
			if stale {
				cond = eventstore.StreamAt{Stream: shared, Version: 1, Last: old.ID}
			}
			_, err := c.AppendIf(ctx, stream, eventstore.NoStream, []eventstore.StreamAt{cond}, newEvent("contract.decided.v1", i))
			switch {
			case stale && !errors.Is(err, eventstore.ErrConditionFailed):
				errs <- fmt.Errorf("AppendIf(%s) on a version the shared stream left = %v, want ErrConditionFailed", stream, err)
			case !stale && err != nil:
				errs <- fmt.Errorf("AppendIf(%s) on where the shared stream ends = %v, want success", stream, err)
			case len(readStream(t, s, stream)) != map[bool]int{true: 0, false: 1}[stale]:
				errs <- fmt.Errorf("ReadStream(%s) after AppendIf (stale condition: %t) holds the wrong number of events", stream, stale)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testAppendAll checks AppendAll: every stream's events or none, each stream's expected version
// checked (ExactAfter's event included), the events one run of the log in the appends' order (a
// stream named again included); refused input; and of
// concurrent AppendAlls expecting the same version of a shared stream, exactly one written.
func testAppendAll(t *testing.T, s eventstore.Store, m eventstore.MultiAppender) {
	ctx := testContext(t)
	existing := newStream(t, "existing")
	first := newEvent("contract.fact.v1", 1)
	mustAppend(t, s, existing, eventstore.NoStream, first)
	fresh, other := newStream(t, "fresh"), newStream(t, "other")
	all := func(expected eventstore.ExpectedVersion) []eventstore.StreamAppend {
		return []eventstore.StreamAppend{
			{Stream: fresh, Expected: eventstore.NoStream, Events: newEvents("contract.placed.v1", 2)},
			{Stream: existing, Expected: expected, Events: newEvents("contract.reserved.v1", 1)},
			{Stream: other, Expected: eventstore.NoStream, Events: newEvents("contract.other.v1", 1)},
		}
	}
	for _, wrong := range []eventstore.ExpectedVersion{eventstore.Exact(2), eventstore.ExactAfter(1, uuid.New()), eventstore.NoStream} {
		_, err := m.AppendAll(ctx, all(wrong)...)
		var wv *eventstore.WrongVersionError
		if !errors.As(err, &wv) || wv.Stream != existing || wv.Actual != 1 || !errors.Is(err, eventstore.ErrWrongVersion) {
			t.Fatalf("AppendAll expecting %s of a stream at version 1 = %v, want a WrongVersionError for %s at 1", wrong, err, existing)
		}
		for _, stream := range []string{fresh, other} {
			if got := readStream(t, s, stream); len(got) != 0 {
				t.Fatalf("after a refused AppendAll, %s holds %d events, want none", stream, len(got))
			}
		}
		if got := readStream(t, s, existing); len(got) != 1 {
			t.Fatalf("after a refused AppendAll, %s holds %d events, want 1", existing, len(got))
		}
	}

	before := head(t, s)
	appends := all(eventstore.ExactAfter(1, first.ID))
	res, err := m.AppendAll(ctx, appends...)
	if err != nil || len(res) != len(appends) {
		t.Fatalf("AppendAll with every version right = %+v, %v; want %d results", res, err, len(appends))
	}
	var want []eventstore.Record
	for i, a := range appends {
		recs := readStream(t, s, a.Stream)
		last := recs[len(recs)-1]
		if res[i].Version != last.Version || res[i].Position != last.Position || last.ID != a.Events[len(a.Events)-1].ID {
			t.Fatalf("AppendAll result %d = %+v; %s ends at version %d, position %d with %s", i, res[i], a.Stream, last.Version, last.Position, last.ID)
		}
		want = append(want, recs[len(recs)-len(a.Events):]...)
	}
	got, err := eventstore.Store(s).ReadAll(ctx, before, 100)
	if err != nil {
		t.Fatalf("ReadAll after AppendAll: %v", err)
	}
	var mine []eventstore.Record
	for _, r := range got {
		if r.Stream == fresh || r.Stream == existing || r.Stream == other {
			mine = append(mine, r)
		}
	}
	if len(mine) != len(want) {
		t.Fatalf("ReadAll after AppendAll holds %d of its events, want %d", len(mine), len(want))
	}
	for i := range mine {
		if mine[i].ID != want[i].ID {
			t.Fatalf("ReadAll after AppendAll: event %d is %s, want %s (the appends' events in order)", i, mine[i].ID, want[i].ID)
		}
	}

	// A stream that appears again continues where it left: the log holds the events in the
	// appends' order, each result is its own append's.
	ia, ib := newStream(t, "interleaved-a"), newStream(t, "interleaved-b")
	placed, reserved, confirmed := newEvent("contract.placed.v1", 1), newEvent("contract.reserved.v1", 1), newEvent("contract.confirmed.v1", 1)
	res, err = m.AppendAll(ctx,
		eventstore.StreamAppend{Stream: ia, Expected: eventstore.NoStream, Events: []eventstore.EventData{placed}},
		eventstore.StreamAppend{Stream: ib, Expected: eventstore.NoStream, Events: []eventstore.EventData{reserved}},
		eventstore.StreamAppend{Stream: ia, Expected: eventstore.Any, Events: []eventstore.EventData{confirmed}})
	if err != nil || len(res) != 3 {
		t.Fatalf("AppendAll naming a stream again = %+v, %v; want 3 results", res, err)
	}
	ra, rb := readStream(t, s, ia), readStream(t, s, ib)
	if len(ra) != 2 || ra[0].ID != placed.ID || ra[1].ID != confirmed.ID || len(rb) != 1 ||
		!(ra[0].Position < rb[0].Position && rb[0].Position < ra[1].Position) ||
		res[0] != (eventstore.AppendResult{Version: 1, Position: ra[0].Position}) ||
		res[1] != (eventstore.AppendResult{Version: 1, Position: rb[0].Position}) ||
		res[2] != (eventstore.AppendResult{Version: 2, Position: ra[1].Position}) {
		t.Fatalf("AppendAll naming a stream again: results %+v, %s holds %d events, %s %d; want the events in the appends' order, each result its append's last event", res, ia, len(ra), ib, len(rb))
	}

	for _, bad := range [][]eventstore.StreamAppend{
		nil,
		{{Stream: fresh, Expected: eventstore.Exact(2), Events: newEvents("contract.x.v1", 1)}, {Stream: fresh, Expected: eventstore.Exact(2), Events: newEvents("contract.x.v1", 1)}},
		{{Stream: newStream(t, "empty"), Expected: eventstore.NoStream}, {Stream: newStream(t, "full"), Expected: eventstore.NoStream, Events: newEvents("contract.x.v1", 1)}},
	} {
		if _, err := m.AppendAll(ctx, bad...); !errors.Is(err, eventstore.ErrInvalid) {
			t.Fatalf("AppendAll(%d appends: none, a stream again not expecting any, or one without events) = %v, want ErrInvalid", len(bad), err)
		}
	}

	const racers = 16
	shared := newStream(t, "shared")
	mustAppend(t, s, shared, eventstore.NoStream, newEvent("contract.fact.v1", 1))
	var wg sync.WaitGroup
	won := make([]bool, racers)
	errs := make([]error, racers)
	own := make([]string, racers)
	for i := range racers {
		own[i] = newStream(t, "racer")
		wg.Go(func() {
			_, err := m.AppendAll(ctx,
				eventstore.StreamAppend{Stream: own[i], Expected: eventstore.NoStream, Events: newEvents("contract.placed.v1", 1)},
				eventstore.StreamAppend{Stream: shared, Expected: eventstore.Exact(1), Events: newEvents("contract.reserved.v1", 1)})
			won[i], errs[i] = err == nil, err
		})
	}
	wg.Wait()
	winners := 0
	for i := range racers {
		switch {
		case won[i]:
			winners++
			if len(readStream(t, s, own[i])) != 1 {
				t.Fatalf("racer %d won but its own stream is not written", i)
			}
		case !errors.Is(errs[i], eventstore.ErrWrongVersion):
			t.Fatalf("racer %d = %v, want success or ErrWrongVersion", i, errs[i])
		case len(readStream(t, s, own[i])) != 0:
			t.Fatalf("racer %d lost but its own stream was written", i)
		}
	}
	if winners != 1 || len(readStream(t, s, shared)) != 2 {
		t.Fatalf("%d of %d AppendAlls expecting version 1 of a shared stream won, want exactly 1", winners, racers)
	}
}

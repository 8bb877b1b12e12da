package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/eventstoretest"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

func TestContract(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
		return New(pgtest.New(t))
	})
}

func event(n int) eventstore.EventData {
	return eventstore.EventData{
		ID:   uuid.New(),
		Type: "test.happened.v1",
		Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)),
	}
}

// collector gathers what a reader delivers.
type collector struct {
	mu   sync.Mutex
	recs []eventstore.Record
}

func (c *collector) handle(_ context.Context, recs []eventstore.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, recs...)
	return nil
}

func (c *collector) ids() []uuid.UUID {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]uuid.UUID, len(c.recs))
	for i, r := range c.recs {
		ids[i] = r.ID
	}
	return ids
}

// waitFor waits until c holds n events or d passes.
func (c *collector) waitFor(n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if len(c.ids()) >= n {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// naiveSubscribe is the reader the package doc warns about: it polls for position > checkpoint and
// moves its checkpoint to the last row it saw, until ctx ends.
func naiveSubscribe(ctx context.Context, pool *pgxpool.Pool, handle func(context.Context, []eventstore.Record) error) {
	s := New(pool)
	var checkpoint int64
	for ctx.Err() == nil {
		recs, err := s.query(ctx, 0, 0, `SELECT `+recordColumns+` FROM events WHERE position > $1 ORDER BY position`, checkpoint)
		if err == nil && len(recs) > 0 {
			_ = handle(ctx, recs)
			checkpoint = int64(recs[len(recs)-1].Position)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deliveredOnceInOrder checks that a reader delivered exactly want, in this order.
func deliveredOnceInOrder(got, want []uuid.UUID) error {
	if !slices.Equal(got, want) {
		return fmt.Errorf("delivered %v, want %v", got, want)
	}
	return nil
}

// TestLateCommit: a transaction takes a lower position than a second one, which commits first and
// is read by a naive reader; when the first commits, the subscription still delivers both, once and
// in position order, while the naive reader has skipped the first for good.
func TestLateCommit(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	// A poll interval longer than the test: only wake-ups and the re-check of held-back events can
	// deliver anything.
	s := New(pool, WithPollInterval(time.Hour))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	var sub, naive collector
	subDone := make(chan error, 1)
	go func() { subDone <- s.SubscribeAll(ctx, 0, sub.handle) }()
	naiveCtx, stopNaive := context.WithCancel(ctx)
	naiveDone := make(chan struct{})
	go func() { defer close(naiveDone); naiveSubscribe(naiveCtx, pool, naive.handle) }()

	// The late transaction takes its position (its transaction id) first ...
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback(context.Background())
	late := event(1)
	lateRes, _, err := s.append(ctx, tx, "late", eventstore.NoStream, nil, []eventstore.EventData{late}, false)
	if err != nil {
		t.Fatalf("append in the late transaction: %v", err)
	}
	// ... then an append in another transaction takes a higher one and commits.
	early := event(2)
	earlyRes, err := s.Append(ctx, "early", eventstore.NoStream, early)
	if err != nil {
		t.Fatalf("append early: %v", err)
	}
	if lateRes.Position >= earlyRes.Position {
		t.Fatalf("late transaction at position %d, committed one at %d: want the late one lower", lateRes.Position, earlyRes.Position)
	}
	if !naive.waitFor(1, 10*time.Second) {
		t.Fatal("the naive reader did not read the committed event")
	}
	// The subscription has been woken by that append; it must hold the event back.
	time.Sleep(300 * time.Millisecond)
	if got := sub.ids(); len(got) != 0 {
		t.Fatalf("subscription delivered %v while a transaction with a lower position was open", got)
	}
	if h, err := s.Head(ctx); err != nil || h != 0 {
		t.Fatalf("Head() = %d, %v while the lower position is uncommitted; want 0", h, err)
	}

	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit the late transaction: %v", err)
	}
	if !sub.waitFor(2, 10*time.Second) {
		t.Fatalf("subscription delivered %v within 10 s of the late commit, want both events", sub.ids())
	}
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	stopNaive()
	<-naiveDone
	cancel()
	if err := <-subDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("SubscribeAll = %v, want context.Canceled", err)
	}

	want := []uuid.UUID{late.ID, early.ID}
	if err := deliveredOnceInOrder(sub.ids(), want); err != nil {
		t.Fatalf("subscription: %v", err)
	}
	// The same check catches the naive reader: it moved its checkpoint past the late event.
	if err := deliveredOnceInOrder(naive.ids(), want); err == nil {
		t.Fatal("the naive position > checkpoint reader passed the late-commit check; the test would not catch it")
	} else {
		t.Logf("naive reader, as expected: %v", err)
	}
}

// TestOtherDatabasesDoNotHoldTheLogBack: a transaction open in another database of the server does
// not delay the log (its id is older than the append's, so a plain xmin horizon would): not Head,
// and not a subscription, which starts with the snapshot's xmin and must look for other
// databases' transactions; it looks once, and its reads pass over that transaction from then on.
func TestOtherDatabasesDoNotHoldTheLogBack(t *testing.T) {
	t.Parallel()
	s := New(pgtest.New(t), WithPollInterval(time.Hour))
	other := pgtest.New(t)
	ctx := t.Context()
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatalf("begin in the other database: %v", err)
	}
	defer tx.Rollback(context.Background())
	var xid int64
	if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&xid); err != nil {
		t.Fatalf("take a transaction id in the other database: %v", err)
	}
	res, err := s.Append(ctx, "s", eventstore.NoStream, event(1))
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if got := int64(res.Position >> positionBits); got <= xid {
		t.Fatalf("append got transaction id %d, not after the open one %d", got, xid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := s.Head(ctx)
		if err != nil {
			t.Fatalf("Head() = %v", err)
		}
		if h == res.Position {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Head() = %d 10 s after the append at %d, while a transaction in another database is open", h, res.Position)
		}
		time.Sleep(10 * time.Millisecond)
	}
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sub collector
	done := make(chan error, 1)
	go func() { done <- s.SubscribeAll(subCtx, 0, sub.handle) }()
	if !sub.waitFor(1, 10*time.Second) {
		t.Fatalf("the subscription delivered nothing in 10 s while a transaction in another database is open")
	}
	for i := range 5 {
		if _, err := s.Append(ctx, "s", eventstore.Exact(int64(i+1)), event(i+2)); err != nil {
			t.Fatalf("append %d: %v", i+2, err)
		}
		if !sub.waitFor(i+2, 10*time.Second) {
			t.Fatalf("the subscription did not deliver event %d in 10 s while a transaction in another database is open", i+2)
		}
	}
	// Once, unless transactions of the tests running beside this one held the log back too.
	if n := s.foreignLookups.Load(); n >= 6 {
		t.Fatalf("the subscription looked for other databases' transactions %d times over 6 appends, want fewer: the open one stays foreign", n)
	}
	cancel()
	<-done
}

// TestNotifyWakesOtherProcesses: a subscription on one Store learns of appends made through another
// (as by another process) by NOTIFY, long before its poll.
func TestNotifyWakesOtherProcesses(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	reader := New(pool, WithPollInterval(time.Hour))
	writer := New(pool)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var sub collector
	done := make(chan error, 1)
	go func() { done <- reader.SubscribeAll(ctx, 0, sub.handle) }()
	for i := range 3 {
		time.Sleep(50 * time.Millisecond) // let the subscription go idle
		if _, err := writer.Append(ctx, "notified", eventstore.Exact(int64(i)), event(i)); err != nil {
			t.Fatalf("append: %v", err)
		}
		if !sub.waitFor(i+1, 10*time.Second) {
			t.Fatalf("event %d not delivered within 10 s by NOTIFY", i+1)
		}
	}
	cancel()
	<-done
}

// TestAnyAppendsRace: appends with Any to one stream never fail because of each other.
func TestAnyAppendsRace(t *testing.T) {
	t.Parallel()
	s := New(pgtest.New(t))
	ctx := t.Context()
	const writers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.Append(ctx, "hot", eventstore.Any, event(i), event(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append(Any) = %v, want success", err)
	}
	recs, err := s.ReadStream(ctx, "hot", 1, 0)
	if err != nil || len(recs) != 2*writers*each {
		t.Fatalf("ReadStream = %d events, %v; want %d", len(recs), err, 2*writers*each)
	}
	for i, r := range recs {
		if r.Version != int64(i+1) {
			t.Fatalf("event %d has version %d", i+1, r.Version)
		}
	}
}

// TestEventIDsAreGlobal: an id stored in one stream cannot be appended to another (nor again to the
// same stream at another version); nothing of such an append is written.
func TestEventIDsAreGlobal(t *testing.T) {
	t.Parallel()
	s := New(pgtest.New(t))
	ctx := t.Context()
	e := event(1)
	if _, err := s.Append(ctx, "first", eventstore.NoStream, e); err != nil {
		t.Fatalf("append: %v", err)
	}
	tests := []struct {
		stream   string
		expected eventstore.ExpectedVersion
	}{
		{"second", eventstore.NoStream},
		{"second", eventstore.Any},
		{"first", eventstore.Exact(1)},
		{"first", eventstore.Any},
	}
	for _, tt := range tests {
		_, err := s.Append(ctx, tt.stream, tt.expected, event(2), e)
		if !errors.Is(err, eventstore.ErrInvalid) {
			t.Fatalf("Append(%s, %s) of an id stored in first@1 = %v, want ErrInvalid", tt.stream, tt.expected, err)
		}
	}
	if _, err := s.ReadStream(ctx, "second", 1, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("ReadStream(second) = %v, want ErrStreamNotFound", err)
	}
	if recs, err := s.ReadStream(ctx, "first", 1, 0); err != nil || len(recs) != 1 {
		t.Fatalf("ReadStream(first) = %d events, %v; want 1", len(recs), err)
	}
}

// TestInputPostgresRefuses: JSON that encoding/json accepts but jsonb does not is ErrInvalid.
func TestInputPostgresRefuses(t *testing.T) {
	t.Parallel()
	s := New(pgtest.New(t))
	e := event(1)
	e.Data = json.RawMessage(`{"s":"\u0000"}`)
	if _, err := s.Append(t.Context(), "nul", eventstore.NoStream, e); !errors.Is(err, eventstore.ErrInvalid) {
		t.Fatalf("Append of data with a NUL character = %v, want ErrInvalid", err)
	}
	if _, err := s.Append(t.Context(), "nul\x00stream", eventstore.NoStream, event(2)); !errors.Is(err, eventstore.ErrInvalid) {
		t.Fatalf("Append to a stream id with a NUL character = %v, want ErrInvalid", err)
	}
}

// TestPositions: positions are the transaction id shifted, plus the index in the append.
func TestPositions(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	s := New(pool)
	ctx := t.Context()
	res, err := s.Append(ctx, "p", eventstore.NoStream, event(1), event(2), event(3))
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	recs, err := s.ReadStream(ctx, "p", 1, 0)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	base := recs[0].Position
	if base&(1<<positionBits-1) != 0 {
		t.Fatalf("first event at position %#x, want the low %d bits zero", base, positionBits)
	}
	for i, r := range recs {
		if r.Position != base+eventstore.Position(i) {
			t.Fatalf("event %d at position %#x, want %#x", i+1, r.Position, base+eventstore.Position(i))
		}
	}
	if res.Position != recs[2].Position {
		t.Fatalf("Append returned position %#x, last event at %#x", res.Position, recs[2].Position)
	}
}

// TestDecoderMatchesScan: the hand-written binary decoding of the read path gives the same records
// as pgx's Scan, with and without metadata.
func TestDecoderMatchesScan(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	s := New(pool)
	ctx := t.Context()
	withMeta := event(1)
	withMeta.Metadata = eventstore.Metadata{CorrelationID: uuid.New(), ActorRole: "USER"}.Marshal()
	if _, err := s.Append(ctx, "decode", eventstore.NoStream, withMeta, event(2)); err != nil {
		t.Fatalf("append: %v", err)
	}
	fast, err := s.ReadStream(ctx, "decode", 1, 0)
	if err != nil || len(fast) != 2 {
		t.Fatalf("ReadStream = %d records, %v", len(fast), err)
	}
	rows, err := pool.Query(ctx, `SELECT `+recordColumns+` FROM events WHERE stream_id = 'decode' ORDER BY version`)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rows.Close()
	for i := 0; rows.Next(); i++ {
		if !binaryRow(rows, false) {
			t.Fatalf("row %d is not in the binary layout the decoder reads: the read path falls back to Scan", i+1)
		}
		var slow eventstore.Record
		if err := scanRecord(rows, &slow, nil); err != nil {
			t.Fatalf("scan: %v", err)
		}
		f := fast[i]
		if !f.RecordedAt.Equal(slow.RecordedAt) || f.RecordedAt.IsZero() {
			t.Fatalf("record %d: decoded time %v, scanned %v", i+1, f.RecordedAt, slow.RecordedAt)
		}
		f.RecordedAt, slow.RecordedAt = time.Time{}, time.Time{}
		if fmt.Sprintf("%+v", f) != fmt.Sprintf("%+v", slow) {
			t.Fatalf("record %d:\ndecoded %+v\nscanned %+v", i+1, f, slow)
		}
	}
	rows.Close()
	live, err := pool.Query(ctx, readLiveSQL, 0, 10, []int64{})
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if !live.Next() || !binaryRow(live, true) {
		t.Fatalf("the subscription's rows are not in the layout the decoder reads (%v)", live.Err())
	}
	live.Close()
	if fast[0].Metadata == nil || fast[1].Metadata != nil {
		t.Fatalf("metadata %q and %q, want the first set and the second nil", fast[0].Metadata, fast[1].Metadata)
	}
}

// TestAppendCommitMode checks, inside the append's own transaction, that AppendDelayed's statement
// turns synchronous_commit off for that transaction and Append's leaves it as the session has it.
func TestAppendCommitMode(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	s := New(pool)
	ctx := t.Context()
	for _, tc := range []struct {
		delayed bool
		session string
		want    string
	}{
		{delayed: true, session: "on", want: "off"},
		{delayed: false, session: "on", want: "on"},
		{delayed: false, session: "off", want: "off"},
	} {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatalf("begin: %v", err)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('synchronous_commit', $1, true)", tc.session); err != nil {
			t.Fatalf("set synchronous_commit: %v", err)
		}
		if _, _, err := s.append(ctx, tx, "mode-"+uuid.NewString(), eventstore.NoStream, nil, []eventstore.EventData{event(1)}, tc.delayed); err != nil {
			t.Fatalf("append (delayed %t): %v", tc.delayed, err)
		}
		var got string
		if err := tx.QueryRow(ctx, "SELECT current_setting('synchronous_commit')").Scan(&got); err != nil {
			t.Fatalf("read synchronous_commit: %v", err)
		}
		_ = tx.Rollback(ctx)
		if got != tc.want {
			t.Errorf("append delayed=%t with the session at %s: synchronous_commit = %s, want %s", tc.delayed, tc.session, got, tc.want)
		}
	}
}

// Package postgres is the PostgreSQL event store: one table, events, with a row per event (schema in
// infra/postgres/migrations/00100_eventstore.sql).
//
// # Expected versions
//
// UNIQUE (stream_id, version) decides. An append is one INSERT ... SELECT that reads the stream's
// current version, checks it against the expected version, and inserts the events at the versions
// that follow it. Two appends that read the same version both insert the same next version; the
// second waits for the first and fails with a unique violation, which becomes a
// *eventstore.WrongVersionError carrying the version then in the database. Only that refused path
// and the idempotent re-append path run further queries; the common path is one round trip. There
// is no table or advisory lock: appends to different streams never wait for each other.
//
// Appends that arrive while others are being written are written together, by one statement that
// checks each one's expected version and writes all or none (group commit, group.go); a group
// that is refused is written again append by append, so grouping never changes a result. A
// statement costs far more than the rows it writes, so under load this is most of the throughput.
// The group statement runs on its generic plan (genericPlanSQL): left to choose, the server would
// plan every group append again for its arguments, which costs it more than the append.
//
// # The global log and late commits
//
// An event's position is (the appending transaction's id << 20) | the event's index in its append:
// xid8 from pg_current_xact_id(), the 64-bit transaction id that never wraps, so sorting by
// position sorts by (transaction id, index), and 2^20 events per append is the limit (43 bits are
// left for the transaction id: 8.8e12 transactions).
//
// Transaction ids are handed out in increasing order but transactions commit in any order, so a
// plain "position > checkpoint" reader is wrong: it can read the events of transaction 11 while 10
// is still open, move its checkpoint past 10<<20, and never see 10's events when they commit a
// moment later. Readers of the global log (ReadAll, SubscribeAll, Head) therefore return only rows
// with position < horizon<<20, where the horizon is computed from the reading statement's own
// snapshot (pg_current_snapshot()): its xmin, the oldest transaction id still running when the
// snapshot was taken. Every transaction with a smaller id had finished by then (committed, so its
// rows are in the snapshot, or aborted, so it has none), and no transaction can be given a smaller
// id later. So the part of the log below the horizon is final: nothing can ever appear in it
// again, and a reader that has delivered everything up to position P below the horizon can
// checkpoint P and never look back. A late transaction holds the horizon at or below its own id
// until it ends, and with it every row behind it, including rows of later transactions that
// committed first; they all become visible together when it ends, in position order.
//
// Transaction ids are cluster-wide, so the plain xmin would let a long transaction in any database
// of the server hold the log back. The horizon is therefore the oldest running id of the snapshot
// (pg_snapshot_xip) that is not visibly the transaction of a backend in another database (see
// horizonSQL for why that is safe), or xmax when none is left.
//
// The price is latency, not correctness: the oldest running transaction in this database holds the
// log back, whatever tables it writes, so keep transactions short (batch long rebuilds and bulk
// loads). Stream reads (ReadStream, ReadStreamBackward) are not held back: they return every
// committed event of the stream, which is what loading an aggregate needs.
//
// # Live subscriptions
//
// SubscribeAll reads the log in batches and, once caught up, waits for a wake-up: an append by this
// Store in this process (signalled directly), a NOTIFY on the "eventstore" channel from any
// process, or a slow fallback poll. A wake-up can come before the new events are visible (an older
// transaction still holds the horizon); the read then sees committed rows beyond the horizon and
// re-reads after a short backoff instead of waiting for the next wake-up.
//
// NOTIFY is sent after the append commits, by at most one background query per Store at a time
// that covers every append committed since the previous one, not inside the append transaction: a
// transaction that notified takes a cluster-wide lock from its pre-commit until it ends, WAL flush
// included, so notifying inside every append serializes all durable appends (measured here: about
// a third of the throughput at 16 writers). A crash between commit and notify delays other
// processes by at most the poll interval. NOTIFYs are at least 10 ms apart: each is a small
// transaction of its own, and at 2 ms apart they cost durable appends roughly a tenth of their
// throughput at 16 writers (noisy measurements); an idle Store's first append is announced at once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

var (
	_ eventstore.Store               = (*Store)(nil)
	_ eventstore.DelayedAppender     = (*Store)(nil)
	_ eventstore.ConditionalAppender = (*Store)(nil)
	_ eventstore.MultiAppender       = (*Store)(nil)
)

// positionBits is the number of low position bits that number the events of one append.
const positionBits = 20

// maxAppend is the largest number of events one append can take.
const maxAppend = 1<<positionBits - 1

// notifyChannel is the LISTEN/NOTIFY channel that announces appends.
const notifyChannel = "eventstore"

// maxAnyRetries bounds the retries of an Any or StreamExists append that lost a race for the next
// version: such an append has no condition that a concurrent append could break, so it tries again.
const maxAnyRetries = 100

// Store is the PostgreSQL event store. It is safe for concurrent use. It holds no connection of its
// own: reads and appends use the pool, and each live subscription opens one dedicated connection
// for LISTEN outside the pool.
type Store struct {
	pool         *pgxpool.Pool
	pollInterval time.Duration
	batchSize    int
	notifyGap    time.Duration // the least time between two NOTIFYs of this Store

	groups         [2]appendGroup // durable and delayed appends waiting to be written (group.go)
	groupedAppends atomic.Int64   // appends written by a group statement, for tests
	foreignLookups atomic.Int64   // subscriptions' looks for other databases' transactions, for tests

	mu        sync.Mutex
	waiters   map[chan struct{}]struct{}
	notifying bool // a NOTIFY goroutine is running
	pending   bool // an append committed since that goroutine's last NOTIFY
}

// Option configures a Store.
type Option func(*Store)

// WithPollInterval sets how often a caught-up subscription reads the log when nothing woke it
// (default 1 s). It bounds the delay when a NOTIFY is lost.
func WithPollInterval(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.pollInterval = d
		}
	}
}

// WithBatchSize sets the most events a subscription reads and hands over at once (default 1000).
func WithBatchSize(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.batchSize = n
		}
	}
}

// New returns a Store on pool. The events table must exist (infra/postgres migrations).
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{
		pool:         pool,
		pollInterval: time.Second,
		batchSize:    1000,
		notifyGap:    10 * time.Millisecond,
		waiters:      make(map[chan struct{}]struct{}),
	}
	s.groups[1].delayed = true
	for _, o := range opts {
		o(s)
	}
	return s
}

// querier is what an append needs: the pool, or a transaction in tests.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// genericPlanSQL, run before a statement in the same transaction, makes the server run that
// statement on its generic plan. The group append (groupSQL) finds every stream through the same
// index probes whatever its arguments, but the server, left to choose, compares the generic plan's
// estimates (arrays of unknown length) with plans made for the arrays at hand, always finds the
// latter cheaper, and so plans every group append again, which costs it more than running it
// (README, Benchmarks). The single append (appendSQL) needs no help: the server keeps its generic
// plan after the first few calls. The setting ends with the transaction.
const genericPlanSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`

// queryGeneric runs sql with args on its generic plan: genericPlanSQL and sql go to the pool in one
// batch, one round trip and one implicit transaction. Closing the rows ends the batch.
func queryGeneric(ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) (pgx.Rows, error) {
	b := &pgx.Batch{}
	b.Queue(genericPlanSQL)
	b.Queue(sql, args...)
	br := pool.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return batchRows{Rows: rows, batch: br}, nil
}

// batchRows are the rows of a batch's last statement; closing them closes the batch.
type batchRows struct {
	pgx.Rows
	batch pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	r.batch.Close()
}

// appendSQL inserts the events at the versions after the stream's current one if that version is
// within [$2, $3] and every condition on other streams holds, and returns the version it saw,
// whether the conditions held, and the last version and position it wrote (0, 0 when a check
// failed and nothing was written).
//
// $8, when not NULL, is the transaction's synchronous_commit ('off' for AppendDelayed); the
// setting is made in cur, which the statement always evaluates, and is read at commit. $9, when
// not NULL, is the id the event at the current version must have (eventstore.ExactAfter).
// $10-$12 are the conditions of AppendIf (conditionsOf), empty for Append.
//
// Every look at another event is a scalar subquery, never an EXISTS: the planner may run an
// EXISTS under an OR as a hash of the whole events table, built again for every append, a cost
// that grows with the table, where a scalar subquery is one probe of the (stream_id, version)
// index.
const appendSQL = `
WITH cur AS (
	SELECT (SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $1) AS v,
	       NOT EXISTS (SELECT 1 FROM unnest($10::text[], $11::bigint[], $12::uuid[]) AS c(stream_id, v, last)
	                   WHERE NOT (` + condHoldsSQL + `)) AS conds,
	       CASE WHEN $8::text IS NOT NULL THEN set_config('synchronous_commit', $8::text, true) END AS commit_mode
), ins AS (
	INSERT INTO events (position, stream_id, version, id, type, data, metadata, recorded_at)
	SELECT (pg_current_xact_id()::text::bigint << 20) | (e.n - 1), $1, cur.v + e.n, e.id, e.type,
	       e.data::jsonb, nullif(e.metadata, '')::jsonb, now()
	FROM cur, unnest($4::uuid[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS e(id, type, data, metadata, n)
	WHERE cur.v BETWEEN $2 AND $3 AND cur.conds
	  AND ($9::uuid IS NULL OR (SELECT l.id FROM events l WHERE l.stream_id = $1 AND l.version = cur.v) = $9)
	RETURNING version, position
)
SELECT cur.v, cur.conds, coalesce(max(ins.version), 0), coalesce(max(ins.position), 0) FROM cur LEFT JOIN ins ON true GROUP BY cur.v, cur.conds`

// condHoldsSQL is whether the condition c (an eventstore.StreamAt: c.stream_id, c.v, c.last)
// holds: the stream ends at version c.v, with the event c.last there (any event for a NULL
// c.last). It costs one probe of the (stream_id, version) index. It is read in the statement's
// snapshot, so a condition that a concurrent append breaks after the snapshot holds: that append
// was not answered before this one started.
const condHoldsSQL = `coalesce((SELECT h.version = c.v AND (c.last IS NULL OR h.id = c.last) FROM events h
	WHERE h.stream_id = c.stream_id ORDER BY h.version DESC LIMIT 1), c.v = 0)`

// conditions are AppendIf's conditions as statement arguments: one array per field.
type conditions struct {
	streams  []string
	versions []int64
	lasts    []pgtype.UUID
}

// add appends conds to c.
func (c *conditions) add(conds []eventstore.StreamAt) {
	for _, sa := range conds {
		c.streams, c.versions = append(c.streams, sa.Stream), append(c.versions, sa.Version)
		c.lasts = append(c.lasts, pgtype.UUID{Bytes: sa.Last, Valid: sa.Last != uuid.Nil})
	}
}

// conditionsOf returns conds as statement arguments, empty arrays (not NULL) for none.
func conditionsOf(conds []eventstore.StreamAt) conditions {
	c := conditions{streams: []string{}, versions: []int64{}, lasts: []pgtype.UUID{}}
	c.add(conds)
	return c
}

// validateConditions checks conds as Validate checks events.
func validateConditions(stream string, conds []eventstore.StreamAt) error {
	for i, c := range conds {
		if c.Stream == "" || c.Version < 0 {
			return fmt.Errorf("append to %s: condition %d names no stream or a negative version: %w", stream, i, eventstore.ErrInvalid)
		}
	}
	return nil
}

// versionRange turns an expected version into the range of current versions it allows.
func versionRange(expected eventstore.ExpectedVersion) (lo, hi int64) {
	switch {
	case expected.IsNoStream():
		return 0, 0
	case expected.IsStreamExists():
		return 1, math.MaxInt64
	}
	if v, ok := expected.Version(); ok {
		return v, v
	}
	return 0, math.MaxInt64
}

// commitModeArg returns the synchronous_commit an append statement sets for its transaction: 'off'
// for a delayed append, NULL (the session's setting) for a durable one.
func commitModeArg(delayed bool) *string {
	if !delayed {
		return nil
	}
	off := "off"
	return &off
}

// lastIDArg returns the event id expected requires at its version (eventstore.ExactAfter) as a
// query argument: NULL when it requires none.
func lastIDArg(expected eventstore.ExpectedVersion) pgtype.UUID {
	id, ok := expected.LastID()
	return pgtype.UUID{Bytes: id, Valid: ok}
}

// Append writes events to stream atomically if the stream's version satisfies expected. Appending
// the same event ids again at the same expected version writes nothing and returns the version
// and position they were written at, with Existing set.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	return s.appendOne(ctx, stream, expected, nil, events, false)
}

// appendOne writes one stream's append through the group commit and announces it.
func (s *Store) appendOne(ctx context.Context, stream string, expected eventstore.ExpectedVersion, conds []eventstore.StreamAt, events []eventstore.EventData, delayed bool) (eventstore.AppendResult, error) {
	res, wrote, err := s.groupAppend(&pendingAppend{ctx: ctx, parts: []eventstore.StreamAppend{{Stream: stream, Expected: expected, Events: events}}, conds: conds}, delayed)
	if wrote {
		s.committed()
	}
	if len(res) == 0 {
		return eventstore.AppendResult{}, err
	}
	return res[0], err
}

// AppendAll writes the events of several streams in one transaction, each stream's checked
// against its expected version, all or none (eventstore.MultiAppender). It joins the group commit
// as one append; alone, it is one statement.
func (s *Store) AppendAll(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.AppendResult, error) {
	res, wrote, err := s.groupAppend(&pendingAppend{ctx: ctx, parts: appends}, false)
	if wrote {
		s.committed()
	}
	return res, err
}

// AppendIf is Append with conditions on other streams, checked by the append's statement (alone
// or in a group) in the snapshot it writes in: one round trip, as Append. A failed condition is
// an error matching eventstore.ErrConditionFailed, even for a re-append of events already stored
// (the caller that sent the same ids again looks for its earlier result itself).
func (s *Store) AppendIf(ctx context.Context, stream string, expected eventstore.ExpectedVersion, conds []eventstore.StreamAt, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	return s.appendIf(ctx, stream, expected, conds, events, false)
}

// AppendDelayedIf is AppendIf with synchronous_commit off for its transaction, as AppendDelayed.
func (s *Store) AppendDelayedIf(ctx context.Context, stream string, expected eventstore.ExpectedVersion, conds []eventstore.StreamAt, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	return s.appendIf(ctx, stream, expected, conds, events, true)
}

// appendIf is AppendIf, or AppendDelayedIf when delayed.
func (s *Store) appendIf(ctx context.Context, stream string, expected eventstore.ExpectedVersion, conds []eventstore.StreamAt, events []eventstore.EventData, delayed bool) (eventstore.AppendResult, error) {
	if err := validateConditions(stream, conds); err != nil {
		return eventstore.AppendResult{}, err
	}
	return s.appendOne(ctx, stream, expected, conds, events, delayed)
}

// AppendDelayed is Append with synchronous_commit off for its transaction: it returns once the
// commit is in the write-ahead log's buffers, without waiting for the disk. The log is written
// and flushed in order, so the commit of any later durable transaction (an Append, WaitDurable)
// makes this one durable too, and the server's WAL writer flushes it within a few
// wal_writer_delay (200 ms by default) anyway. A crash of the server in between loses it together
// with every transaction committed after it.
func (s *Store) AppendDelayed(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	return s.appendOne(ctx, stream, expected, nil, events, true)
}

// WaitDurable commits a transaction that takes a transaction id, which makes the server write a
// commit record and, as synchronous_commit is on for it, flush the log up to that record: every
// commit before it, delayed appends included, is then on disk.
func (s *Store) WaitDurable(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `SELECT set_config('synchronous_commit', 'on', true), pg_current_xact_id()`); err != nil {
		return fmt.Errorf("wait for the log to be durable: %w", err)
	}
	return nil
}

// append is AppendIf on q (Append for no conds), reporting whether it wrote anything; delayed
// turns synchronous_commit off for the append's transaction.
func (s *Store) append(ctx context.Context, q querier, stream string, expected eventstore.ExpectedVersion, conds []eventstore.StreamAt, events []eventstore.EventData, delayed bool) (eventstore.AppendResult, bool, error) {
	if err := eventstore.Validate(stream, events); err != nil {
		return eventstore.AppendResult{}, false, err
	}
	if len(events) > maxAppend {
		return eventstore.AppendResult{}, false, fmt.Errorf("append to %s: %d events, at most %d in one append: %w", stream, len(events), maxAppend, eventstore.ErrInvalid)
	}
	ids := make([]pgtype.UUID, len(events)) // binary uuids; a uuid.UUID would be sent as text
	types := make([]string, len(events))
	data := make([]string, len(events))
	meta := make([]string, len(events))
	for i, e := range events {
		ids[i] = pgtype.UUID{Bytes: e.ID, Valid: true}
		types[i], data[i], meta[i] = e.Type, string(e.Data), string(e.Metadata)
	}
	lo, hi := versionRange(expected)
	last, mode, c := lastIDArg(expected), commitModeArg(delayed), conditionsOf(conds)
	for attempt := 0; ; attempt++ {
		var current, version, position int64
		var held bool
		err := q.QueryRow(ctx, appendSQL, stream, lo, hi, ids, types, data, meta, mode, last,
			c.streams, c.versions, c.lasts).Scan(&current, &held, &version, &position)
		if err == nil && version > 0 {
			return eventstore.AppendResult{Version: version, Position: eventstore.Position(position)}, true, nil
		}
		var pgErr *pgconn.PgError
		switch {
		case err == nil && !held:
			return eventstore.AppendResult{}, false, fmt.Errorf("append to %s: %w", stream, eventstore.ErrConditionFailed)
		case err == nil:
			// The condition failed: a retry of an append that went through, or a conflict.
		case errors.As(err, &pgErr) && pgErr.Code == "23505":
			// Unique violation: a concurrent append took the next version, or an id is taken.
		case dataException(err):
			return eventstore.AppendResult{}, false, fmt.Errorf("append to %s: %w: %w", stream, eventstore.ErrInvalid, err)
		default:
			return eventstore.AppendResult{}, false, fmt.Errorf("append to %s: %w", stream, err)
		}
		res, done, err := s.resolve(ctx, q, stream, expected, events)
		if done || err != nil {
			return res, false, err
		}
		if attempt == maxAnyRetries {
			return eventstore.AppendResult{}, false, fmt.Errorf("append to %s: lost the race for the next version %d times", stream, attempt+1)
		}
	}
}

// dataException reports whether err is PostgreSQL's data exception class (22): text or JSON it
// refuses (a NUL character, say), which an append answers as eventstore.ErrInvalid.
func dataException(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22"
}

// resolve decides what a refused append means: the retry of an append already stored (a success),
// a wrong expected version, an id used elsewhere, or (done false) an unconditional append that lost
// a race and should try again.
func (s *Store) resolve(ctx context.Context, q querier, stream string, expected eventstore.ExpectedVersion, events []eventstore.EventData) (eventstore.AppendResult, bool, error) {
	ids := make([]pgtype.UUID, len(events))
	for i, e := range events {
		ids[i] = pgtype.UUID{Bytes: e.ID, Valid: true}
	}
	var current int64
	stored := make(map[uuid.UUID]storedEvent, len(events))
	rows, err := queryRows(ctx, q, `
SELECT id, stream_id, version, position FROM events WHERE id = ANY($2)
UNION ALL
SELECT NULL, NULL, coalesce(max(version), 0), 0 FROM events WHERE stream_id = $1`, stream, ids)
	if err != nil {
		return eventstore.AppendResult{}, false, fmt.Errorf("append to %s: read conflict: %w", stream, err)
	}
	for _, r := range rows {
		if r.id == nil {
			current = r.version
			continue
		}
		stored[r.id.Bytes] = storedEvent{stream: *r.stream, version: r.version, position: r.position}
	}
	if res, ok := alreadyStored(stream, expected, events, stored); ok {
		return res, true, nil
	}
	if !expected.Allows(current) {
		return eventstore.AppendResult{}, true, &eventstore.WrongVersionError{Stream: stream, Expected: expected, Actual: current}
	}
	if want, ok := expected.LastID(); ok {
		var have pgtype.UUID
		err := q.QueryRow(ctx, `SELECT id FROM events WHERE stream_id = $1 AND version = $2`, stream, current).Scan(&have)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return eventstore.AppendResult{}, false, fmt.Errorf("append to %s: read the event at version %d: %w", stream, current, err)
		}
		if !have.Valid || have.Bytes != want {
			return eventstore.AppendResult{}, true, &eventstore.WrongVersionError{Stream: stream, Expected: expected, Actual: current}
		}
	}
	for _, e := range events {
		if st, ok := stored[e.ID]; ok {
			return eventstore.AppendResult{}, true, fmt.Errorf("append to %s: event id %s is already stored in %s at version %d: %w", stream, e.ID, st.stream, st.version, eventstore.ErrInvalid)
		}
	}
	return eventstore.AppendResult{}, false, nil
}

type storedEvent struct {
	stream   string
	version  int64
	position int64
}

// alreadyStored reports whether events are stored in stream, in order, right after a version
// that expected allows: the append is a retry of one that succeeded.
func alreadyStored(stream string, expected eventstore.ExpectedVersion, events []eventstore.EventData, stored map[uuid.UUID]storedEvent) (eventstore.AppendResult, bool) {
	if len(stored) != len(events) {
		return eventstore.AppendResult{}, false
	}
	first, ok := stored[events[0].ID]
	if !ok || !expected.Allows(first.version-1) {
		return eventstore.AppendResult{}, false
	}
	var last storedEvent
	for i, e := range events {
		st, ok := stored[e.ID]
		if !ok || st.stream != stream || st.version != first.version+int64(i) {
			return eventstore.AppendResult{}, false
		}
		last = st
	}
	return eventstore.AppendResult{Version: last.version, Position: eventstore.Position(last.position), Existing: true}, true
}

type conflictRow struct {
	id       *pgtype.UUID
	stream   *string
	version  int64
	position int64
}

// queryRows runs the conflict query on q.
func queryRows(ctx context.Context, q querier, sql string, args ...any) ([]conflictRow, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (conflictRow, error) {
		var r conflictRow
		err := row.Scan(&r.id, &r.stream, &r.version, &r.position)
		return r, err
	})
}

// Head returns the position of the last event readers of the global log can see. Like ReadAll's
// horizon it is computed per statement, and may for a moment be lower than one it returned
// before: a transaction of another database that the horizon passed over holds it back again
// when it ends between the statement's snapshot and its look at pg_stat_get_activity. Callers
// that show a head keep the highest they have seen.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var p int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM events WHERE position < `+horizonSQL).Scan(&p)
	if err != nil {
		return 0, fmt.Errorf("read head of the log: %w", err)
	}
	return eventstore.Position(p), nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping event store: %w", err)
	}
	return nil
}

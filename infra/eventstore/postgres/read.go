package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// horizonSQL is the first position readers of the global log may not return yet, shifted like
// positions: the oldest transaction id that was still running when the statement's snapshot was
// taken (pg_snapshot_xip) and is not known to belong to another database, or, when there is none,
// the first id not yet handed out (pg_snapshot_xmax). As a scalar subquery it is computed once per
// statement, from that statement's snapshot.
//
// A transaction id is assigned by one backend, connected to one database for its whole life, and a
// transaction cannot write to another database's tables. So a running id that
// pg_stat_get_activity shows as the backend_xid of a backend in another database (a field every
// role can see) can be passed over; an id it does not show (the transaction has just ended, or it
// is prepared) counts, which only delays. Without this, any long transaction anywhere on the
// server, say a migration or a bulk load in another database, would hold every subscription back.
const horizonSQL = `(SELECT (coalesce(
	(SELECT min(x) FROM pg_snapshot_xip(s) x WHERE xid(x) NOT IN (` + otherDatabasesXIDsSQL + `)),
	pg_snapshot_xmax(s))::text::bigint) << 20
FROM pg_current_snapshot() s)`

// otherDatabasesXIDsSQL lists the transaction ids of the backends connected to other databases
// than this one (see horizonSQL for why a reader of the log may pass over them).
const otherDatabasesXIDsSQL = `SELECT a.backend_xid FROM pg_stat_get_activity(NULL) a
	WHERE a.backend_xid IS NOT NULL AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())`

const recordColumns = `position, stream_id, version, id, type, data, metadata, recorded_at`

// sqlLimit maps a limit of 0 or less, "no limit", to NULL, which LIMIT takes as no limit.
func sqlLimit(limit int) *int {
	if limit <= 0 {
		return nil
	}
	return &limit
}

// ReadStream returns up to limit events of stream with version >= from, oldest first; a limit of 0
// or less means all of them. It sees every committed event of the stream: stream reads are not held
// back by the log's visibility horizon.
//
// A read from a version after 1 also reads the event before from, and drops it: versions have no
// gaps, so finding it proves that the stream exists, and a read of an empty tail (the common case of
// a reader catching up from a cached version) needs no second query to tell it from a stream with no
// events. Only a read that finds nothing at all asks whether the stream exists.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.Record, error) {
	start, extra := from, 0
	if from > 1 {
		start, extra = from-1, 1
	}
	qlimit := limit
	if limit > 0 {
		qlimit = limit + extra
	}
	recs, err := s.query(ctx, qlimit, streamRoom, `SELECT `+recordColumns+` FROM events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3`,
		stream, start, sqlLimit(qlimit))
	if err != nil {
		return nil, fmt.Errorf("read stream %s from %d: %w", stream, from, err)
	}
	if len(recs) == 0 {
		return nil, s.notFound(ctx, stream)
	}
	if recs[0].Version < from {
		if recs = recs[1:]; len(recs) == 0 {
			return nil, nil
		}
	}
	return recs, nil
}

// ReadStreamBackward returns up to limit events of stream, newest first; a limit of 0 or less means
// all of them.
func (s *Store) ReadStreamBackward(ctx context.Context, stream string, limit int) ([]eventstore.Record, error) {
	q, args := `SELECT `+recordColumns+` FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT $2`, []any{stream, sqlLimit(limit)}
	if limit == 1 {
		// The usual read of a stream's last event. With LIMIT $2 PostgreSQL plans every execution
		// anew (a generic plan costs more than one planned for LIMIT 1): planning took 40 % of
		// this statement's server time in commerce bench.
		q, args = `SELECT `+recordColumns+` FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1`, args[:1]
	}
	recs, err := s.query(ctx, limit, streamRoom, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read stream %s backward: %w", stream, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("read stream %s backward: %w", stream, eventstore.ErrStreamNotFound)
	}
	return recs, nil
}

// notFound tells an empty stream (ErrStreamNotFound) from a read past a stream's end (no error).
func (s *Store) notFound(ctx context.Context, stream string) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE stream_id = $1)`, stream).Scan(&exists); err != nil {
		return fmt.Errorf("read stream %s: %w", stream, err)
	}
	if !exists {
		return fmt.Errorf("read stream %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	return nil
}

// ReadAll returns up to limit events of the global log after position from, in log order, from the
// part of the log that is final (see the package doc); a limit of 0 or less means all of them.
func (s *Store) ReadAll(ctx context.Context, from eventstore.Position, limit int) ([]eventstore.Record, error) {
	// A read of the log asks for a batch and, catching up, gets all of it: room for it at once.
	recs, err := s.query(ctx, limit, maxReadAllRoom, `SELECT `+recordColumns+` FROM events WHERE position > $1 AND position < `+horizonSQL+` ORDER BY position LIMIT $2`,
		int64(from), sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("read all from %d: %w", from, err)
	}
	return recs, nil
}

// liveHorizonSQL is the horizon of live reads, cheaper than horizonSQL and never later: the oldest
// transaction id still running when the statement's snapshot was taken, other than the ids in $3
// (ids foreignXIDsSQL found to belong to other databases: they stay foreign for as long as they
// run), or the first id not yet handed out. It looks at the snapshot's running ids only, while
// horizonSQL's look at every backend costs a millisecond or more, and live subscriptions read on
// every wake-up. With no ids in $3 it is the snapshot's xmin.
const liveHorizonSQL = `(SELECT (coalesce(
	(SELECT min(x) FROM pg_snapshot_xip(s) x WHERE NOT (x::text::bigint = ANY($3::bigint[]))),
	pg_snapshot_xmax(s))::text::bigint) << 20
FROM pg_current_snapshot() s)`

// foreignXIDsSQL returns the running transaction ids that belong to backends of other databases
// (see horizonSQL for why a reader of the log may pass over them).
const foreignXIDsSQL = `SELECT coalesce(array_agg(x::text::bigint), '{}') FROM pg_snapshot_xip(pg_current_snapshot()) x
WHERE xid(x) IN (` + otherDatabasesXIDsSQL + `)`

// readLiveSQL is ReadAll's query with the live horizon, plus the first committed row beyond the
// horizon, flagged false. One statement, so one snapshot and one horizon for both.
const readLiveSQL = `WITH h AS MATERIALIZED (SELECT ` + liveHorizonSQL + ` AS p)
(SELECT ` + recordColumns + `, true FROM events WHERE position > $1 AND position < (SELECT p FROM h) ORDER BY position LIMIT $2)
UNION ALL
(SELECT ` + recordColumns + `, false FROM events WHERE position > $1 AND position >= (SELECT p FROM h) ORDER BY position LIMIT 1)
ORDER BY 1`

// readLive is ReadAll for subscriptions, passing over the running transactions in foreign (ids of
// other databases' transactions, foreignXIDs): it also returns the position of the first committed
// event the horizon holds back (an older transaction is still running), 0 when there is none, a
// reason to look again soon rather than wait for the next wake-up. Both come from one snapshot,
// so nothing can slip between them.
func (s *Store) readLive(ctx context.Context, from eventstore.Position, limit int, foreign []int64) (recs []eventstore.Record, heldBack eventstore.Position, err error) {
	if foreign == nil {
		foreign = []int64{} // NULL would make every id foreign
	}
	rows, err := s.pool.Query(ctx, readLiveSQL, int64(from), limit, foreign)
	if err != nil {
		return nil, 0, fmt.Errorf("read all from %d: %w", from, err)
	}
	defer rows.Close()
	recs = make([]eventstore.Record, 0, min(limit, 64)) // live reads are mostly small
	var d decoder
	for rows.Next() {
		var r eventstore.Record
		var visible bool
		if err := d.decode(rows, &r, &visible); err != nil {
			return nil, 0, fmt.Errorf("read all from %d: %w", from, err)
		}
		if !visible {
			heldBack = r.Position
			break
		}
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read all from %d: %w", from, err)
	}
	return recs, heldBack, nil
}

// foreignXIDs returns the ids of the transactions of other databases running now, which live reads
// may pass over for as long as they run.
func (s *Store) foreignXIDs(ctx context.Context) ([]int64, error) {
	s.foreignLookups.Add(1)
	var ids []int64
	if err := s.pool.QueryRow(ctx, foreignXIDsSQL).Scan(&ids); err != nil {
		return nil, fmt.Errorf("find other databases' transactions: %w", err)
	}
	return ids, nil
}

// query runs a query of recordColumns that returns up to limit records, with room for limit of
// them at first but for no more than most: a stream read asks for up to a page and usually finds a
// few events (streamRoom), a read of the log usually gets the whole batch it asks for
// (maxReadAllRoom).
func (s *Store) query(ctx context.Context, limit, most int, sql string, args ...any) ([]eventstore.Record, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recs := make([]eventstore.Record, 0, min(max(limit, 0), most))
	var d decoder
	for rows.Next() {
		var r eventstore.Record
		if err := d.decode(rows, &r, nil); err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}

// streamRoom and maxReadAllRoom bound the room a stream read and a read of the log make for their
// records before they see them.
const (
	streamRoom     = 16
	maxReadAllRoom = 10_000
)

// recordOIDs are the types of recordColumns, and boolOID that of readLiveSQL's visibility flag.
var recordOIDs = [...]uint32{pgtype.Int8OID, pgtype.TextOID, pgtype.Int8OID, pgtype.UUIDOID, pgtype.TextOID, pgtype.JSONBOID, pgtype.JSONBOID, pgtype.TimestamptzOID}

// pgEpoch is where PostgreSQL's binary timestamps count from, in Unix microseconds.
const pgEpoch = 946_684_800_000_000

// decoder turns rows of recordColumns (and, with visible, a trailing bool) into Records. Reading
// the log is its hot path, so it decodes PostgreSQL's binary format itself, the format pgx asks for
// these types (text for text and jsonb), and so allocates only the record's own strings and bytes;
// a row in other formats or of other types goes through rows.Scan.
type decoder struct {
	lastType string // event types repeat: reuse the string
}

func (d *decoder) decode(rows pgx.Rows, r *eventstore.Record, visible *bool) error {
	if !binaryRow(rows, visible != nil) {
		return scanRecord(rows, r, visible)
	}
	raw := rows.RawValues()
	if len(raw[0]) != 8 || len(raw[2]) != 8 || len(raw[3]) != 16 || len(raw[7]) != 8 || (visible != nil && len(raw[8]) != 1) {
		return fmt.Errorf("decode event row: unexpected binary layout")
	}
	data, err := jsonbValue(rows.FieldDescriptions()[5].Format, raw[5])
	if err != nil {
		return err
	}
	meta, err := jsonbValue(rows.FieldDescriptions()[6].Format, raw[6])
	if err != nil {
		return err
	}
	r.Position = eventstore.Position(binary.BigEndian.Uint64(raw[0]))
	r.Stream = string(raw[1])
	r.Version = int64(binary.BigEndian.Uint64(raw[2]))
	r.ID = uuid.UUID(raw[3])
	if string(raw[4]) != d.lastType {
		d.lastType = string(raw[4])
	}
	r.Type = d.lastType
	r.Data = bytes.Clone(data)
	if meta != nil {
		r.Metadata = bytes.Clone(meta)
	}
	r.RecordedAt = time.UnixMicro(pgEpoch + int64(binary.BigEndian.Uint64(raw[7])))
	if visible != nil {
		*visible = raw[8][0] != 0
	}
	return nil
}

// jsonbValue returns the JSON text of a jsonb value in format: binary jsonb is a version byte (1)
// and the text. NULL stays nil.
func jsonbValue(format int16, raw []byte) ([]byte, error) {
	if raw == nil || format != pgtype.BinaryFormatCode {
		return raw, nil
	}
	if len(raw) < 1 || raw[0] != 1 {
		return nil, fmt.Errorf("decode event row: unknown jsonb format version")
	}
	return raw[1:], nil
}

// binaryRow reports whether the current row is recordColumns (and the flag) in the formats decode
// reads.
func binaryRow(rows pgx.Rows, flag bool) bool {
	fields := rows.FieldDescriptions()
	raw := rows.RawValues()
	want := len(recordOIDs)
	if flag {
		want++
	}
	if len(fields) != want || len(raw) != want {
		return false
	}
	for i := range want {
		oid := uint32(pgtype.BoolOID)
		if i < len(recordOIDs) {
			oid = recordOIDs[i]
		}
		// text and jsonb read the same either way (decode strips jsonb's binary version byte);
		// the others are read in binary only.
		eitherFormat := oid == pgtype.TextOID || oid == pgtype.JSONBOID
		if fields[i].DataTypeOID != oid || (fields[i].Format != pgtype.BinaryFormatCode && !eitherFormat) ||
			(raw[i] == nil && i != 6) { // metadata is the only nullable column
			return false
		}
	}
	return true
}

// scanRecord scans the recordColumns of a row into r, and the visibility flag, if asked for, into
// visible. The destinations are the types pgx decodes without detours: pgtype.UUID (a uuid.UUID
// would go through its text form) and *[]byte for JSON (a json.RawMessage would go through
// json.Unmarshal, which checks what PostgreSQL has already checked).
func scanRecord(rows pgx.Rows, r *eventstore.Record, visible *bool) error {
	var position int64
	var id pgtype.UUID
	dest := []any{&position, &r.Stream, &r.Version, &id, &r.Type, (*[]byte)(&r.Data), (*[]byte)(&r.Metadata), &r.RecordedAt}
	if visible != nil {
		dest = append(dest, visible)
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	r.Position = eventstore.Position(position)
	r.ID = id.Bytes
	return nil
}

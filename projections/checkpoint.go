package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// checkpointTable holds one row per projector (migration 00300). Every transaction that touches a
// projector's tables locks its row first, so runners, setups and a rebuild's swap take turns.
const checkpointTable = LiveSchema + ".projection_checkpoints"

// checkpointChannel is the LISTEN/NOTIFY channel of checkpoint commits; the payload is
// "<name> <position>".
const checkpointChannel = "projection_checkpoint"

// Advisory lock classes (the first key of pg_advisory_lock(int, int)); the second key is the
// projector's name hashed by lockKey.
const (
	liveLockClass    int32 = 0x70726a6c // the one active runner of a projector
	rebuildLockClass int32 = 0x70726a72 // the one rebuild of a projector
)

// errSuperseded stops a runner whose checkpoint row disappeared: a newer version of the projector
// was swapped in and dropped this version's tables.
var errSuperseded = errors.New("checkpoint row gone: a newer version replaced this projector")

// lockKey is the second advisory-lock key of a projector.
func lockKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// BaseName is name without its version suffix: "catalog" for "catalog.v2". Projectors with the same
// base name are versions of one read model; a name without a suffix is its own base name.
func BaseName(name string) string {
	i := strings.LastIndex(name, ".v")
	if i <= 0 || i+2 == len(name) {
		return name
	}
	if _, err := strconv.ParseUint(name[i+2:], 10, 32); err != nil {
		return name
	}
	return name[:i]
}

// ShadowSchema is the schema a rebuild of the projector named name builds its tables in.
func ShadowSchema(name string) string {
	var b strings.Builder
	b.WriteString("readmodel_rebuild_")
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 63 { // Postgres truncates identifiers to 63 bytes
		s = s[:63]
	}
	return s
}

// checkpointRow is a projector's row in checkpointTable.
type checkpointRow struct {
	Name          string
	Position      eventstore.Position
	Tables        []string
	UpdatedAt     time.Time
	Error         *string
	ErrorPosition *int64
	ErrorType     *string
	ErrorStream   *string
	FailingSince  *time.Time
	Retries       int
}

const checkpointColumns = `name, position, tables, updated_at, error, error_position, error_type, error_stream, failing_since, retries`

func scanCheckpoint(row pgx.Row) (checkpointRow, error) {
	var c checkpointRow
	var pos int64
	err := row.Scan(&c.Name, &pos, &c.Tables, &c.UpdatedAt, &c.Error, &c.ErrorPosition, &c.ErrorType,
		&c.ErrorStream, &c.FailingSince, &c.Retries)
	c.Position = eventstore.Position(pos)
	return c, err
}

// querier is what the checkpoint functions need of a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// loadCheckpoints reads every checkpoint row, by name.
func loadCheckpoints(ctx context.Context, q querier) (map[string]checkpointRow, error) {
	rows, err := q.Query(ctx, `SELECT `+checkpointColumns+` FROM `+checkpointTable+` ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	out := map[string]checkpointRow{}
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		out[c.Name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return out, nil
}

// lockCheckpoint locks the projector's row for the rest of tx and returns its position; ok is false
// when there is no row.
func lockCheckpoint(ctx context.Context, tx pgx.Tx, name string) (pos eventstore.Position, ok bool, err error) {
	var p int64
	err = tx.QueryRow(ctx, `SELECT position FROM `+checkpointTable+` WHERE name = $1 FOR UPDATE`, name).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("lock checkpoint %s: %w", name, err)
	}
	return eventstore.Position(p), true, nil
}

// moveCheckpoint sets the projector's position, clears its failure and notifies listeners when tx
// commits.
func moveCheckpoint(ctx context.Context, tx pgx.Tx, name string, pos eventstore.Position) error {
	_, err := tx.Exec(ctx, `WITH u AS (
	UPDATE `+checkpointTable+` SET position = $2, updated_at = now(), error = NULL, error_position = NULL,
		error_type = NULL, error_stream = NULL, failing_since = NULL, retries = 0
	WHERE name = $1 RETURNING name)
SELECT pg_notify('`+checkpointChannel+`', $1 || ' ' || $2::bigint) FROM u`, name, int64(pos))
	if err != nil {
		return fmt.Errorf("move checkpoint %s to %d: %w", name, pos, err)
	}
	return nil
}

// parseNotification reads a checkpointChannel payload.
func parseNotification(payload string) (name string, pos eventstore.Position, ok bool) {
	i := strings.LastIndexByte(payload, ' ')
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.ParseUint(payload[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return payload[:i], eventstore.Position(p), true
}

// recordFailure stores why the projector is stopped, and at which event when one is to blame.
func recordFailure(ctx context.Context, q querier, name string, cause error) error {
	var pos *int64
	var typ, stream *string
	var ee *EventError
	if errors.As(cause, &ee) {
		p := int64(ee.Record.Position)
		pos, typ, stream = &p, &ee.Record.Type, &ee.Record.Stream
	}
	_, err := q.Exec(ctx, `UPDATE `+checkpointTable+` SET error = $2, error_position = $3, error_type = $4,
	error_stream = $5, failing_since = coalesce(failing_since, now()), retries = retries + 1
WHERE name = $1`, name, cause.Error(), pos, typ, stream)
	if err != nil {
		return fmt.Errorf("record failure of %s: %w", name, err)
	}
	return nil
}

// quoteIdent quotes a Postgres identifier.
func quoteIdent(s string) string {
	return pgx.Identifier{s}.Sanitize()
}

// setSearchPath points tx's unqualified table names at schema until tx ends.
func setSearchPath(ctx context.Context, tx pgx.Tx, schema string) error {
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+quoteIdent(schema)); err != nil {
		return fmt.Errorf("set search_path to %s: %w", schema, err)
	}
	return nil
}

// startBatch prepares tx for a batch of events applied to the tables in schema: the search_path,
// and a commit that does not wait for the disk. Losing the last batches in a crash of the database
// loses their rows and their checkpoint together (one transaction, and the log is replayed in
// order), so the projector applies them again; waiting for the disk would only slow every batch,
// and hold the server-wide NOTIFY lock that moveCheckpoint takes through the wait.
func startBatch(ctx context.Context, tx pgx.Tx, schema string) error {
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+quoteIdent(schema)+"; SET LOCAL synchronous_commit TO off"); err != nil {
		return fmt.Errorf("start a batch in %s: %w", schema, err)
	}
	return nil
}

// lockBatch is lockCheckpoint and startBatch in one round trip: a live batch costs one fewer.
func lockBatch(ctx context.Context, tx pgx.Tx, name, schema string) (pos eventstore.Position, ok bool, err error) {
	var p int64
	err = tx.QueryRow(ctx, `SELECT position, set_config('search_path', $2, true), set_config('synchronous_commit', 'off', true)
FROM `+checkpointTable+` WHERE name = $1 FOR UPDATE`, name, quoteIdent(schema)).Scan(&p, nil, nil)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("lock checkpoint %s for a batch in %s: %w", name, schema, err)
	}
	return eventstore.Position(p), true, nil
}

// sortedRows returns rows ordered by name.
func sortedRows(rows map[string]checkpointRow) []checkpointRow {
	out := make([]checkpointRow, 0, len(rows))
	for _, row := range rows {
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b checkpointRow) int { return strings.Compare(a.Name, b.Name) })
	return out
}

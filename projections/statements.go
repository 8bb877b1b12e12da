package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// statement is the SQL an event, or a fold of a batch's events, turns into; a batch sends all of
// its statements in one pipelined round trip.
type statement struct {
	sql  string
	args []any
}

// planned is a statement and the record it comes from, or the first of those folded into it.
type planned struct {
	st  statement
	rec eventstore.Record
}

// sendPlanned sends the statements in one pipelined batch, in order. An error names the record
// of the failing statement with an *EventError.
func sendPlanned(ctx context.Context, tx pgx.Tx, sends []planned) error {
	if len(sends) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, p := range sends {
		b.Queue(p.st.sql, pgArgs(p.st.args)...)
	}
	br := tx.SendBatch(ctx, b)
	for _, p := range sends {
		if _, err := br.Exec(); err != nil {
			_ = br.Close() // the first error is the one to report
			return &EventError{Record: p.rec, Err: fmt.Errorf("apply %s at position %d: %w", p.rec.Type, p.rec.Position, err)}
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("close batch: %w", err)
	}
	return nil
}

// pgArgs replaces the uuid.UUID arguments of a statement by byte arrays, as pgUUIDs does.
func pgArgs(args []any) []any {
	for i, a := range args {
		if id, ok := a.(uuid.UUID); ok {
			args[i] = [16]byte(id)
		}
	}
	return args
}

// pgUUIDs returns ids as byte arrays, which pgx encodes as uuid directly (a uuid.UUID goes
// through its driver.Valuer string form, a visible cost in a rebuild).
func pgUUIDs(ids []uuid.UUID) [][16]byte {
	out := make([][16]byte, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// EventError is the error of a batch that failed at one event: Record is the event, Err why.
type EventError struct {
	Record eventstore.Record
	Err    error
}

// Error names the event and the cause.
func (e *EventError) Error() string {
	return fmt.Sprintf("event %s (%s) at position %d: %v", e.Record.ID, e.Record.Type, e.Record.Position, e.Err)
}

// Unwrap returns the cause.
func (e *EventError) Unwrap() error { return e.Err }

// ignoreUnknown is what a planner returns for a decode error: an event type its package does not
// know (a newer event this version does not project) is ignored; undecodable data stops the runner.
func ignoreUnknown(err error) (statement, bool, error) {
	if errors.Is(err, domain.ErrUnknownEvent) {
		return statement{}, false, nil
	}
	return statement{}, false, err
}

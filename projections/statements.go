package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// statement is the SQL one event turns into: the read-model projectors map each event they care
// about to a single statement (with data-modifying CTEs where an event touches two tables), so
// that applying an event is one round trip, and applying a batch is one round trip for all of it.
type statement struct {
	sql  string
	args []any
}

// planner maps a record to its statement; ok is false for events the projector ignores.
type planner func(rec eventstore.Record) (st statement, ok bool, err error)

// execOne applies one record with plan.
func execOne(ctx context.Context, tx pgx.Tx, plan planner, rec eventstore.Record) error {
	st, ok, err := plan(rec)
	if err != nil || !ok {
		return err
	}
	if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
		return fmt.Errorf("apply %s at position %d: %w", rec.Type, rec.Position, err)
	}
	return nil
}

// execBatch applies recs in order with plan, sending every statement in one pipelined batch. An
// error names the record it came from with an *EventError.
func execBatch(ctx context.Context, tx pgx.Tx, plan planner, recs []eventstore.Record) error {
	b := &pgx.Batch{}
	from := make([]int, 0, len(recs)) // from[i] is the index in recs of the i-th queued statement
	for i, rec := range recs {
		st, ok, err := plan(rec)
		if err != nil {
			return &EventError{Record: rec, Err: err}
		}
		if ok {
			b.Queue(st.sql, st.args...)
			from = append(from, i)
		}
	}
	if len(from) == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, b)
	for _, i := range from {
		if _, err := br.Exec(); err != nil {
			_ = br.Close() // the first error is the one to report
			rec := recs[i]
			return &EventError{Record: rec, Err: fmt.Errorf("apply %s at position %d: %w", rec.Type, rec.Position, err)}
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("close batch: %w", err)
	}
	return nil
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

// BatchApplier is a Projector that applies many consecutive events in one round trip. Applying a
// batch gives the same rows as applying each record in order with Apply; a failure returns an
// error wrapping an *EventError that names the record it failed at.
type BatchApplier interface {
	ApplyBatch(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error
}

// ignoreUnknown is what a planner returns for a decode error: an event type its package does not
// know (a newer event this version does not project) is ignored; undecodable data stops the runner.
func ignoreUnknown(err error) (statement, bool, error) {
	if errors.Is(err, domain.ErrUnknownEvent) {
		return statement{}, false, nil
	}
	return statement{}, false, err
}

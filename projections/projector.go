// Package projections builds the Postgres read models from the global event log. A Projector turns
// events into rows of the tables it owns; the Runner follows the log from the projector's
// checkpoint and commits the rows and the checkpoint in one transaction, so every event is applied
// exactly once across crashes and restarts.
//
// Read-model tables live in the schema "readmodel". A projector's SQL names its tables without a
// schema: the runner sets the search_path of each transaction, to "readmodel" when running live and
// to a private shadow schema while rebuilding, so the same code builds a new version beside the one
// that serves queries, and a rebuild ends by moving the shadow tables into "readmodel" in one
// transaction.
package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// LiveSchema is the schema whose tables the query side reads.
const LiveSchema = "readmodel"

// Projector applies events to the read-model tables it owns.
type Projector interface {
	// Name is the checkpoint key, with a version suffix ("catalog.v1"). Changing the suffix makes the
	// next start rebuild the projector's tables from the beginning of the log.
	Name() string
	// Tables lists the tables the projector owns, without a schema. A rebuild moves exactly these.
	Tables() []string
	// Setup creates the projector's tables and indexes if they do not exist, with unqualified names,
	// in the schema the transaction's search_path points at.
	Setup(ctx context.Context, tx pgx.Tx) error
	// Apply applies consecutive events of the log inside the runner's transaction, in as few
	// round trips as it can; a single event is a batch of one, and how the log is cut into batches
	// never changes the rows. Events the projector does not care about are ignored. A failure
	// returns an error wrapping an *EventError that names the event at fault when one is: the
	// runner commits the events before it and stops there.
	Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error
}

// Planner is implemented by projectors whose Apply is two steps: decoding the events into a Plan,
// which needs no database, and writing the Plan. A rebuild plans each batch on a goroutine of its
// own while the batch before it is written, so that decoding overlaps the database's work; running
// live, the runner plans and writes one batch after the other. Apply must be Plan followed by
// Write, so that both give the same rows.
type Planner interface {
	// Plan decodes consecutive events of the log. A failure returns an error wrapping an
	// *EventError that names the event at fault.
	Plan(recs []eventstore.Record) (Plan, error)
}

// Plan is a batch of events a Planner decoded, ready to be written.
type Plan interface {
	// Write applies the batch inside the runner's transaction, as Apply does.
	Write(ctx context.Context, tx pgx.Tx) error
}

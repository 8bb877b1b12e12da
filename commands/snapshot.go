package commands

import (
	"context"
	"encoding/json"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Snapshot is an aggregate's state saved at a stream version, so that loading reads only the
// events after it.
type Snapshot struct {
	// Stream is the stream id.
	Stream string
	// Version is the stream version the state includes (the last event folded into it).
	Version int64
	// Position is the global position of the event at Version.
	Position eventstore.Position
	// Schema is the version of the state's JSON shape; a snapshot of another schema is ignored.
	Schema int
	// State is the state as JSON.
	State json.RawMessage
}

// SnapshotStore keeps the latest snapshot of each stream per schema. infra/snapshot implements it
// on Postgres.
type SnapshotStore interface {
	// Save stores s unless a snapshot of the same stream and schema at a higher version exists.
	Save(ctx context.Context, s Snapshot) error
	// Load returns the latest snapshot of stream with the given schema, and false when there is
	// none.
	Load(ctx context.Context, stream string, schema int) (Snapshot, bool, error)
}

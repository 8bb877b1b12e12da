// Package snapshot stores the command side's aggregate snapshots in Postgres: one row per stream
// and state schema, the latest state saved (table command_snapshots, migration 00400).
package snapshot

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

var _ commands.SnapshotStore = (*Store)(nil)

// Store is a commands.SnapshotStore on Postgres.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool, whose database has the migrations applied.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Save stores s, replacing the stream's snapshot of the same schema unless that one is at a higher
// version (a slower writer never moves a snapshot back).
func (s *Store) Save(ctx context.Context, snap commands.Snapshot) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO command_snapshots (stream_id, schema_version, version, position, state)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (stream_id, schema_version) DO UPDATE
		SET version = excluded.version, position = excluded.position, state = excluded.state, saved_at = now()
		WHERE command_snapshots.version < excluded.version`,
		snap.Stream, snap.Schema, snap.Version, int64(snap.Position), []byte(snap.State))
	if err != nil {
		return fmt.Errorf("save snapshot of %s at version %d: %w", snap.Stream, snap.Version, err)
	}
	return nil
}

// Load returns the snapshot of stream with the given schema, and false when there is none.
func (s *Store) Load(ctx context.Context, stream string, schema int) (commands.Snapshot, bool, error) {
	snap := commands.Snapshot{Stream: stream, Schema: schema}
	var pos int64
	var state []byte
	err := s.pool.QueryRow(ctx, `
		SELECT version, position, state::text FROM command_snapshots
		WHERE stream_id = $1 AND schema_version = $2`, stream, schema).Scan(&snap.Version, &pos, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return commands.Snapshot{}, false, nil
	}
	if err != nil {
		return commands.Snapshot{}, false, fmt.Errorf("load snapshot of %s: %w", stream, err)
	}
	snap.Position = eventstore.Position(pos)
	snap.State = state
	return snap, true, nil
}

package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

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

// maxSnapshotSaves bounds a Repo's snapshot saves in flight; a save that finds no free slot is
// skipped, and a later load or append of the stream tries again.
const maxSnapshotSaves = 8

// snapshotTimeout bounds one background snapshot save.
const snapshotTimeout = 30 * time.Second

// fromSnapshot returns the latest usable snapshot as a loaded state, or the empty state. A snapshot
// that cannot be read is reported and ignored: the stream itself is the truth.
func (r *Repo[S, E]) fromSnapshot(ctx context.Context, stream string) loaded[S] {
	if r.opts.SnapshotEvery <= 0 {
		return loaded[S]{}
	}
	snap, ok, err := r.opts.Snapshots.Load(ctx, stream, r.opts.SnapshotSchema)
	if err != nil {
		r.obs.SnapshotFailed(stream, fmt.Errorf("load snapshot of %s: %w", stream, err))
		return loaded[S]{}
	}
	if !ok {
		return loaded[S]{}
	}
	var s S
	if err := json.Unmarshal(snap.State, &s); err != nil {
		r.obs.SnapshotFailed(stream, fmt.Errorf("decode snapshot of %s at version %d: %w", stream, snap.Version, err))
		return loaded[S]{}
	}
	return loaded[S]{state: s, version: snap.Version, position: snap.Position, snapshot: snap.Version}
}

// remember caches cur and, when the stream has grown by SnapshotEvery events since the last
// snapshot known to be saved, starts saving a snapshot of it in the background. The cache is
// updated first, so that concurrent loads find the new state instead of folding the tail and
// snapshotting it themselves, and the save never delays the caller. Saves are single-flight per
// stream: while one is in flight, others are skipped. Snapshots are best-effort: a failed save is
// reported to the Observer, and a later load or append tries again.
func (r *Repo[S, E]) remember(ctx context.Context, stream string, cur loaded[S]) {
	cur.snapshot = r.cache.put(stream, cur)
	if !r.snapshotDue(cur) {
		return
	}
	r.snapMu.Lock()
	if r.snapping[stream] {
		r.snapMu.Unlock()
		return
	}
	select {
	case r.saveSlots <- struct{}{}:
	default:
		r.snapMu.Unlock()
		return
	}
	r.snapping[stream] = true
	r.snapMu.Unlock()
	// The save outlives the command that triggered it, but keeps its context's values.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), snapshotTimeout)
	go func() {
		defer cancel()
		err := r.saveSnapshot(sctx, stream, cur)
		for err == nil {
			r.cache.snapshotSaved(stream, cur.version)
			// Loads skipped while this save was in flight: save the cached state if it is due.
			next, ok := r.cache.get(stream)
			if !ok || !r.snapshotDue(next) {
				break
			}
			cur = next
			err = r.saveSnapshot(sctx, stream, cur)
		}
		r.snapMu.Lock()
		delete(r.snapping, stream)
		<-r.saveSlots
		r.snapMu.Unlock()
		if err != nil {
			r.obs.SnapshotFailed(stream, err)
		}
	}()
}

// snapshotDue reports whether cur's stream has grown enough since its last snapshot for another:
// by SnapshotEvery events, and by the state's SnapshotCost.
func (r *Repo[S, E]) snapshotDue(cur loaded[S]) bool {
	grown := cur.version - cur.snapshot
	if r.opts.SnapshotEvery <= 0 || grown < r.opts.SnapshotEvery {
		return false
	}
	return r.agg.SnapshotCost == nil || grown >= r.agg.SnapshotCost(cur.state)
}

func (r *Repo[S, E]) saveSnapshot(ctx context.Context, stream string, cur loaded[S]) error {
	if cur.lastID != uuid.Nil {
		// Only a state the stream still has is saved (see stateCache).
		recs, err := r.store.ReadStream(ctx, stream, cur.version, 1)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return fmt.Errorf("check %s at version %d before its snapshot: %w", stream, cur.version, err)
		}
		if !cur.endsWith(recs) {
			r.cache.remove(stream)
			return fmt.Errorf("snapshot of %s at version %d not saved: the stream no longer has that state", stream, cur.version)
		}
	}
	b, err := json.Marshal(cur.state)
	if err != nil {
		return fmt.Errorf("encode snapshot of %s at version %d: %w", stream, cur.version, err)
	}
	s := Snapshot{Stream: stream, Version: cur.version, Position: cur.position, Schema: r.opts.SnapshotSchema, State: b}
	if err := r.opts.Snapshots.Save(ctx, s); err != nil {
		return fmt.Errorf("save snapshot of %s at version %d: %w", stream, cur.version, err)
	}
	return nil
}

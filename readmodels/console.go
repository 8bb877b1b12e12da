package readmodels

import (
	"context"
	"fmt"
	"time"
)

// ListReviews lists every review, newest first: the operators' console browses the review
// streams through it.
func (r *Reader) ListReviews(ctx context.Context, page Page) (List[Review], error) {
	return list(ctx, r.db, "reviews", &query{}, "readmodel.reviews", reviewColumns, "created_at DESC, id DESC", page, scanReview)
}

// RelayCheckpoint is how far a relay has published the global log.
type RelayCheckpoint struct {
	Name string
	// Position is the log position of the last event published (an eventstore.Position).
	Position  uint64
	UpdatedAt time.Time
}

// RelayCheckpoints returns the checkpoint of every relay, for the console's projections page. The
// relay keeps them in relay_checkpoints, beside the read models; positions are stored bit for bit
// in a bigint.
func (r *Reader) RelayCheckpoints(ctx context.Context) ([]RelayCheckpoint, error) {
	rows, err := r.db.Query(ctx, `SELECT name, position, updated_at FROM relay_checkpoints ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list relay checkpoints: %w", err)
	}
	defer rows.Close()
	var out []RelayCheckpoint
	for rows.Next() {
		var c RelayCheckpoint
		var pos int64
		if err := rows.Scan(&c.Name, &pos, &c.UpdatedAt); err != nil {
			return nil, fmt.Errorf("list relay checkpoints: %w", err)
		}
		c.Position, c.UpdatedAt = uint64(pos), c.UpdatedAt.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list relay checkpoints: %w", err)
	}
	return out, nil
}

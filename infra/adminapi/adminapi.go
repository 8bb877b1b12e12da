// Package adminapi adapts the projection runner to the admin routes of the HTTP API, which may not
// import projections themselves. cmd/commerce wires it; the HTTP tests use the same adapter.
package adminapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/projections"
)

// Projections serves /admin/projections from the projection runner.
type Projections struct{ Runner *projections.Runner }

// Projections lists every projector's checkpoint, lag and state.
func (a Projections) Projections(ctx context.Context) ([]httpapi.ProjectionInfo, error) {
	infos, err := a.Runner.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list projections: %w", err)
	}
	out := make([]httpapi.ProjectionInfo, len(infos))
	for i, in := range infos {
		out[i] = httpapi.ProjectionInfo{Name: in.Name, Position: in.Position, Head: in.Head, Lag: in.Lag,
			LagEvents: in.LagEvents, Status: string(in.State), Error: in.Error}
		if !in.UpdatedAt.IsZero() {
			at := in.UpdatedAt.UTC()
			out[i].UpdatedAt = &at
		}
		if p := in.Rebuild; p != nil {
			out[i].Rebuild = &httpapi.RebuildProgress{Done: p.Done, Total: p.Total, ETASeconds: p.ETA.Seconds()}
		}
	}
	return out, nil
}

// Rebuild rebuilds one projector, translating the runner's refusals into the API's.
func (a Projections) Rebuild(ctx context.Context, name string, started func()) error {
	err := a.Runner.Rebuild(ctx, name, func(projections.Progress) { started() })
	switch {
	case errors.Is(err, projections.ErrUnknownProjector):
		return fmt.Errorf("%w: %w", httpapi.ErrProjectionNotFound, err)
	case errors.Is(err, projections.ErrRebuildRunning):
		return fmt.Errorf("%w: %w", httpapi.ErrRebuildRunning, err)
	}
	return err
}
